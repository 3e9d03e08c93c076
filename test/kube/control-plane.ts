/**
 * One "region" of the kube test layer (DESIGN §6): etcd, kube-apiserver and
 * kube-controller-manager as local processes on loopback, built from the Go module proxy
 * (scripts/kube-binaries.mjs). Flags, start-up times and pitfalls are in test/kube/NOTES.md:
 * the endpoint reconciler is off (loopback addresses are invalid in Endpoints), the service
 * account key is SEC1, RBAC is on so the chart's and operator's permissions are really checked,
 * and the controller manager runs only the controllers the tests rely on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, open, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { createServer } from 'node:net';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { ensureKubeBinaries } from '../../scripts/kube-binaries.mjs';
import { createDevelopmentCa, issueCertificate, type CertificateAndKey } from '../../sidecar/transport/certificates.ts';

/** The controllers the tests need (NOTES.md §3): StatefulSets get Pods, GC, namespace deletion. */
const CONTROLLERS = [
  'serviceaccount-token-controller',
  'serviceaccount-controller',
  'root-ca-certificate-publisher-controller',
  'namespace-controller',
  'garbage-collector-controller',
  'statefulset-controller',
  'persistentvolumeclaim-protection-controller',
  'deployment-controller',
  'replicaset-controller',
];
const READY_TIMEOUT_MS = 60_000;
/** Start-ups tried on fresh ports before giving up (a port can be taken between finding and binding it). */
const START_ATTEMPTS = 3;

export interface ControlPlane {
  readonly name: string;
  /** https://127.0.0.1:port */
  readonly server: string;
  readonly dir: string;
  /** Admin kubeconfig (system:masters), certificates embedded. */
  readonly kubeconfigPath: string;
  readonly kubeconfigYaml: string;
  readonly caPem: string;
  /** A client-node KubeConfig for the admin. */
  kubeConfig(): KubeConfig;
  /** Stops kube-apiserver only (etcd and the controller manager keep running). */
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function kubeconfig(server: string, caPem: string, user: string, cert: CertificateAndKey): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'vilna', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(cert.certPem), 'client-key-data': b64(cert.keyPem) } }],
    contexts: [{ name: 'vilna', context: { cluster: 'vilna', user } }],
    'current-context': 'vilna',
  });
}

/**
 * Whether process `pid` holds the socket listening on 127.0.0.1:`port` (Linux /proc). A port
 * found free can be taken by someone else before our process binds it; then a health check on it
 * would be answered by a stranger (another region's etcd or controller manager) while ours exits.
 */
async function ownsPort(pid: number | undefined, port: number): Promise<boolean> {
  if (pid === undefined) return false;
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === '0A') inodes.add(f[9]!); // 0A: LISTEN
  }
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) return true;
  }
  return false;
}

