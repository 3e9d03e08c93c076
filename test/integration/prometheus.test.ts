/**
 * The node's metrics read back through a real Prometheus server (DESIGN §4 "Observability",
 * §6 layer 2): a metrics listener from createMetrics/createMetricsServer on loopback, scraped
 * every second by /usr/bin/prometheus started by test/support/prometheus.ts. Also checks that
 * the harness leaves no Prometheus process behind, even when the process that started it dies.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, createMetricsServer, type MetricsServer, type NodeMetrics } from '../../sidecar/observability/index.ts';
import { startPrometheus, type PromSample, type RunningPrometheus } from '../support/prometheus.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let dir: string;
let metrics: NodeMetrics;
let server: MetricsServer | undefined;
let prom: RunningPrometheus | undefined;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

const valueIs = (n: number) => (v: PromSample[]) => v.length === 1 && v[0]!.value === n;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-prometheus-'));
  metrics = createMetrics({ party: 1 });
  for (const seconds of [0.02, 0.02, 0.02]) metrics.signature('k1', 'ok', seconds);
  metrics.signature('k1', 'denied');
  metrics.policyDenied('k1', 'rate');
  server = await createMetricsServer({ host: '127.0.0.1', port: 0 }, metrics);
  prom = await startPrometheus({ targets: [server.target], scrapeIntervalSeconds: 1, dir: path.join(dir, 'prom') });
});

afterAll(async () => {
  await prom?.stop();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('metrics scraped by a real Prometheus', () => {
  it('reads back the signature count with its labels and the scrape job', async () => {
    const v = await prom!.waitFor('vilna_mpc_signatures_total{outcome="ok"}');
    expect(v).toHaveLength(1);
    expect(v[0]!.value).toBe(3);
    expect(v[0]!.metric).toMatchObject({
      __name__: 'vilna_mpc_signatures_total',
      key_id: 'k1',
      outcome: 'ok',
      party: '1',
      job: 'vilna-mpc',
      instance: server!.target,
    });
    const denied = await prom!.query('vilna_mpc_signatures_total{outcome="denied"}');
    expect(denied.map((s) => s.value)).toEqual([1]);
  });

  it('reads back the policy denial and the signing latency histogram', async () => {
    const denials = await prom!.waitFor('vilna_mpc_policy_denials_total');
    expect(denials).toHaveLength(1);
    expect(denials[0]!.metric).toMatchObject({ key_id: 'k1', rule: 'rate', party: '1' });
    expect(denials[0]!.value).toBe(1);
    const latency = await prom!.waitFor('vilna_mpc_signing_latency_seconds_bucket{le="0.025"}');
    expect(latency[0]!.value).toBe(3);
    const below = await prom!.query('vilna_mpc_signing_latency_seconds_bucket{le="0.01"}');
    expect(below[0]!.value).toBe(0);
  });

  it('sees a later signature at the next scrape', async () => {
    await prom!.waitFor('vilna_mpc_signatures_total{outcome="ok"}', { until: valueIs(3) });
    metrics.signature('k1', 'ok', 0.5);
    const v = await prom!.waitFor('vilna_mpc_signatures_total{outcome="ok"}', { until: valueIs(4), timeoutMs: 10_000 });
    expect(v[0]!.value).toBe(4);
  });

  it('reports the metrics listener as a healthy target', async () => {
    await prom!.waitFor('up{job="vilna-mpc"}', { until: valueIs(1) });
    const targets = await prom!.targets();
    expect(targets).toHaveLength(1);
    expect(targets[0]).toMatchObject({ scrapeUrl: server!.url, health: 'up', lastError: '' });
  });
});

describe('the Prometheus harness', () => {
  it('stops Prometheus and leaves no process behind', async () => {
    const own = await startPrometheus({ targets: [server!.target], dir: path.join(dir, 'stop') });
    const pid = own.pid();
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid!)).toBe(true);
    await own.stop();
    expect(alive(pid!)).toBe(false);
    await expect(fetch(`${own.url}/-/ready`)).rejects.toThrow();
    await own.stop(); // idempotent
  });

  it('kills Prometheus when the process that started it is killed', async () => {
    const harness = pathToFileURL(path.join(root, 'test', 'support', 'prometheus.ts')).href;
    const script = `
      const { startPrometheus } = await import(${JSON.stringify(harness)});
      const p = await startPrometheus({ targets: ['127.0.0.1:9'], dir: ${JSON.stringify(path.join(dir, 'orphan'))} });
      console.log(JSON.stringify({ pid: p.pid() }));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const pid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no pid from child: ${err}`)), 30_000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { pid: number }).pid);
        }
      });
      child.once('exit', (code) => reject(new Error(`child exited (${code}): ${err}`)));
    });
    try {
      expect(alive(pid)).toBe(true);
      child.kill('SIGKILL'); // no exit hook runs: only the watchdog's closed pipe can stop Prometheus
      expect(await waitUntilGone(pid, 10_000)).toBe(true);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('names the package to install when the binary is missing', async () => {
    await expect(startPrometheus({ targets: [], dir: path.join(dir, 'missing'), binary: path.join(dir, 'no-such-prometheus') })).rejects.toMatchObject({
      code: 'E_PROMETHEUS_MISSING',
      message: expect.stringContaining('apt-get install -y prometheus'),
    });
  });
});
