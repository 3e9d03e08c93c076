/**
 * The cggmp21 anchor (issue 11 item 3): builds the small Cargo project under bench/anchors/ (the
 * Rust reference implementation `cggmp21` from crates.io), runs it, checks what it prints and
 * sets each of its phases beside our row of the same phase measured in the same run, with the
 * ratio ours / cggmp21. `npm run bench -- --anchors`; skipped, with a line on stderr, where
 * cargo is absent. docs/decisions/0006-cggmp21-anchor-bench.md says why and what it rules out.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

import { SECURITY_LEVEL_128 } from '../cggmp/params.ts';
import { median, type BenchResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROJECT = path.join(root, 'bench', 'anchors');
const BINARY = 'vilna-anchor-cggmp21';
// Built once per machine and reused by every clone: cargo's own freshness check decides.
const TARGET_DIR = path.join(homedir(), '.cache', 'vilna-mpc', 'anchors');
// The committed fixture primes: both sides' aux-info start from the same kind of pooled primes.
const PRIMES = path.join(root, 'test', 'fixtures', 'safe-primes.json');

/** The shape of the protocol rows we compare: 3 parties, threshold 2 (bench/protocols.bench.ts). */
export const ANCHOR_N = 3;
export const ANCHOR_T = 2;
const RUNS = 5;
const AUX_RUNS = 3;
/** Ours' level without and with cggmp21's optional speed-ups, and cggmp21's own 128-bit level. */
const CONFIGS = ['matched', 'matched+speedups', 'stock'] as const;

/** Each anchor phase and our row measuring the same thing. */
export const PHASES = { keygen: 'keygen', 'aux-info': 'aux-info-pooled', presign: 'presign', sign: 'sign' } as const;
export type Phase = keyof typeof PHASES;

const positive = z.number().nonnegative();
const Level = z.enum(['matched', 'stock']);
const Speedups = z.enum(['none', 'multiexp-tables+crt']);

const LevelLine = z.strictObject({
  kind: z.literal('level'),
  level: Level,
  speedups: Speedups,
  epsilon: z.number().int(),
  ell: z.number().int(),
  ellPrime: z.number().int(),
  m: z.number().int(),
  modulusBits: z.number().int(),
});

const PhaseLine = z.strictObject({
  kind: z.literal('phase'),
  phase: z.enum(Object.keys(PHASES) as [Phase, ...Phase[]]),
  level: Level,
  n: z.literal(ANCHOR_N),
  t: z.literal(ANCHOR_T),
  parties: z.number().int().min(ANCHOR_T).max(ANCHOR_N),
  speedups: Speedups,
  schedule: z.string().min(1),
  wallMs: z.array(positive).min(1),
  cpuMs: z.array(positive).min(1),
});

const AnchorLine = z.discriminatedUnion('kind', [LevelLine, PhaseLine]);
type LevelLine = z.infer<typeof LevelLine>;
type PhaseLine = z.infer<typeof PhaseLine>;

export interface AnchorRow {
  readonly op: string;
  readonly backend: 'cggmp21';
  readonly params: Readonly<Record<string, number | string>>;
  readonly ms: number;
  readonly cpuMsPerParty: number;
  readonly runs: number;
  /** Our median of the same phase in this run (null where it was not measured, e.g. --filter). */
  readonly ours: { readonly op: string; readonly ms: number; readonly cpuMsPerParty: number | null } | null;
  /** ours.ms / ms. */
  readonly ratio: number | null;
  /** ours.cpuMsPerParty / cpuMsPerParty: steadier than wall time when the machine is shared. */
  readonly cpuRatio: number | null;
  /** One-minute load average when the anchor started: the machine is shared. */
  readonly load1: number;
}

/** cargo on PATH, or where rustup puts it; undefined when there is none. */
export function findCargo(): string | undefined {
  for (const cargo of ['cargo', path.join(homedir(), '.cargo', 'bin', 'cargo')]) {
    if (spawnSync(cargo, ['--version'], { stdio: 'ignore' }).status === 0) return cargo;
  }
  return undefined;
}

