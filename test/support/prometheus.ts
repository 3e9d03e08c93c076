/**
 * A real Prometheus server for tests (DESIGN §4 "Observability", §6): writes a prometheus.yml
 * with one job, "vilna-mpc", scraping the given host:port targets; starts the Debian
 * `/usr/bin/prometheus` on a free loopback port with its TSDB under the caller's directory;
 * waits for /-/ready; queries the HTTP API.
 *
 * No process is left behind: Prometheus runs under a small `sh` watchdog that reads its stdin,
 * a pipe from this process, and terminates Prometheus when the pipe closes, which happens on
 * `stop()` and also when this process dies in any way (even SIGKILL); `stop()` escalates to
 * SIGKILL after a grace period, and an exit hook kills whatever is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';
export const PROMETHEUS_JOB = 'vilna-mpc';

/** How long Prometheus gets to start answering /-/ready. */
const READY_TIMEOUT_MS = 30_000;
/** How long Prometheus gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** Lines of Prometheus output kept for error messages. */
const LOG_TAIL_LINES = 40;
/** Attempts at a free port: another process may take the probed port before Prometheus binds it. */
const PORT_ATTEMPTS = 3;
/** Default bound on waitFor: a scrape or two at a 1 s interval plus Prometheus's own start-up. */
const DEFAULT_WAIT_MS = 20_000;
const POLL_MS = 250;

/**
 * Starts "$1 $2…" in the background and prints its pid; a reader subshell waits for EOF (or a
 * line) on the pipe this process holds as the watchdog's stdin, saved as fd 3 because an
 * asynchronous list's stdin is /dev/null, and then terminates Prometheus. The shell itself waits
 * for Prometheus, so it also exits (and reports it) when Prometheus dies on its own.
 */
const WATCHDOG_SCRIPT = [
  'exec 3<&0',
  'bin="$1"; shift',
  '"$bin" "$@" 3<&- & child=$!',
  'echo "$child"',
  '( read -r _ <&3; kill -TERM "$child" 2>/dev/null ) & reader=$!',
  'exec 3<&-',
  'wait "$child"; status=$?',
  'kill "$reader" 2>/dev/null',
  'exit "$status"',
].join('\n');

export type PrometheusErrorCode = 'E_PROMETHEUS_MISSING' | 'E_PROMETHEUS_START' | 'E_PROMETHEUS_QUERY' | 'E_PROMETHEUS_TIMEOUT';

export class PrometheusHarnessError extends Error {
  override readonly name = 'PrometheusHarnessError';
  readonly code: PrometheusErrorCode;
  constructor(code: PrometheusErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

export interface PrometheusOptions {
  /** Scrape targets as host:port; each is scraped at /metrics over plain HTTP. */
  readonly targets: readonly string[];
  readonly scrapeIntervalSeconds?: number;
  /** Directory for prometheus.yml and the TSDB (`<dir>/data`); created if missing, owned (and removed) by the caller. */
  readonly dir: string;
  readonly binary?: string;
}

export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
  /** Unix seconds of the sample. */
  readonly timestamp: number;
}

export interface PromTarget {
  readonly scrapeUrl: string;
  readonly health: string;
  readonly lastError: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface RunningPrometheus {
  /** Base URL, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  /** Instant query; the result must be a vector. */
  query(promql: string): Promise<PromSample[]>;
  /** Polls `query(promql)` until `until` holds (default: non-empty), or throws E_PROMETHEUS_TIMEOUT with the targets' health. */
  waitFor(promql: string, opts?: { until?: (v: PromSample[]) => boolean; timeoutMs?: number }): Promise<PromSample[]>;
  /** The active scrape targets and their health. */
  targets(): Promise<PromTarget[]>;
  /** Prometheus's recent output, for failure messages. */
  logTail(): string;
  /** The Prometheus process id (not the watchdog's), for tests of the harness itself. */
  pid(): number | undefined;
  stop(): Promise<void>;
}

const queryResponse = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('vector'),
    result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) })),
  }),
});

const targetsResponse = z.object({
  status: z.literal('success'),
  data: z.object({
    activeTargets: z.array(
      z.object({ scrapeUrl: z.string(), health: z.string(), lastError: z.string(), labels: z.record(z.string(), z.string()) }),
    ),
  }),
});

const errorResponse = z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() });

