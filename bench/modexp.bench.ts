/**
 * Modexp counts per party against the spec's minimum (issue 11 item 3): one row per phase,
 * `modexp-count-aux-info`, `modexp-count-presign`, `modexp-count-sign`, with ours, the spec's and
 * the ratio, and the same per step and per kind of exponentiation. Counts, not timings: `ms` is 0.
 */
import { compare, countOurs } from './modexp-count.ts';
import type { ReportSuite } from './harness.ts';

const PARTIES = 3;

const suite: ReportSuite = {
  op: 'modexp-count',
  async report() {
    const out = await countOurs(PARTIES);
    return compare(out).map((c) => ({
      op: `modexp-count-${c.phase}`,
      backend: out.backend,
      params: { n: PARTIES, level: out.level },
      ms: 0,
      ours: c.ours,
      spec: c.spec,
      ratio: c.ratio,
      bySteps: c.bySteps,
      byKinds: c.byKinds,
      tableBuilds: c.tableBuilds,
    }));
  },
};
export default suite;