function run(cmd: string, args: readonly string[], capture: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    // Build and anchor progress go to our stderr; stdout stays the JSON lines.
    const child = spawn(cmd, args, { stdio: ['ignore', capture ? 'pipe' : 2, 2], env: { ...process.env, CARGO_TARGET_DIR: TARGET_DIR } });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd)} ${args[0]} exited with ${code}`))));
  });
}

/** m4, which GMP's build needs (gmp-mpfr-sys builds GMP from source): installed from Debian when root, as the setup does. */
async function ensureM4(): Promise<void> {
  if (spawnSync('m4', ['--version'], { stdio: 'ignore' }).status === 0) return;
  if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return;
  console.error('bench --anchors: apt-get install -y m4 (GMP\'s build needs it)');
  await run('apt-get', ['install', '-y', 'm4'], false).catch(async () => {
    await run('apt-get', ['update'], false);
    await run('apt-get', ['install', '-y', 'm4'], false);
  });
}

/** Builds the anchor (cached in TARGET_DIR, --locked to the committed Cargo.lock); its path. */
export async function buildAnchor(cargo: string): Promise<string> {
  await ensureM4();
  console.error(`bench --anchors: cargo build of bench/anchors into ${TARGET_DIR} (the first one takes minutes)`);
  try {
    await run(cargo, ['build', '--release', '--locked', '--quiet', '--manifest-path', path.join(PROJECT, 'Cargo.toml')], false);
  } catch (e) {
    // gmp-mpfr-sys builds GMP from source: that needs a C compiler and m4 (Debian: apt-get install m4).
    throw new Error(`building the cggmp21 anchor failed (${e instanceof Error ? e.message : String(e)}); GMP's build needs cc and m4`);
  }
  return path.join(TARGET_DIR, 'release', BINARY);
}

/** The version of cggmp21 the committed Cargo.lock pins. */
export function crateVersion(): string {
  const lock = readFileSync(path.join(PROJECT, 'Cargo.lock'), 'utf8');
  const m = /\[\[package\]\]\nname = "cggmp21"\nversion = "([^"]+)"/.exec(lock);
  if (!m) throw new Error('bench/anchors/Cargo.lock pins no cggmp21');
  return m[1]!;
}

/** A config of the anchor: a security level, with or without cggmp21's optional speed-ups. */
const configOf = (l: { level: string; speedups: string }): string => (l.speedups === 'none' ? l.level : `${l.level}+speedups`);

/**
 * Parses and checks the anchor's output: every line valid, every matched level equal to our
 * SECURITY_LEVEL_128 field by field, the configs asked for and no other, each with every phase
 * once and the run counts asked.
 */
export function parseAnchorOutput(stdout: string, configs: readonly string[]): { levels: Map<string, LevelLine>; phases: PhaseLine[] } {
  const levels = new Map<string, LevelLine>();
  const phases: PhaseLine[] = [];
  for (const [i, text] of stdout.split('\n').filter((l) => l.trim() !== '').entries()) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`anchor output line ${i + 1} is not JSON`);
    }
    const line = AnchorLine.parse(json);
    if (line.kind === 'phase') phases.push(line);
    else if (levels.has(configOf(line))) throw new Error(`anchor printed config ${configOf(line)} twice`);
    else levels.set(configOf(line), line);
  }
  const ours = SECURITY_LEVEL_128;
  for (const l of levels.values()) {
    const same = l.epsilon === ours.epsilon && l.ell === ours.ell && l.ellPrime === ours.ellPrime && l.m === ours.m;
    if (l.modulusBits !== ours.modulusBits || (l.level === 'matched' && !same)) {
      throw new Error(`anchor's level ${JSON.stringify(l)} does not match SECURITY_LEVEL_128`);
    }
  }
  if ([...levels.keys()].sort().join() !== [...configs].sort().join()) {
    throw new Error(`anchor ran configs ${[...levels.keys()].join(', ')}, asked for ${configs.join(', ')}`);
  }
  for (const config of configs) {
    for (const phase of Object.keys(PHASES) as Phase[]) {
      const rows = phases.filter((p) => configOf(p) === config && p.phase === phase);
      if (rows.length !== 1) throw new Error(`anchor printed ${rows.length} ${phase} rows for ${config}`);
      const want = phase === 'aux-info' ? AUX_RUNS : RUNS;
      const r = rows[0]!;
      if (r.wallMs.length !== want || r.cpuMs.length !== want) throw new Error(`anchor ${phase} (${config}): ${r.wallMs.length} runs, asked for ${want}`);
    }
  }
  if (phases.length !== configs.length * Object.keys(PHASES).length) throw new Error('anchor printed phase rows it was not asked for');
  return { levels, phases };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Our row of `phase` at n = 3, t = 2 among the results measured in this run. */
