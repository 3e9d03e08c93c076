/**
 * Issue 11 item 3: one party's modexp count in aux-info, presign and sign (n = 3, 128-bit level)
 * against the spec's minimum (bench/modexp-spec.ts). The goal is within 1.5× of the spec.
 *
 * All three meet it. Presign was 202 against 122 (1.66×) until each prover commitment s^x t^y
 * stopped paying two public exponentiations for the correction of its shifted exponents
 * (ring-pedersen/commit.ts caches s^−a t^−b per peer and pair of ranges): 166 now on the first
 * presignature with a peer, less once the corrections are made. What is left above the spec is
 * the constant-time path for secret exponents (b^value then the correction, where the spec has one
 * table evaluation). Presign's per-step counts are also held as upper bounds: lower them when
 * the provers get cheaper, never raise them.
 */
import { describe, expect, it, beforeAll } from 'vitest';

import { loadBackend } from '../../cggmp/arith/index.ts';
import { compare, countOurs, PHASES, STEP_NAMES, UNATTRIBUTED, type PhaseComparison, type RunnerOutput } from '../../bench/modexp-count.ts';
import { specCounts } from '../../bench/modexp-spec.ts';
import { SECURITY_LEVEL_128 } from '../../cggmp/params.ts';
import { attribute, countingBackend, startRecording, stopRecording } from './counting-backend.ts';
import { BIGINT_TEST_TIMEOUT_MS, E2E_TEST_TIMEOUT_MS } from './timeouts.ts';

const GOAL = 1.5;
/** Presign today, per step (the first presignature with a peer): upper bounds. */
const PRESIGN_NOW: Readonly<Record<string, number>> = {
  'K_i, G_i': 2,
  'Π^enc-elg prove': 32,
  'Π^enc-elg verify': 16,
  'MtA D, F, D̂, F̂': 16,
  'Π^aff-g prove': 60,
  'Π^aff-g verify': 36,
  'dec α, α̂': 4,
};
const PRESIGN_NOW_TOTAL = 166;

/** Modexps of a "step|kind|modulus" count, table preprocessing left out. */
const total = (c: Record<string, number>): number =>
  Object.entries(c).reduce((a, [key, v]) => (key.includes('|table-build|') ? a : a + v), 0);

describe('the counting backend', () => {
  it('computes what the backend it wraps computes, and records each exponentiation by kind', () => {
    const inner = loadBackend('js');
    const counted = countingBackend(inner);
    const [p, q] = [1019n, 1031n];
    const N = p * q;
    startRecording();
    const results = attribute(7, 'test', () => {
      const table = counted.fixedBaseTable(5n, 7n, N, 64);
      const paillier = counted.paillierContext(p, q);
      const crt = counted.crtContext(p, p - 1n, q, q - 1n);
      return [
        counted.modPow(3n, 1000n, N),
        counted.modPowSecret(3n, 1001n, N),
        counted.modPow2(3n, 10n, 5n, 20n, N),
        table.pow2(123n, 456n),
        crt.pow(3n, 77n),
        paillier.pow(3n, 77n),
      ];
    });
    const records = stopRecording();
    const table = inner.fixedBaseTable(5n, 7n, N, 64);
    expect(results).toEqual([
      inner.modPow(3n, 1000n, N),
      inner.modPowSecret(3n, 1001n, N),
      inner.modPow2(3n, 10n, 5n, 20n, N),
      table.pow2(123n, 456n),
      inner.crtContext(p, p - 1n, q, q - 1n).pow(3n, 77n),
      inner.paillierContext(p, q).pow(3n, 77n),
    ]);
    expect(records.map((r) => r.kind)).toEqual(['table-build', 'exp', 'exp', 'dexp', 'table', 'crt', 'crt']);
    expect(records.every((r) => r.party === 7 && r.phase === 'test')).toBe(true);
    expect(records.at(-1)!.m).toBe(N * N);
  });
});

describe('the spec’s minimum (bench/modexp-spec.ts)', () => {
  it('is, per party at n = 3 and m = 128, 1303 modexps in aux-info, 122 in presign, none in sign', () => {
    const m = SECURITY_LEVEL_128.m;
    const spec = specCounts(3, m);
    // s = t^λ; Π^prm m + m per peer; Π^mod 3m + 2m per peer; Π^fac 5 + 6 per peer.
    expect(total(spec['aux-info']!)).toBe(1 + m + 2 * m + 3 * m + 2 * 2 * m + 2 * 5 + 2 * 6);
    // K_i, G_i; per peer: Π^enc-elg 8 + 8, MtA 6, Π^aff-g 18 + 18, two decryptions.
    expect(total(spec.presign!)).toBe(2 + 2 * 60);
    expect(total(spec.sign!)).toBe(0);
  });
});

describe('our modexp count per party, n = 3, 128-bit level', () => {
  let out: RunnerOutput;
  let rows: Map<string, PhaseComparison>;
  beforeAll(async () => {
    out = await countOurs(3);
    rows = new Map(compare(out).map((r) => [r.phase, r] as const));
  }, process.env.VILNA_MPC_ARITH === 'js' ? BIGINT_TEST_TIMEOUT_MS : E2E_TEST_TIMEOUT_MS);

  it('finds every step the spec counts, none below the spec’s minimum, nothing unattributed', () => {
    for (const phase of PHASES) expect(Object.keys(out.phases[phase])).not.toContain(UNATTRIBUTED);
    expect(Object.keys(out.phases.presign).sort()).toEqual(['1', '2', '3']);
    for (const row of rows.values()) {
      for (const [step, v] of Object.entries(row.bySteps)) {
        expect(step).not.toBe(STEP_NAMES.other);
        expect(v.ours, `${row.phase} ${step}`).toBeGreaterThanOrEqual(v.spec);
      }
      for (const kind of Object.keys(row.byKinds)) expect(kind).toMatch(/^(exp|dexp|table|crt) (N²|N|N̂)$/);
    }
    expect(rows.get('presign')!.ours).toBeGreaterThan(0);
  });

  it('aux-info stays within 1.5× of the spec', () => {
    const aux = rows.get('aux-info')!;
    expect(aux.ours).toBeLessThanOrEqual(GOAL * aux.spec);
  });

  it('presign stays within 1.5× of the spec, and at or below today’s count in every step', () => {
    const presign = rows.get('presign')!;
    expect(presign.ours).toBeLessThanOrEqual(GOAL * presign.spec);
    expect(presign.ours).toBeLessThanOrEqual(PRESIGN_NOW_TOTAL);
    for (const [step, v] of Object.entries(presign.bySteps)) expect(v.ours, step).toBeLessThanOrEqual(PRESIGN_NOW[step] ?? 0);
    // The verifiers already match the spec exactly.
    expect(presign.bySteps['Π^enc-elg verify']).toEqual({ ours: 16, spec: 16 });
    expect(presign.bySteps['Π^aff-g verify']).toEqual({ ours: 36, spec: 36 });
  });

  it('sign does no modular exponentiation, as in the spec', () => {
    expect(rows.get('sign')!).toMatchObject({ ours: 0, spec: 0 });
  });
});
