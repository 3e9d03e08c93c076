/**
 * The harness's kubelet (DESIGN §6): there is no container runtime here, so for each party Pod of
 * one region's API server it runs the pod's one container as a local `vilna-mpc sidecar` process.
 * Like a kubelet it mounts the pod's volumes (the ConfigMap and Secrets it names, the PVC as a
 * directory that outlives the pod), gives the pod its own address (127.x.y.z, one per region, the
 * ports of the pod spec), restarts a container that exits, and reports the pod Ready only while
 * the sidecar's health check passes. The HSM is outside the pod, as in production: a SoftHSM token
 * the test provisioned, found by the label the party's configuration names.
 *
 * Test-only additions, both explicit: fixture primes (development mode, as in every e2e test) and
 * an optional test entry point with environment per pod (to start a corrupted party).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import type { ProvisionedToken } from '../../../hsm-sim/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAIN = path.join(root, 'cli', 'main.ts');
const PARTY_SELECTOR = 'app.kubernetes.io/component=party';
const SYNC_MS = 500;
const RESTART_BACKOFF_MS = 2_000;

interface Container {
  readonly podUid: string;
  readonly podName: string;
  proc: ChildProcess | undefined;
  ready: boolean;
  stopped: boolean;
  restarts: number;
  healthUrl: string;
  caPem: string;
  /** Resolves when the current process exits. */
  exited: Promise<void>;
}

/** The parts of the pod's node.yaml a kubelet rewrites (paths onto its volumes, the pod address). */
interface NodeYaml {
  party: { stateDir: string };
  hsm: { tokenLabel: string; pinFile: string };
  tls: Record<'caFile' | 'certFile' | 'keyFile', string>;
  listen: Record<string, { host: string; port: number }>;
  development?: unknown;
}

export interface KubeletOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** Where pod volumes and PVC directories live. */
  readonly dir: string;
  /** The pods' address in this region (127.x.y.z). */
  readonly podIp: string;
  /** The SoftHSM token of a party, by the token label its configuration names. */
  readonly token: (label: string) => ProvisionedToken;
  readonly primesFile: string;
  /** Test-only entry point and extra environment, per pod name. */
  readonly entry?: (podName: string) => { readonly script: string; readonly env?: Record<string, string> } | undefined;
}

export class HarnessKubelet {
  readonly #o: KubeletOptions;
  readonly #core: CoreV1Api;
  readonly #containers = new Map<string, Container>();
  #timer: NodeJS.Timeout | undefined;
  #syncing = false;
  #stopped = false;

  constructor(opts: KubeletOptions) {
    this.#o = opts;
    this.#core = opts.kubeConfig.makeApiClient(CoreV1Api);
  }

  start(): void {
    this.#timer = setInterval(() => void this.#sync(), SYNC_MS);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await Promise.all([...this.#containers.values()].map((c) => this.#kill(c, 'SIGKILL')));
  }

  /** Kills a pod's process as a crash would; like a kubelet, the next sync starts it again. */
  async crash(podName: string): Promise<void> {
    const c = this.#containers.get(podName);
    if (c?.proc) {
      const exited = c.exited;
      c.proc.kill('SIGKILL');
      await exited;
    }
  }

  restarts(podName: string): number {
    return this.#containers.get(podName)?.restarts ?? 0;
  }