function oursFor(measured: readonly BenchResult[], phase: Phase): BenchResult | undefined {
  return measured.find((r) => r.op === PHASES[phase] && r.params.n === ANCHOR_N && r.params.t === ANCHOR_T);
}

export function anchorRows(measured: readonly BenchResult[], parsed: ReturnType<typeof parseAnchorOutput>, version: string, load1: number): AnchorRow[] {
  return parsed.phases.map((p) => {
    const level = parsed.levels.get(configOf(p))!;
    const ms = round3(median(p.wallMs));
    const mine = oursFor(measured, p.phase);
    const cpuMsPerParty = round3(median(p.cpuMs) / p.parties);
    const mineCpu = mine?.parties ? round3(mine.cpuMs / mine.parties) : null;
    const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
    return {
      op: `anchor-cggmp21-${p.phase}`,
      backend: 'cggmp21',
      params: {
        n: p.n,
        t: p.t,
        parties: p.parties,
        modBits: level.modulusBits,
        level: `${p.level} (eps=${level.epsilon} ell'=${level.ellPrime})`,
        crate: `cggmp21 ${version}`,
        speedups: p.speedups,
        schedule: p.schedule,
      },
      ms,
      cpuMsPerParty,
      runs: p.wallMs.length,
      ours: mine ? { op: mine.op, ms: mine.ms, cpuMsPerParty: mineCpu } : null,
      ratio: mine ? ratio(mine.ms, ms) : null,
      cpuRatio: mineCpu === null ? null : ratio(mineCpu, cpuMsPerParty),
      load1: Math.round(load1 * 100) / 100,
    };
  });
}

/** Builds and runs the anchor; its rows beside `measured` (our rows from this run). */
export async function runAnchors(measured: readonly BenchResult[]): Promise<AnchorRow[] | undefined> {
  const cargo = findCargo();
  if (!cargo) {
    console.error('bench --anchors: cargo not found (PATH, ~/.cargo/bin): the cggmp21 anchor is skipped');
    return undefined;
  }
  const missing = (Object.keys(PHASES) as Phase[]).filter((p) => !oursFor(measured, p));
  if (missing.length > 0) console.error(`bench --anchors: ours not measured in this run for ${missing.join(', ')} (a --filter?): no ratio there`);
  const bin = await buildAnchor(cargo);
  const load1 = loadavg()[0]!;
  const args = ['--runs', String(RUNS), '--aux-runs', String(AUX_RUNS), '--n', String(ANCHOR_N), '--t', String(ANCHOR_T), '--primes', PRIMES, '--configs', CONFIGS.join(',')];
  const stdout = await run(bin, args, true);
  return anchorRows(measured, parseAnchorOutput(stdout, CONFIGS), crateVersion(), load1);
}

/** The readable form: ours vs cggmp21 per phase, wall-clock medians and CPU time per party. */
export function anchorTable(rows: readonly AnchorRow[]): string {
  const cols = [
    ['phase', 24],
    ['level', 28],
    ['speedups', 20],
    ['ours ms', 10],
    ['cggmp21 ms', 11],
    ['ratio', 6],
    ['ours cpu/p', 11],
    ['cggmp21 cpu/p', 14],
    ['cpu ratio', 9],
  ] as const;
  const fmt = (x: number | null | undefined, digits: number): string => (x === null || x === undefined ? '-' : x.toFixed(x < 10 ? 3 : digits));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i < 3 ? c.padEnd(cols[i]![1]) : c.padStart(cols[i]![1]))).join(' ');
  const head = line(cols.map(([title]) => title));
  const body = rows.map((r) =>
    line([
      r.op,
      String(r.params.level),
      String(r.params.speedups),
      fmt(r.ours?.ms, 1),
      fmt(r.ms, 1),
      r.ratio?.toFixed(2) ?? '-',
      fmt(r.ours?.cpuMsPerParty, 1),
      fmt(r.cpuMsPerParty, 1),
      r.cpuRatio?.toFixed(2) ?? '-',
    ]),
  );
  return [head, '-'.repeat(head.length), ...body, `load average (1 min) when the anchor started: ${rows[0]?.load1 ?? '-'}`].join('\n');
}
