/**
 * Regions for the operator's acceptance tests (DESIGN §6 layer 3): per region a real control
 * plane, the chart installed with `helm` (CRDs, then the region's MpcParty with `helm upgrade`),
 * a SoftHSM token and the Secrets its party pod mounts (PIN, TLS from one development CA), the
 * harness kubelet on the region's own 127.x.y.z address, and an operator that runs with the
 * chart's own service-account RBAC (a token from the TokenRequest API), so a missing permission
 * fails here as it would in a cluster. Other regions are reached through kubeconfig Secrets
 * holding their operators' tokens.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createHash, generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { approverPublicKeyHex } from '../../../api/index.ts';
import { CLUSTER_LABEL } from '../../../api/crd.ts';
import { provisionToken, type ProvisionedToken } from '../../../hsm-sim/index.ts';
import { startOperator, type RunningOperator } from '../../../operator/operator.ts';
import { ensureKubeBinaries } from '../../../scripts/kube-binaries.mjs';
import { createDevelopmentCa, issueCertificate, type CertificateAndKey } from '../../../sidecar/transport/index.ts';
import { startControlPlane, type ControlPlane } from '../control-plane.ts';
import { HarnessKubelet } from './kubelet.ts';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CHART = path.join(root, 'charts', 'vilna-mpc');
export const PRIMES = path.join(root, 'test', 'fixtures', 'safe-primes.json');
export const NS = 'vilna-system';
export const PEER_PORT = 8443;
export const API_PORT = 8080;

export interface PartyPlan {
  readonly name: string;
  /** Test-only entry point environment (e.g. VILNA_TEST_CORRUPT) for this party's pod. */
  readonly env?: Record<string, string>;
}

export interface Region {
  readonly name: string;
  readonly cp: ControlPlane;
  readonly podIp: string;
  readonly kubelet: HarnessKubelet;
  readonly parties: readonly PartyPlan[];
  operator: RunningOperator | undefined;
  readonly operatorKc: KubeConfig;
}

/** An operator replica as its own process (`vilna-mpc operator`), so a test can SIGKILL it. */
export interface OperatorProcess {
  readonly identity: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
}

export interface Regions {
  readonly regions: readonly Region[];
  readonly ca: CertificateAndKey;
  readonly caPem: string;
  readonly approverKeys: readonly string[];
  readonly approverPublic: readonly string[];
  readonly apiToken: string;
  region(name: string): Region;
  startOperator(region: Region): Promise<RunningOperator>;
  /** Starts a `vilna-mpc operator` process for `region` with its service account and peer certificate. */
  spawnOperator(region: Region, identity: string): OperatorProcess;
  stop(): Promise<void>;
}

async function serviceAccountKubeConfig(cp: ControlPlane, namespace: string, name: string): Promise<{ kc: KubeConfig; yaml: string }> {
  const core = cp.kubeConfig().makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { expirationSeconds: 24 * 3600 } } });
  const yaml = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: cp.server, 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') } }],
    users: [{ name: 'u', user: { token: tr.status!.token } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });
  const kc = new KubeConfig();
  kc.loadFromString(yaml);
  return { kc, yaml };
}

/**
 * Starts `layout` (region name → its parties), installs the chart in each, and starts kubelets
 * and operators. The operator of the first region coordinates (it has the others' Secrets).
 */
