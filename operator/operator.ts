/**
 * The operator process (DESIGN §5): every replica takes part in leader election on a Lease; the
 * leader runs the controllers: resilient informers feed keys to keyed work queues, one per
 * controller, and a replica that stops leading stops them at once. Metrics are served by every
 * replica.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { GROUP, PLURALS, VERSION } from '../api/crd.ts';
import { ApprovalController } from './controllers/approval.ts';
import { CeremonyController } from './controllers/ceremony.ts';
import { RotationController } from './controllers/rotation.ts';
import { ClusterRegistry } from './clusters.ts';
import { EventRecorder } from './events.ts';
import { PartyResolver } from './party-resolver.ts';
import { SidecarClient, type PeerTls } from './sidecar-client.ts';
import { PartyController } from './controllers/party.ts';
import { ResilientInformer } from './informer.ts';
import { LeaderElector } from './leader-election.ts';
import { createOperatorMetrics, serveOperatorMetrics, type ControllerName, type OperatorMetrics } from './metrics.ts';
import { WorkQueue, type Outcome } from './work-queue.ts';

/** The image of party pods whose MpcParty names none (the chart passes the operator's own). */
export const DEFAULT_IMAGE = 'ghcr.io/vilna/vilna-mpc:0.1.0';

export interface OperatorOptions {
  readonly kubeConfig: KubeConfig;
  /** The operator's own namespace: its Lease and the kubeconfig Secrets of other clusters. */
  readonly namespace: string;
  readonly identity?: string;
  /** Image of the party pods (default DEFAULT_IMAGE). */
  readonly image?: string;
  readonly leaseDurationMs?: number;
  readonly retryMs?: number;
  readonly metrics?: { readonly host: string; readonly port: number };
  /**
   * Client certificate from the parties' CA: the operator reads its nodes' status and drives
   * ceremonies with it. Without one, MpcParty status carries no node facts and ceremonies wait.
   */
  readonly peerTls?: PeerTls;
  /** How long a published plan stays open for approvals (default 24 h). */
  readonly planTtlMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

export interface RunningOperator {
  readonly identity: string;
  readonly metrics: OperatorMetrics;
  readonly metricsPort: number | undefined;
  leading(): boolean;
  stop(): Promise<void>;
}

const keyOf = (o: KubernetesObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const identity = opts.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`;
  const log = opts.log ?? (() => undefined);
  const metrics = createOperatorMetrics();
  const server = opts.metrics ? await serveOperatorMetrics(metrics, opts.metrics.host, opts.metrics.port) : undefined;
  const objects = opts.kubeConfig.makeApiClient(CustomObjectsApi);

  let running: { stop(): Promise<void> } | undefined;
  /** One controller: a resilient informer on `plural` feeding a keyed work queue. */
  const controller = (plural: string, name: ControllerName, reconcile: (key: string) => Promise<Outcome>): { stop(): Promise<void> } => {
    const queue = new WorkQueue((key) => metrics.reconcile(name, () => reconcile(key)), {
      onError: (key, e, attempt) => log('warn', 'reconcile failed', { controller: name, key, attempt, error: (e as Error).message }),
    });
    const informer = new ResilientInformer<KubernetesObject>(opts.kubeConfig, {
      path: `/apis/${GROUP}/${VERSION}/${plural}`,
      list: () => objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural }) as Promise<KubernetesListObject<KubernetesObject>>,
      changed: (o) => queue.add(keyOf(o)),
      onError: (e, inMs) => log('warn', 'watch failed; restarting', { resource: plural, inMs, error: (e as Error)?.message }),
    });
    informer.start();
    return {
      stop: async () => {
        await informer.stop();
        await queue.stop();
      },
    };
  };
  const sidecars = opts.peerTls ? new SidecarClient(opts.peerTls) : undefined;
  const events = new EventRecorder(opts.kubeConfig, { onError: (e) => log('warn', 'event not recorded', { error: (e as Error)?.message }) });
  const startControllers = (): { stop(): Promise<void> } => {
    const approvals = new ApprovalController(objects);
    const parties = new PartyController(opts.kubeConfig, { defaultImage: opts.image ?? DEFAULT_IMAGE, ...(sidecars ? { sidecars } : {}) });
    const all = [controller(PLURALS.MpcApproval, 'approval', (k) => approvals.reconcile(k)), controller(PLURALS.MpcParty, 'party', (k) => parties.reconcile(k))];
    if (sidecars) {
      const resolver = new PartyResolver(new ClusterRegistry(opts.kubeConfig, opts.namespace));
      const deps = { kubeConfig: opts.kubeConfig, resolver, sidecars, events, metrics, ...(opts.planTtlMs !== undefined ? { planTtlMs: opts.planTtlMs } : {}) };
      const ceremonies = new CeremonyController(deps);
      const rotations = new RotationController(deps);
      all.push(controller(PLURALS.MpcCeremony, 'ceremony', (k) => ceremonies.reconcile(k)), controller(PLURALS.ShardRotation, 'rotation', (k) => rotations.reconcile(k)));
    } else {
      log('warn', 'no peer certificate configured: ceremonies and rotations are not driven', {});
    }
    return { stop: async () => void (await Promise.all(all.map((c) => c.stop()))) };
  };

  const elector = new LeaderElector(opts.kubeConfig, {
    namespace: opts.namespace,
    name: 'vilna-mpc-operator',
    identity,
    ...(opts.leaseDurationMs !== undefined ? { leaseDurationMs: opts.leaseDurationMs } : {}),
    ...(opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {}),
    onStartedLeading: () => {
      log('info', 'leading', { identity });
      metrics.leader(true);
      running = startControllers();
    },
    onStoppedLeading: () => {
      log('info', 'stopped leading', { identity });
      metrics.leader(false);
      const r = running;
      running = undefined;
      void r?.stop();
    },
    onError: (e) => log('warn', 'leader election', { error: (e as Error)?.message }),
  });
  elector.start();
  return {
    identity,
    metrics,
    metricsPort: server?.port,
    leading: () => elector.leading,
    stop: async () => {
      await elector.stop();
      await running?.stop();
      await server?.close();
      sidecars?.close();
    },
  };
}