/** GET url until our process answers 200 "ok"-ish on its own port, or it died, or the deadline passed. */
async function waitReady(what: string, url: string, proc: ChildProcess, caPem?: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const port = Number(new URL(url).port);
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}) before it was ready`);
    const ok = await new Promise<boolean>((resolve) => {
      const u = new URL(url);
      // etcd's health endpoint is plain HTTP.
      const get = u.protocol === 'https:' ? request : (httpRequest as typeof request);
      const req = get({ hostname: u.hostname, port: u.port, path: u.pathname, method: 'GET', ...(caPem ? { ca: caPem } : { rejectUnauthorized: false }), timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ok && (await ownsPort(proc.pid, port))) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${READY_TIMEOUT_MS / 1000} s${ok ? ` (port ${port} answers, but not from it)` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function run(bin: string, args: readonly string[], logFile: string): Promise<ChildProcess> {
  const log = await open(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log.fd, log.fd] });
  child.once('exit', () => void log.close());
  return child;
}

async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Starts one region's control plane under `dir`; resolves when the controller manager is healthy. */
export async function startControlPlane(opts: { name: string; dir: string }): Promise<ControlPlane> {
  const { binDir } = await ensureKubeBinaries();
  const bin = (n: string) => path.join(binDir, n);
  const dir = path.resolve(opts.dir);
  const pki = path.join(dir, 'pki');
  await mkdir(pki, { recursive: true, mode: 0o700 });

  const ca = await createDevelopmentCa({ commonName: `vilna-mpc test ${opts.name} CA` });
  const serving = await issueCertificate(ca, {
    commonName: 'kube-apiserver',
    ipAddresses: ['127.0.0.1', '10.0.0.1'],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
  });
  const admin = await issueCertificate(ca, { commonName: 'vilna-admin', organization: 'system:masters', ipAddresses: ['127.0.0.1'], dnsNames: [] });
  const kcm = await issueCertificate(ca, { commonName: 'system:kube-controller-manager', ipAddresses: ['127.0.0.1'], dnsNames: [] });
  // kube-apiserver reads EC service-account keys only in SEC1 form (NOTES.md pitfall 3).
  const sa = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'sec1' }).toString();
  const files = {
    ca: path.join(pki, 'ca.pem'),
    servingCert: path.join(pki, 'apiserver.pem'),
    servingKey: path.join(pki, 'apiserver-key.pem'),
    sa: path.join(pki, 'sa.pem'),
    kcmKubeconfig: path.join(dir, 'kcm.kubeconfig'),
    adminKubeconfig: path.join(dir, 'admin.kubeconfig'),
  };
  await writeFile(files.ca, ca.certPem);
  await writeFile(files.servingCert, serving.certPem);
  await writeFile(files.servingKey, serving.keyPem, { mode: 0o600 });
  await writeFile(files.sa, sa, { mode: 0o600 });

  // Ports are found free and bound later by the processes: someone may take one in between, and
  // then the process exits or another answers its health check (see ownsPort). Start again on
  // fresh ports, with a fresh etcd.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch();
    } catch (e) {
      if (attempt >= START_ATTEMPTS) throw e;
      await rm(path.join(dir, 'etcd'), { recursive: true, force: true });
    }
  }

  async function launch(): Promise<ControlPlane> {
    const [etcdClient, etcdPeer, apiPort, kcmPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const server = `https://127.0.0.1:${apiPort}`;
    const adminYaml = kubeconfig(server, ca.certPem, 'vilna-admin', admin);
    await writeFile(files.adminKubeconfig, adminYaml, { mode: 0o600 });
    await writeFile(files.kcmKubeconfig, kubeconfig(server, ca.certPem, 'kube-controller-manager', kcm), { mode: 0o600 });

    const etcd = await run(bin('etcd'), [
      `--name=${opts.name}`,
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=${opts.name}=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
      '--heartbeat-interval=10',
      '--election-timeout=100',
    ], path.join(dir, 'etcd.log'));
    await waitReady('etcd', `http://127.0.0.1:${etcdClient}/health`, etcd);

    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--advertise-address=127.0.0.1',
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${files.servingCert}`,
      `--tls-private-key-file=${files.servingKey}`,
      `--client-ca-file=${files.ca}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${files.sa}`,
      `--service-account-signing-key-file=${files.sa}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      '--endpoint-reconciler-type=none',
      // Priority and fairness answers 429 when a starved machine (the whole suite on two cores)
      // cannot seat a request in time; the tests want slow answers then, not refusals (NOTES.md).
      '--enable-priority-and-fairness=false',
    ];
    let apiserver: ChildProcess | undefined;
    const startApiserver = async (): Promise<void> => {
      apiserver = await run(bin('kube-apiserver'), apiserverArgs, path.join(dir, 'kube-apiserver.log'));
      await waitReady('kube-apiserver', `${server}/readyz`, apiserver, ca.certPem);
    };
    const started: ChildProcess[] = [etcd];
    try {
      await startApiserver();
      const manager = await run(bin('kube-controller-manager'), [
        `--kubeconfig=${files.kcmKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${files.sa}`,
        `--root-ca-file=${files.ca}`,
        `--controllers=${CONTROLLERS.join(',')}`,
        '--kube-api-qps=200',
        '--kube-api-burst=400',
      ], path.join(dir, 'kube-controller-manager.log'));
      started.push(manager);
      await waitReady('kube-controller-manager', `https://127.0.0.1:${kcmPort}/healthz`, manager);
      return {
        name: opts.name,
        server,
        dir,
        kubeconfigPath: files.adminKubeconfig,
        kubeconfigYaml: adminYaml,
        caPem: ca.certPem,
        kubeConfig: () => {
          const kc = new KubeConfig();
          kc.loadFromString(adminYaml);
          return kc;
        },
        stopApiserver: () => stopProcess(apiserver),
        startApiserver,
        // Controller manager, then API server, then etcd (NOTES.md pitfall 14).
        stop: async () => {
          await stopProcess(manager);
          await stopProcess(apiserver);
          await stopProcess(etcd);
        },
      };
    } catch (e) {
      await stopProcess(apiserver, 'SIGKILL');
      for (const p of started) await stopProcess(p, 'SIGKILL');
      throw e;
    }
  }
}