  logFile(podName: string): string {
    return path.join(this.#o.dir, 'pods', podName, 'sidecar.log');
  }

  async #sync(): Promise<void> {
    if (this.#syncing || this.#stopped) return;
    this.#syncing = true;
    try {
      const pods = (await this.#core.listNamespacedPod({ namespace: this.#o.namespace, labelSelector: PARTY_SELECTOR })).items;
      const seen = new Set<string>();
      for (const pod of pods) {
        const name = pod.metadata!.name!;
        seen.add(name);
        let c = this.#containers.get(name);
        if (c && c.podUid !== pod.metadata!.uid) {
          await this.#kill(c, 'SIGTERM'); // the pod was replaced
          this.#containers.delete(name);
          c = undefined;
        }
        if (pod.metadata?.deletionTimestamp) {
          if (c) await this.#kill(c, 'SIGTERM');
          await this.#core.deleteNamespacedPod({ name, namespace: this.#o.namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
          this.#containers.delete(name);
          continue;
        }
        if (!c) {
          c = await this.#run(pod);
          this.#containers.set(name, c);
        } else if (!c.proc && !c.stopped) {
          await this.#launch(c, pod);
        }
        const healthy = c.proc !== undefined && (await this.#healthy(c));
        if (healthy !== c.ready || !pod.status?.conditions?.some((x) => x.type === 'Ready')) {
          await this.#report(pod, healthy).then(() => (c!.ready = healthy), () => undefined);
        }
      }
      for (const [name, c] of this.#containers) {
        if (!seen.has(name)) {
          await this.#kill(c, 'SIGTERM');
          this.#containers.delete(name);
        }
      }
    } catch {
      // The API server may be down (a test stops it): try again at the next sync.
    } finally {
      this.#syncing = false;
    }
  }

  /** Mounts the pod's volumes and starts its container. */
  async #run(pod: V1Pod): Promise<Container> {
    const name = pod.metadata!.name!;
    const c: Container = { podUid: pod.metadata!.uid!, podName: name, proc: undefined, ready: false, stopped: false, restarts: -1, healthUrl: '', caPem: '', exited: Promise.resolve() };
    await this.#launch(c, pod);
    return c;
  }

  async #launch(c: Container, pod: V1Pod): Promise<void> {
    const ns = this.#o.namespace;
    const podDir = path.join(this.#o.dir, 'pods', c.podName);
    const mounts = path.join(podDir, 'mounts');
    await rm(mounts, { recursive: true, force: true });
    await mkdir(mounts, { recursive: true, mode: 0o700 });
    const container = pod.spec!.containers[0]!;
    const where = new Map<string, string>(); // mountPath → local directory
    for (const m of container.volumeMounts ?? []) {
      const vol = pod.spec!.volumes?.find((v) => v.name === m.name);
      let local: string;
      if (vol?.configMap) {
        local = path.join(mounts, m.name);
        await mkdir(local, { recursive: true });
        const cm = await this.#core.readNamespacedConfigMap({ name: vol.configMap.name!, namespace: ns });
        for (const [k, v] of Object.entries(cm.data ?? {})) await writeFile(path.join(local, k), v);
      } else if (vol?.secret) {
        local = path.join(mounts, m.name);
        await mkdir(local, { recursive: true, mode: 0o700 });
        const secret = await this.#core.readNamespacedSecret({ name: vol.secret.secretName!, namespace: ns });
        for (const [k, v] of Object.entries(secret.data ?? {})) await writeFile(path.join(local, k), Buffer.from(v, 'base64'), { mode: 0o600 });
      } else if (m.name === 'state') {
        // The StatefulSet's claim: state-<pod>. It outlives the pod, as a PVC does.
        local = path.join(this.#o.dir, 'pvc', `state-${c.podName}`);
        await mkdir(local, { recursive: true, mode: 0o700 });
      } else {
        local = path.join(mounts, m.name);
        await mkdir(local, { recursive: true });
      }
      where.set(m.mountPath, local);
    }
    const inPod = (p: string): string => {
      for (const [mountPath, local] of where) if (p === mountPath || p.startsWith(`${mountPath}/`)) return path.join(local, p.slice(mountPath.length));
      throw new Error(`${p} is on no volume of pod ${c.podName}`);
    };
    const configArg = container.args![container.args!.indexOf('--config') + 1]!;
    const cfg = parse(await readFile(inPod(configArg), 'utf8')) as NodeYaml;
    const token = this.#o.token(cfg.hsm.tokenLabel);
    cfg.party.stateDir = inPod(cfg.party.stateDir);
    cfg.hsm.pinFile = inPod(cfg.hsm.pinFile);
    for (const k of ['caFile', 'certFile', 'keyFile'] as const) cfg.tls[k] = inPod(cfg.tls[k]);
    // The pod's own address: a container listening on 0.0.0.0 listens on its pod IP.
    for (const l of Object.values(cfg.listen)) if (l.host === '0.0.0.0') l.host = this.#o.podIp;
    cfg.development = { enabled: true, primesFile: this.#o.primesFile };
    const configFile = path.join(podDir, 'node.yaml');
    await writeFile(configFile, stringify(cfg));
    c.caPem = await readFile(cfg.tls.caFile, 'utf8');
    c.healthUrl = `https://${this.#o.podIp}:${cfg.listen.api!.port}/v1/health`;

    const entry = this.#o.entry?.(c.podName);
    const args = [entry?.script ?? MAIN, 'sidecar', '--config', configFile];
    const log = createWriteStream(this.logFile(c.podName), { flags: 'a' });
    const proc = spawn(process.execPath, args, { env: { ...process.env, ...entry?.env, SOFTHSM2_CONF: token.conf }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.pipe(log, { end: false });
    proc.stderr.pipe(log, { end: false });
    c.proc = proc;
    c.restarts++;
    c.exited = new Promise((resolve) =>
      proc.once('exit', () => {
        if (c.proc === proc) c.proc = undefined;
        // A container that exits is started again after a pause (restartPolicy Always).
        c.stopped = true;
        setTimeout(() => (c.stopped = false), RESTART_BACKOFF_MS).unref();
        resolve();
      }),
    );
  }

  async #kill(c: Container, signal: NodeJS.Signals): Promise<void> {
    c.stopped = true;
    const proc = c.proc;
    if (!proc) return;
    const exited = c.exited;
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.kill(signal);
    await exited;
    clearTimeout(timer);
  }

  #healthy(c: Container): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request(c.healthUrl, { ca: c.caPem, timeout: 2_000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  /** The pod's status as a kubelet reports it (no podIP: loopback addresses are refused in EndpointSlices). */
  async #report(pod: V1Pod, ready: boolean): Promise<void> {
    const now = new Date();
    const status = ready ? 'True' : 'False';
    await this.#core.replaceNamespacedPodStatus({
      name: pod.metadata!.name!,
      namespace: this.#o.namespace,
      body: {
        ...pod,
        status: {
          phase: 'Running',
          conditions: [
            { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
            { type: 'Initialized', status: 'True', lastTransitionTime: now },
            { type: 'ContainersReady', status, lastTransitionTime: now },
            { type: 'Ready', status, lastTransitionTime: now },
          ],
        },
      },
    });
  }
}