export async function startRegions(dir: string, layout: Record<string, readonly PartyPlan[]>, opts: { presignaturePool?: number; testEntry?: string; inProcessOperators?: (region: string) => boolean } = {}): Promise<Regions> {
  const helm = path.join((await ensureKubeBinaries()).binDir, 'helm');
  const helmEnv = { ...process.env, HELM_CACHE_HOME: path.join(dir, 'helm-cache'), HELM_CONFIG_HOME: path.join(dir, 'helm-config'), HELM_DATA_HOME: path.join(dir, 'helm-data') };
  const ca = await createDevelopmentCa({ commonName: 'vilna-mpc kube-test CA' });
  const approverKeys: string[] = [];
  for (let i = 0; i < 3; i++) approverKeys.push(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
  const approverPublic = approverKeys.map((k) => approverPublicKeyHex(k)).sort();
  const apiToken = randomBytes(32).toString('hex');
  const operatorCert = await issueCertificate(ca, { commonName: 'vilna-mpc-operator', ipAddresses: [], dnsNames: ['vilna-operator.vilna-system.svc'] });
  // One /24 of loopback per test run: regions are 127.a.b.1, .2, …
  const [a, b] = [randomInt(1, 255), randomInt(1, 255)];
  const names = Object.keys(layout);
  const tokens = new Map<string, ProvisionedToken>();

  const regions: Region[] = [];
  const started = await Promise.all(names.map((name) => startControlPlane({ name, dir: path.join(dir, name) })));
  for (const [i, name] of names.entries()) {
    const cp = started[i]!;
    const podIp = `127.${a}.${b}.${i + 1}`;
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    const parties = layout[name]!;
    const values: Record<string, unknown> = {
      region: name,
      approverSet: { keys: approverPublic, quorum: 2 },
      operator: { replicas: 1, leaseDurationSeconds: 5 },
      parties: [] as unknown[],
    };
    for (const [j, p] of parties.entries()) {
      const token = await provisionToken({ stateDir: path.join(dir, 'hsm', p.name), label: p.name });
      tokens.set(p.name, token);
      const pin = (await readFile(token.pinFile, 'utf8')).trim();
      const cert = await issueCertificate(ca, { commonName: p.name, ipAddresses: [podIp], dnsNames: [] });
      await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: `${p.name}-pin` }, stringData: { pin } } });
      await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: `${p.name}-tls` }, type: 'kubernetes.io/tls', stringData: { 'ca.crt': ca.certPem, 'tls.crt': cert.certPem, 'tls.key': cert.keyPem } } });
      if (j > 0) throw new Error('one party per region (each pod listens on the region address with the pod ports)');
      (values.parties as unknown[]).push({
        name: p.name,
        hsm: { module: token.modulePath, tokenLabel: p.name, pinSecret: { name: `${p.name}-pin` } },
        tls: { secretName: `${p.name}-tls` },
        endpoint: `https://${podIp}:${PEER_PORT}`,
        apiClients: [{ name: 'kube-test-client', tokenSha256: createHash('sha256').update(apiToken).digest('hex') }],
        presignaturePool: opts.presignaturePool ?? 2,
      });
    }
    const valuesFile = path.join(dir, `values-${name}.yaml`);
    await writeFile(valuesFile, stringify(values));
    for (const verb of ['install', 'upgrade']) {
      const args = [verb, 'vilna', CHART, '--kubeconfig', cp.kubeconfigPath, '-n', NS, '-f', valuesFile];
      await run(helm, args, { env: helmEnv, maxBuffer: 16 << 20 }).catch((e: { stderr?: string }) => {
        throw new Error(`helm ${verb} in ${name}: ${e.stderr ?? e}`);
      });
    }
    const kubelet = new HarnessKubelet({
      kubeConfig: cp.kubeConfig(),
      namespace: NS,
      dir: path.join(dir, 'kubelet', name),
      podIp,
      token: (label) => {
        const t = tokens.get(label);
        if (!t) throw new Error(`no token labelled ${label}`);
        return t;
      },
      primesFile: PRIMES,
      entry: (pod) => {
        const p = parties.find((x) => `${x.name}-0` === pod);
        return p?.env && opts.testEntry ? { script: opts.testEntry, env: p.env } : undefined;
      },
    });
    await mkdir(path.join(dir, 'kubelet', name, 'pods'), { recursive: true });
    kubelet.start();
    const { kc, yaml } = await serviceAccountKubeConfig(cp, NS, 'vilna-operator');
    await writeFile(path.join(dir, `operator-${name}.kubeconfig`), yaml, { mode: 0o600 });
    regions.push({ name, cp, podIp, kubelet, parties, operator: undefined, operatorKc: kc });
  }
  // The coordinating region reaches the others with their operators' (read) credentials.
  const [first, ...others] = regions;
  for (const r of others) {
    const { yaml } = await serviceAccountKubeConfig(r.cp, NS, 'vilna-operator');
    await first!.cp.kubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: `cluster-${r.name}`, labels: { [CLUSTER_LABEL]: r.name } }, stringData: { kubeconfig: yaml } },
    });
  }
  const start = async (r: Region): Promise<RunningOperator> => {
    r.operator = await startOperator({
      kubeConfig: r.operatorKc,
      namespace: NS,
      identity: `operator-${r.name}`,
      image: 'vilna-mpc:test',
      leaseDurationMs: 3_000,
      retryMs: 300,
      peerTls: { caPem: ca.certPem, certPem: operatorCert.certPem, keyPem: operatorCert.keyPem },
    });
    return r.operator;
  };
  const peerTlsDir = path.join(dir, 'operator-tls');
  await mkdir(peerTlsDir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(peerTlsDir, 'ca.crt'), ca.certPem);
  await writeFile(path.join(peerTlsDir, 'tls.crt'), operatorCert.certPem);
  await writeFile(path.join(peerTlsDir, 'tls.key'), operatorCert.keyPem, { mode: 0o600 });
  const processes: OperatorProcess[] = [];
  const spawnOperator = (r: Region, identity: string): OperatorProcess => {
    const args = [path.join(root, 'cli', 'main.ts'), 'operator', '--kubeconfig', path.join(dir, `operator-${r.name}.kubeconfig`), '--namespace', NS, '--identity', identity, '--image', 'vilna-mpc:test', '--lease-duration-ms', '3000', '--metrics-listen', '127.0.0.1:0', '--peer-tls-dir', peerTlsDir];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(path.join(dir, `operator-${identity}.log`), { flags: 'a' });
    proc.stdout.pipe(log);
    proc.stderr.pipe(log);
    const p = { identity, proc, exited: new Promise<void>((res) => proc.once('exit', () => res())) };
    processes.push(p);
    return p;
  };
  for (const r of regions) if (opts.inProcessOperators?.(r.name) ?? true) await start(r);
  return {
    regions,
    ca,
    caPem: ca.certPem,
    approverKeys,
    approverPublic,
    apiToken,
    region: (name) => {
      const r = regions.find((x) => x.name === name);
      if (!r) throw new Error(`no region ${name}`);
      return r;
    },
    startOperator: start,
    spawnOperator,
    stop: async () => {
      for (const p of processes) p.proc.kill('SIGKILL');
      await Promise.all(processes.map((p) => p.exited));
      await Promise.all(regions.map(async (r) => {
        await r.operator?.stop().catch(() => undefined);
        await r.kubelet.stop();
        await r.cp.stop();
      }));
    },
  };
}

