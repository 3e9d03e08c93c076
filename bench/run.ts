/**
 * Benchmark runner: `npm run bench [-- --json] [-- --filter <substring of op>] [-- --anchors]`.
 * --filter may be repeated (a case runs when any matches); `--filter =sign` matches the op
 * exactly. Prints one JSON object per line ({ op, backend, params, ms }, ms = median) with --json, a
 * readable table otherwise. A case that cannot run (e.g. the native addon is not built) is
 * reported on stderr and makes the exit status 1. --anchors then runs the Rust reference
 * cggmp21 (bench/anchors.ts) and prints its phases beside ours from this run.
 */
import { parseArgs } from 'node:util';

import { anchorTable, runAnchors } from './anchors.ts';
import { jsonLine, measure, tableHeader, tableRow, type BenchResult, type BenchSuite, type ReportSuite } from './harness.ts';

// One line per suite; each module's default export is a BenchSuite.
const SUITES: readonly (() => Promise<{ default: BenchSuite | ReportSuite }>)[] = [
  () => import('./arith.bench.ts'),
  () => import('./paillier.bench.ts'),
  () => import('./zk.bench.ts'),
  () => import('./protocols.bench.ts'),
  () => import('./api.bench.ts'),
  () => import('./modexp.bench.ts'),
  () => import('./wan.bench.ts'),
];

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    filter: { type: 'string', multiple: true },
    anchors: { type: 'boolean', default: false },
  },
});

const filters = values.filter ?? [];
function selected(op: string): boolean {
  return filters.length === 0 || filters.some((f) => (f.startsWith('=') ? op === f.slice(1) : op.includes(f)));
}

let failed = false;
const measured: BenchResult[] = [];
if (!values.json) console.log(tableHeader());
for (const load of SUITES) {
  const { default: suite } = await load();
  if (!Array.isArray(suite)) {
    const report = suite as ReportSuite;
    if (!selected(report.op)) continue;
    try {
      for (const row of await report.report()) console.log(values.json ? JSON.stringify(row) : `${row.op.padEnd(28)} ${JSON.stringify(row.params)} median ${row.ms} ms ${JSON.stringify(Object.fromEntries(Object.entries(row).filter(([k]) => !['op', 'backend', 'params', 'ms'].includes(k))))}`);
    } catch (e) {
      failed = true;
      console.error(`bench ${report.op} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    continue;
  }
  for (const c of suite as BenchSuite) {
    if (!selected(c.op)) continue;
    try {
      const result = await measure(c);
      measured.push(result);
      console.log(values.json ? jsonLine(result) : tableRow(result));
    } catch (e) {
      failed = true;
      console.error(`bench ${c.op} [${c.backend}] failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
if (values.anchors) {
  try {
    const rows = await runAnchors(measured);
    if (rows) console.log(values.json ? rows.map((r) => JSON.stringify(r)).join('\n') : `\n${anchorTable(rows)}`);
  } catch (e) {
    failed = true;
    console.error(`bench --anchors failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
process.exitCode = failed ? 1 : 0;
