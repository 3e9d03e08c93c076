/**
 * Our modexp count against the spec's minimum (issue 11 item 3): runs bench/modexp-count-run.ts
 * in its own process (it must install the counting backend before cggmp/ loads) and sets its
 * per-party counts beside bench/modexp-spec.ts's, per phase, per step and per modulus.
 * Used by bench/modexp.bench.ts and test/support/modexp-count.test.ts.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

import { SECURITY_LEVEL_128 } from '../cggmp/params.ts';
import { specCounts } from './modexp-spec.ts';

/** Kinds that are modexps; `table-build` and `inverse` are listed but never counted. */
const MODEXP = new Set(['exp', 'dexp', 'table', 'crt']);

export const PHASES = ['aux-info', 'presign', 'sign'] as const;
export type Phase = (typeof PHASES)[number];

/** What the runner prints. */
export interface RunnerOutput {
  readonly parties: number;
  readonly level: string;
  readonly backend: string;
  /** phase → party → "step|kind|modulus" → count. */
  readonly phases: Record<Phase, Record<string, Record<string, number>>>;
}

/** Readable names of the steps (our functions; the spec's algorithms). */
export const STEP_NAMES: Readonly<Record<string, string>> = {
  ringPedersenFromPrimes: 'ring-Pedersen s = t^λ',
  provePrm: 'Π^prm prove',
  verifyPrm: 'Π^prm verify',
  proveMod: 'Π^mod prove',
  verifyMod: 'Π^mod verify',
  proveFac: 'Π^fac prove',
  verifyFac: 'Π^fac verify',
  verifierTable: 'table preprocessing',
  commitNonce: 'K_i, G_i',
  proveEncElg: 'Π^enc-elg prove',
  verifyEncElg: 'Π^enc-elg verify',
  mtaHalf: 'MtA D, F, D̂, F̂',
  proveAffG: 'Π^aff-g prove',
  verifyAffG: 'Π^aff-g verify',
  decryptCentredMod: 'dec α, α̂',
  other: 'other',
};

export interface OursSpec {
  readonly ours: number;
  readonly spec: number;
}

export interface PhaseComparison {
  readonly phase: Phase;
  /** Modexps of the party with the most (they differ only by find_residue's retries). */
  readonly ours: number;
  readonly spec: number;
  /** ours / spec (1 when both are 0). */
  readonly ratio: number;
  /** Per step (readable name), modexps only. */
  readonly bySteps: Readonly<Record<string, OursSpec>>;
  /** Per "kind modulus" (e.g. "exp N²", "crt N²", "table N̂"), modexps only. */
  readonly byKinds: Readonly<Record<string, OursSpec>>;
  /** Table preprocessing (not modexps): ours over all parties of the process, the spec's per party. */
  readonly tableBuilds: OursSpec;
}

/** The runner's key for operations that ran outside every party's session. */
export const UNATTRIBUTED = 'unattributed';

const RUNNER = fileURLToPath(new URL('./modexp-count-run.ts', import.meta.url));

/** Runs the counting process for n parties (about 20 s of 3072-bit arithmetic for n = 3). */
export async function countOurs(n: number): Promise<RunnerOutput> {
  const { stdout } = await promisify(execFile)(process.execPath, [RUNNER, '--parties', String(n)], {
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, VILNA_MPC_ARITH: process.env.VILNA_MPC_ARITH ?? 'native' },
  });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as RunnerOutput;
}

function parse(key: string): { step: string; kind: string; modulus: string } {
  const [step = '', kind = '', modulus = ''] = key.split('|');
  return { step, kind, modulus };
}

function add(into: Record<string, { ours: number; spec: number }>, k: string, side: 'ours' | 'spec', v: number): void {
  const row = (into[k] ??= { ours: 0, spec: 0 });
  row[side] += v;
}

/** Table preprocessing (its build and the one exp of (s·t)^-H in ours) stays out of the totals. */
const PREPROCESSING = 'verifierTable';

function isModexp(key: string): boolean {
  const { step, kind } = parse(key);
  return MODEXP.has(kind) && step !== PREPROCESSING;
}

function modexps(counts: Record<string, number>): number {
  let total = 0;
  for (const [key, v] of Object.entries(counts)) if (isModexp(key)) total += v;
  return total;
}

/** Ours against the spec for every phase. */
export function compare(out: RunnerOutput): PhaseComparison[] {
  const spec = specCounts(out.parties, SECURITY_LEVEL_128.m);
  return PHASES.map((phase) => {
    // Operations made outside any party's session (none today) are not one party's work.
    const perParty = Object.entries(out.phases[phase]).filter(([p]) => p !== UNATTRIBUTED).map(([, c]) => c);
    // The party with the most modexps stands for "one party".
    const mine = perParty.reduce<Record<string, number>>((a, c) => (modexps(c) > modexps(a) ? c : a), {});
    const theirs = spec[phase] ?? {};
    const bySteps: Record<string, { ours: number; spec: number }> = {};
    const byKinds: Record<string, { ours: number; spec: number }> = {};
    for (const [side, counts] of [['ours', mine], ['spec', theirs]] as const) {
      for (const [key, v] of Object.entries(counts)) {
        const { step, kind, modulus } = parse(key);
        if (!isModexp(key)) continue;
        add(bySteps, STEP_NAMES[step] ?? step, side, v);
        add(byKinds, `${kind} ${modulus}`, side, v);
      }
    }
    const builds = (c: Record<string, number>): number =>
      Object.entries(c).reduce((a, [key, v]) => (parse(key).kind === 'table-build' ? a + v : a), 0);
    const ours = modexps(mine);
    const specTotal = modexps(theirs);
    return {
      phase,
      ours,
      spec: specTotal,
      ratio: specTotal === 0 ? (ours === 0 ? 1 : Infinity) : Math.round((ours / specTotal) * 1000) / 1000,
      bySteps,
      byKinds,
      tableBuilds: { ours: perParty.reduce((a, c) => a + builds(c), 0), spec: builds(theirs) },
    };
  });
}

/** Markdown tables of the comparison: per phase, per step and per kind, ours vs spec. */
export function markdown(rows: readonly PhaseComparison[]): string {
  const r = (o: number, s: number): string => (s === 0 ? (o === 0 ? '—' : '∞') : (o / s).toFixed(2));
  const table = (title: string, pick: (row: PhaseComparison) => Readonly<Record<string, OursSpec>>): string[] => {
    const lines = [`| phase | ${title} | ours | spec | ours/spec |`, '|---|---|---:|---:|---:|'];
    for (const row of rows) {
      for (const [k, v] of Object.entries(pick(row))) lines.push(`| ${row.phase} | ${k} | ${v.ours} | ${v.spec} | ${r(v.ours, v.spec)} |`);
      lines.push(`| **${row.phase}** | **total** | **${row.ours}** | **${row.spec}** | **${r(row.ours, row.spec)}** |`);
    }
    return lines;
  };
  return [...table('step', (row) => row.bySteps), '', ...table('kind and modulus', (row) => row.byKinds)].join('\n');
}

// `node bench/modexp-count.ts [--parties 3]`: the comparison as markdown tables.
if (import.meta.main) {
  const { values } = parseArgs({ options: { parties: { type: 'string', default: '3' } } });
  console.log(markdown(compare(await countOurs(Number(values.parties)))));
}
