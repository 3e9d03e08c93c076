import { describe, expect, it } from 'vitest';

import { anchorRows, parseAnchorOutput } from './anchors.ts';
import type { BenchResult } from './harness.ts';

const SCHEDULE = 'one thread, round_based::sim (state machines)';

function output(opts: { epsilon?: number; runs?: number; dropPhase?: string } = {}): string {
  const lines: object[] = [{ kind: 'level', level: 'matched', speedups: 'none', epsilon: opts.epsilon ?? 512, ell: 256, ellPrime: 1280, m: 128, modulusBits: 3072 }];
  for (const [phase, parties, runs] of [['keygen', 3, 5], ['aux-info', 3, 3], ['presign', 2, 5], ['sign', 2, 5]] as const) {
    if (phase === opts.dropPhase) continue;
    const n = phase === 'aux-info' ? runs : (opts.runs ?? runs);
    const wallMs = Array.from({ length: n }, (_, i) => 10 * (i + 1));
    lines.push({ kind: 'phase', phase, level: 'matched', n: 3, t: 2, parties, speedups: 'none', schedule: SCHEDULE, wallMs, cpuMs: wallMs });
  }
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

const ours = (op: string, ms: number, parties: number): BenchResult => ({ op, backend: 'native', params: { n: 3, t: 2, modBits: 3072 }, ms, cpuMs: ms, parties, runs: 3 });

describe('cggmp21 anchor output', () => {
  it('accepts a complete run and sets each phase beside ours with the ratio', () => {
    const parsed = parseAnchorOutput(output(), ['matched']);
    const rows = anchorRows([ours('presign', 60, 2), ours('keygen', 15, 3)], parsed, '0.6.3', 1.5);
    const presign = rows.find((r) => r.op === 'anchor-cggmp21-presign')!;
    expect(presign.ms).toBe(30);
    expect(presign.cpuMsPerParty).toBe(15);
    expect(presign.ours).toEqual({ op: 'presign', ms: 60, cpuMsPerParty: 30 });
    expect(presign.ratio).toBe(2);
    expect(presign.cpuRatio).toBe(2);
    expect(rows.find((r) => r.op === 'anchor-cggmp21-sign')!.ratio).toBeNull();
    expect(rows.map((r) => r.op)).toEqual(['anchor-cggmp21-keygen', 'anchor-cggmp21-aux-info', 'anchor-cggmp21-presign', 'anchor-cggmp21-sign']);
  });

  it('rejects a matched level that is not our SECURITY_LEVEL_128', () => {
    expect(() => parseAnchorOutput(output({ epsilon: 230 }), ['matched'])).toThrow(/SECURITY_LEVEL_128/);
  });

  it('rejects a missing phase, a short run count, a config not asked for and a line that is not JSON', () => {
    expect(() => parseAnchorOutput(output({ dropPhase: 'presign' }), ['matched'])).toThrow(/0 presign rows/);
    expect(() => parseAnchorOutput(output({ runs: 2 }), ['matched'])).toThrow(/2 runs, asked for 5/);
    expect(() => parseAnchorOutput(output(), ['matched', 'stock'])).toThrow(/asked for/);
    expect(() => parseAnchorOutput(output() + 'panicked at …\n', ['matched'])).toThrow(/not JSON/);
  });

  it('rejects a negative time and an unknown field', () => {
    expect(() => parseAnchorOutput(output().replace('"wallMs":[10,', '"wallMs":[-10,'), ['matched'])).toThrow();
    expect(() => parseAnchorOutput(output().replace('"kind":"phase"', '"kind":"phase","extra":1'), ['matched'])).toThrow();
  });
});