const tail = async (file: string, lines: number): Promise<string> => (await readFile(file, 'utf8').catch(() => '(none)')).trimEnd().split('\n').slice(-lines).join('\n');

/** What a failing wait on a region should print: its StatefulSets, Pods, restarts and the last log lines. */
export async function describeRegion(r: Region): Promise<string> {
  const out: string[] = [`region ${r.name}:`];
  try {
    const sets = await r.cp.kubeConfig().makeApiClient(AppsV1Api).listNamespacedStatefulSet({ namespace: NS });
    out.push(`statefulsets: ${sets.items.map((x) => `${x.metadata?.name} ${x.status?.readyReplicas ?? 0}/${x.spec?.replicas}`).join(', ') || 'none'}`);
    const pods = await r.cp.kubeConfig().makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NS });
    for (const pod of pods.items) {
      const name = pod.metadata?.name ?? '?';
      out.push(`pod ${name}: ${pod.status?.phase ?? 'no phase'}, Ready ${pod.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? '-'}, started ${r.kubelet.restarts(name) + 1} time(s)`);
      out.push(await tail(r.kubelet.logFile(name), 5));
    }
  } catch (e) {
    out.push(`the API server did not answer: ${(e as Error).message}`);
  }
  out.push('kube-controller-manager log:', await tail(path.join(r.cp.dir, 'kube-controller-manager.log'), 5));
  return out.join('\n');
}