/** Processes still running, killed by the exit hook if a test never reached stop(). */
const live = new Set<{ watchdog: ChildProcess; pid: number | undefined }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) {
      for (const pid of [p.pid, p.watchdog.pid]) {
        if (pid === undefined) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
}

function assertTarget(t: string): void {
  if (typeof t !== 'string' || !/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(t)) {
    throw new PrometheusHarnessError('E_PROMETHEUS_START', `target ${JSON.stringify(t)} is not host:port`);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when the child has exited (immediately if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function getJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  } catch (e) {
    throw new PrometheusHarnessError('E_PROMETHEUS_QUERY', `GET ${url}: ${(e as Error).message}`);
  }
  const body: unknown = await res.json().catch(() => undefined);
  const err = errorResponse.safeParse(body);
  if (err.success) throw new PrometheusHarnessError('E_PROMETHEUS_QUERY', `GET ${url}: ${err.data.errorType ?? 'error'}: ${err.data.error ?? ''}`);
  if (!res.ok) throw new PrometheusHarnessError('E_PROMETHEUS_QUERY', `GET ${url}: HTTP ${res.status}`);
  return body;
}

/** Starts Prometheus scraping `targets`; the caller must `stop()` it (in afterAll / finally). */
export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const binary = opts.binary ?? PROMETHEUS_BINARY;
  if (!existsSync(binary)) {
    throw new PrometheusHarnessError('E_PROMETHEUS_MISSING', `${binary} not found; install the Debian package "prometheus": sudo apt-get install -y prometheus (npm test does it when run as root)`);
  }
  const interval = opts.scrapeIntervalSeconds ?? 1;
  if (!Number.isSafeInteger(interval) || interval < 1) throw new PrometheusHarnessError('E_PROMETHEUS_START', 'scrapeIntervalSeconds must be a positive integer');
  for (const t of opts.targets) assertTarget(t);

  await mkdir(path.join(opts.dir, 'data'), { recursive: true });
  const configFile = path.join(opts.dir, 'prometheus.yml');
  const config = {
    // scrape_timeout defaults to 10 s and must not exceed the interval.
    global: { scrape_interval: `${interval}s`, scrape_timeout: `${interval}s`, evaluation_interval: `${interval}s` },
    scrape_configs: [{ job_name: PROMETHEUS_JOB, metrics_path: '/metrics', scheme: 'http', static_configs: [{ targets: [...opts.targets] }] }],
  };
  await writeFile(configFile, stringify(config));

  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    try {
      return await launch(binary, configFile, opts.dir);
    } catch (e) {
      lastError = e;
      if (!(e instanceof PrometheusHarnessError && /address already in use/.test(e.message))) throw e;
    }
  }
  throw lastError;
}

async function launch(binary: string, configFile: string, dir: string): Promise<RunningPrometheus> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ];

  installExitHook();
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'prometheus-watchdog', binary, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const entry: { watchdog: ChildProcess; pid: number | undefined } = { watchdog, pid: undefined };
  live.add(entry);
  watchdog.once('exit', () => live.delete(entry));
  // An EPIPE on a watchdog that already exited must not become an unhandled error.
  watchdog.stdin!.on('error', () => {});

  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
    }
  };
  watchdog.stderr!.on('data', keep);
  let stdoutBuf = '';
  watchdog.stdout!.on('data', (chunk: Buffer) => {
    if (entry.pid === undefined) {
      stdoutBuf += chunk.toString('utf8');
      const nl = stdoutBuf.indexOf('\n');
      if (nl >= 0) {
        entry.pid = Number(stdoutBuf.slice(0, nl));
        keep(Buffer.from(stdoutBuf.slice(nl + 1)));
      }
    } else {
      keep(chunk);
    }
  });
  const logTail = () => tail.join('\n');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      watchdog.stdin!.end();
      const gone = exited(watchdog);
      const timer = sleep(STOP_GRACE_MS).then(() => 'timeout' as const);
      if ((await Promise.race([gone.then(() => 'exited' as const), timer])) === 'timeout') {
        for (const pid of [entry.pid, watchdog.pid]) {
          if (pid === undefined) continue;
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await gone;
      }
      live.delete(entry);
    })();
    return stopping;
  };

  // Ready when /-/ready answers 200; a watchdog that exits first means Prometheus did not start.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (watchdog.exitCode !== null || watchdog.signalCode !== null) {
      await stop();
      throw new PrometheusHarnessError('E_PROMETHEUS_START', `prometheus exited before it was ready:\n${logTail()}`);
    }
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new PrometheusHarnessError('E_PROMETHEUS_START', `prometheus not ready after ${READY_TIMEOUT_MS} ms:\n${logTail()}`);
    }
    await sleep(POLL_MS);
  }

  async function query(promql: string): Promise<PromSample[]> {
    const body = await getJson(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const parsed = queryResponse.safeParse(body);
    if (!parsed.success) throw new PrometheusHarnessError('E_PROMETHEUS_QUERY', `query ${promql}: not a vector result: ${parsed.error.message}`);
    return parsed.data.data.result.map((r) => ({ metric: r.metric, timestamp: r.value[0], value: Number(r.value[1]) }));
  }

  async function targets(): Promise<PromTarget[]> {
    const parsed = targetsResponse.safeParse(await getJson(`${url}/api/v1/targets?state=active`));
    if (!parsed.success) throw new PrometheusHarnessError('E_PROMETHEUS_QUERY', `targets: unexpected response: ${parsed.error.message}`);
    return parsed.data.data.activeTargets;
  }

  async function waitFor(promql: string, o: { until?: (v: PromSample[]) => boolean; timeoutMs?: number } = {}): Promise<PromSample[]> {
    const until = o.until ?? ((v: PromSample[]) => v.length > 0);
    const end = Date.now() + (o.timeoutMs ?? DEFAULT_WAIT_MS);
    let last: PromSample[] = [];
    for (;;) {
      last = await query(promql);
      if (until(last)) return last;
      if (Date.now() > end) break;
      await sleep(POLL_MS);
    }
    const health = await targets().then(
      (ts) => ts.map((t) => `${t.scrapeUrl} ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).join('; '),
      (e: Error) => e.message,
    );
    throw new PrometheusHarnessError('E_PROMETHEUS_TIMEOUT', `${promql}: condition not met after ${o.timeoutMs ?? DEFAULT_WAIT_MS} ms; last result ${JSON.stringify(last)}; targets: ${health}`);
  }

  return { url, query, waitFor, targets, logTail, pid: () => entry.pid, stop };
}
