/**
 * Benchmark machinery shared by every `*.bench.ts` suite: the case type, the timing loop (median
 * of several runs within a per-case budget) and the two output formats (JSON lines, table).
 */
import { performance } from 'node:perf_hooks';

export type BenchParams = Readonly<Record<string, number | string>>;

/** How long one case may run: at least minRuns, then until timeMs has passed, at most maxRuns. */
export interface Budget {
  readonly minRuns: number;
  readonly maxRuns: number;
  readonly timeMs: number;
  /** One untimed run first (JIT, caches); off for cases whose single run takes seconds. */
  readonly warmup: boolean;
}

export const DEFAULT_BUDGET: Budget = { minRuns: 5, maxRuns: 50, timeMs: 2_500, warmup: true };

export interface BenchCase {
  /** Operation name; `--filter` matches a substring of it. */
  readonly op: string;
  /** Implementation measured: 'native', 'js', 'node', … */
  readonly backend: string;
  readonly params: BenchParams;
  readonly budget?: Partial<Budget>;
  /** For protocol rows run in one process: the party count, to report CPU time per party. */
  readonly parties?: number;
  /** Prepares inputs (untimed) and returns the operation to time. */
  setup(): (() => unknown) | Promise<() => unknown>;
}

/** A suite module's default export. */
export type BenchSuite = readonly BenchCase[];

/**
 * A suite that measures a running system as a whole (several processes, percentiles, rates)
 * rather than a repeatable call: it returns its JSON rows itself, `ms` being the median.
 */
export interface ReportSuite {
  readonly op: string;
  report(): Promise<readonly ({ op: string; backend: string; params: BenchParams; ms: number } & Record<string, unknown>)[]>;
}

export interface BenchResult {
  readonly op: string;
  readonly backend: string;
  readonly params: BenchParams;
  /** Median wall time of one run, milliseconds. */
  readonly ms: number;
  /** Median process CPU time (user + system) of one run, milliseconds. */
  readonly cpuMs: number;
  readonly parties?: number;
  readonly runs: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function measure(c: BenchCase): Promise<BenchResult> {
  const budget = { ...DEFAULT_BUDGET, ...c.budget };
  const run = await c.setup();
  if (budget.warmup) await run();
  const times: number[] = [];
  const cpu: number[] = [];
  const start = performance.now();
  while (
    times.length < budget.maxRuns &&
    (times.length < budget.minRuns || performance.now() - start < budget.timeMs)
  ) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await run();
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const round3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    op: c.op,
    backend: c.backend,
    params: c.params,
    ms: round3(median(times)),
    cpuMs: round3(median(cpu)),
    ...(c.parties ? { parties: c.parties } : {}),
    runs: times.length,
  };
}

/** One JSON object per line: { op, backend, params, ms }. */
export function jsonLine(r: BenchResult): string {
  // Protocol rows run every party in this one process: their CPU time is shared out per party.
  const perParty = r.parties ? { cpuMsPerParty: Math.round((r.cpuMs / r.parties) * 1000) / 1000 } : {};
  return JSON.stringify({ op: r.op, backend: r.backend, params: r.params, ms: r.ms, ...perParty });
}

const COLUMNS = [
  { title: 'op', width: 18 },
  { title: 'backend', width: 8 },
  { title: 'params', width: 28 },
  { title: 'median ms', width: 11 },
  { title: 'runs', width: 5 },
] as const;

export function tableHeader(): string {
  const head = COLUMNS.map((c) => c.title.padEnd(c.width)).join(' ');
  return `${head}\n${'-'.repeat(head.length)}`;
}

export function tableRow(r: BenchResult): string {
  const params = Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ');
  const cells = [r.op, r.backend, params, r.ms.toFixed(3), String(r.runs)];
  return cells.map((cell, i) => (i >= 3 ? cell.padStart(COLUMNS[i]!.width) : cell.padEnd(COLUMNS[i]!.width))).join(' ');
}
