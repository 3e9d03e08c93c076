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
import { ResilientInformer } from './informer.ts';
import { LeaderElector } from './leader-election.ts';
import { createOperatorMetrics, serveOperatorMetrics, type OperatorMetrics } from './metrics.ts';
import { WorkQueue } from './work-queue.ts';

export interface OperatorOptions {
  readonly kubeConfig: KubeConfig;
  /** The operator's own namespace: its Lease and the kubeconfig Secrets of other clusters. */
  readonly namespace: string;
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly retryMs?: number;
  readonly metrics?: { readonly host: string; readonly port: number };
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
  const startControllers = (): { stop(): Promise<void> } => {
    const approvals = new ApprovalController(objects);
    const queue = new WorkQueue((key) => metrics.reconcile('approval', () => approvals.reconcile(key)), {
      onError: (key, e, attempt) => log('warn', 'reconcile failed', { controller: 'approval', key, attempt, error: (e as Error).message }),
    });
    const informer = new ResilientInformer<KubernetesObject>(opts.kubeConfig, {
      path: `/apis/${GROUP}/${VERSION}/${PLURALS.MpcApproval}`,
      list: () => objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcApproval }) as Promise<KubernetesListObject<KubernetesObject>>,
      changed: (o) => queue.add(keyOf(o)),
      onError: (e, inMs) => log('warn', 'watch failed; restarting', { resource: PLURALS.MpcApproval, inMs, error: (e as Error)?.message }),
    });
    informer.start();
    return {
      stop: async () => {
        await informer.stop();
        await queue.stop();
      },
    };
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
    },
  };
}
