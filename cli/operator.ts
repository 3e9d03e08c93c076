/**
 * `vilna-mpc operator` (DESIGN §5): one operator replica. In a cluster it uses its service
 * account; out of cluster (the kube tests, a developer's machine) a kubeconfig. Logs are JSON
 * lines on stderr (pino); it stops cleanly on SIGTERM/SIGINT, giving its Lease up.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { startOperator } from '../operator/operator.ts';

export interface OperatorCliOptions {
  readonly kubeconfig?: string;
  readonly namespace: string;
  readonly identity?: string;
  readonly image?: string;
  readonly metricsListen: string;
  readonly leaseDurationMs: number;
  /** Directory with ca.crt, tls.crt and tls.key: the operator's client certificate from the parties' CA. */
  readonly peerTlsDir?: string;
}

function peerTls(dir: string): { caPem: string; certPem: string; keyPem: string } {
  const read = (f: string): string => {
    try {
      return readFileSync(path.join(dir, f), 'utf8');
    } catch {
      throw new Error(`--peer-tls-dir ${dir}: cannot read ${f} (expected ca.crt, tls.crt, tls.key)`);
    }
  };
  return { caPem: read('ca.crt'), certPem: read('tls.crt'), keyPem: read('tls.key') };
}

function listenAddress(s: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new Error(`--metrics-listen ${s}: expected HOST:PORT`);
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!, port: Number(m[2]) };
}

export async function runOperator(opts: OperatorCliOptions): Promise<void> {
  const log = pino({ name: 'vilna-mpc-operator' }, pino.destination(2));
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  const op = await startOperator({
    kubeConfig: kc,
    namespace: opts.namespace,
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.image ? { image: opts.image } : {}),
    leaseDurationMs: opts.leaseDurationMs,
    retryMs: Math.max(200, Math.floor(opts.leaseDurationMs / 5)),
    metrics: listenAddress(opts.metricsListen),
    ...(opts.peerTlsDir ? { peerTls: peerTls(opts.peerTlsDir) } : {}),
    log: (level, message, data) => log[level](data ?? {}, message),
  });
  log.info({ identity: op.identity, metricsPort: op.metricsPort }, 'operator started');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await op.stop();
  log.info('operator stopped');
}
