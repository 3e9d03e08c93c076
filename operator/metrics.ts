/**
 * The operator's own metrics (issue 5: `vilna_mpc_operator_` reconciles, errors, durations,
 * ceremonies by phase), on a registry of its own. Labels come from fixed sets: the controller
 * names below and the phases of api/crd.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CEREMONY_PHASES, ROTATION_PHASES, type CeremonyPhase, type RotationPhase } from '../api/crd.ts';

export const CONTROLLERS = ['party', 'ceremony', 'rotation', 'approval'] as const;
export type ControllerName = (typeof CONTROLLERS)[number];

export interface OperatorMetrics {
  readonly registry: Registry;
  /** Times one reconcile; `outcome` is ok or error. */
  reconcile<T>(controller: ControllerName, fn: () => Promise<T>): Promise<T>;
  leader(leading: boolean): void;
  ceremonies(byPhase: Partial<Record<CeremonyPhase, number>>): void;
  rotations(byPhase: Partial<Record<RotationPhase, number>>): void;
  /** Seconds since the key of ceremony `namespace/name` was last rotated (or made). */
  rotationAge(ceremony: string, seconds: number): void;
  /** A deleted ceremony's age series goes with it. */
  forgetRotationAge(ceremony: string): void;
}

export function createOperatorMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vilna_mpc_operator_process_' });
  const reconciles = new Counter({ name: 'vilna_mpc_operator_reconciles_total', help: 'Reconciles by controller and outcome', labelNames: ['controller', 'outcome'], registers: [registry] });
  const errors = new Counter({ name: 'vilna_mpc_operator_reconcile_errors_total', help: 'Reconciles that threw, by controller', labelNames: ['controller'], registers: [registry] });
  const duration = new Histogram({ name: 'vilna_mpc_operator_reconcile_duration_seconds', help: 'Reconcile duration by controller', labelNames: ['controller'], buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 60], registers: [registry] });
  const leader = new Gauge({ name: 'vilna_mpc_operator_leader', help: '1 while this replica leads', registers: [registry] });
  const ceremonies = new Gauge({ name: 'vilna_mpc_operator_ceremonies', help: 'MpcCeremony objects by phase', labelNames: ['phase'], registers: [registry] });
  const rotations = new Gauge({ name: 'vilna_mpc_operator_rotations', help: 'ShardRotation objects by phase', labelNames: ['phase'], registers: [registry] });
  const rotationAge = new Gauge({ name: 'vilna_mpc_operator_seconds_since_rotation', help: 'Seconds since each Ready ceremony\'s key was last rotated or made', labelNames: ['ceremony'], registers: [registry] });
  for (const c of CONTROLLERS) {
    for (const o of ['ok', 'error']) reconciles.labels(c, o).inc(0);
    errors.labels(c).inc(0);
  }
  leader.set(0);
  return {
    registry,
    async reconcile(controller, fn) {
      const end = duration.labels(controller).startTimer();
      try {
        const out = await fn();
        reconciles.labels(controller, 'ok').inc();
        return out;
      } catch (e) {
        reconciles.labels(controller, 'error').inc();
        errors.labels(controller).inc();
        throw e;
      } finally {
        end();
      }
    },
    leader: (leading) => leader.set(leading ? 1 : 0),
    ceremonies: (byPhase) => {
      for (const p of CEREMONY_PHASES) ceremonies.labels(p).set(byPhase[p] ?? 0);
    },
    rotations: (byPhase) => {
      for (const p of ROTATION_PHASES) rotations.labels(p).set(byPhase[p] ?? 0);
    },
    rotationAge: (ceremony, seconds) => rotationAge.labels(ceremony).set(seconds),
    forgetRotationAge: (ceremony) => void rotationAge.remove(ceremony),
  };
}

/** Plain-HTTP /metrics (and /healthz) on host:port; resolves with the bound port. */
export async function serveOperatorMetrics(metrics: OperatorMetrics, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      void metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      });
    } else if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}
