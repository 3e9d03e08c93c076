#!/usr/bin/env node
/**
 * The whole suite, as `npm test` runs it: lint, type check, every vitest layer on the native
 * arithmetic backend, then the cggmp unit tests again on the pure BigInt backend (DESIGN §3:
 * both backends must pass). Ends with one plain line "N passed, N failed".
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const outDir = mkdtempSync(path.join(tmpdir(), 'vilna-mpc-test-'));
let passed = 0;
let failed = 0;
const steps = [];
const failures = [];
/** Per-layer totals (DESIGN §6) of the vitest runs: files, tests, summed file durations. */
const layers = new Map();

/** The test layer of a file (DESIGN §6): where it lives says what it needs. */
function layerOf(file) {
  const rel = path.relative(root, file);
  if (rel.startsWith('test/kube/')) return 'kube (real control planes)';
  if (rel.startsWith('test/wan/')) return 'wan (node processes behind Toxiproxy)';
  if (rel.startsWith('test/e2e/') || rel.startsWith('test/cli/')) return 'e2e (node processes)';
  if (rel.startsWith('test/integration/') || rel.startsWith('hsm-sim/')) return 'integration (SoftHSM, mTLS, Prometheus)';
  return 'unit';
}

function step(name, cmd, args, env = {}) {
  process.stderr.write(`\n=== ${name} ===\n`);
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const ok = r.status === 0;
  steps.push({ name, ok, seconds: ((Date.now() - started) / 1000).toFixed(1) });
  return ok;
}

function vitest(name, files, env) {
  const report = path.join(outDir, `${name.replace(/\W+/g, '-')}.json`);
  const ok = step(name, bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...files], env);
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (ok ? 0 : r.numFailedTests === 0 ? 1 : 0);
    for (const file of r.testResults ?? []) {
      const layer = `${layerOf(file.name)}, ${name.includes('BigInt') ? 'BigInt' : 'native'}`;
      const l = layers.get(layer) ?? { files: 0, tests: 0, seconds: 0 };
      l.files += 1;
      l.tests += (file.assertionResults ?? []).length;
      l.seconds += Math.max(0, ((file.endTime ?? 0) - (file.startTime ?? 0)) / 1000);
      layers.set(layer, l);
      for (const t of file.assertionResults ?? []) {
        if (t.status !== 'failed') continue;
        // The first lines hold the assertion and its diff; stack frames add nothing here.
        const why = String(t.failureMessages?.[0] ?? '').split('\n').filter((l) => !/^\s+at /.test(l)).slice(0, 12).join('\n    ').slice(0, 1500);
        failures.push(`${path.relative(root, file.name)} > ${t.fullName}: ${why}`);
      }
      if ((file.assertionResults ?? []).length === 0 && file.status === 'failed') {
        failures.push(`${path.relative(root, file.name)}: ${String(file.message ?? '').split('\n')[0].slice(0, 300)}`);
      }
    }
  } catch {
    failed += 1; // the runner died before writing its report
  }
}

if (!step('lint (eslint)', bin('eslint'), ['--max-warnings', '0', '.'])) failed += 1;
if (!step('type check (tsc)', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json'])) failed += 1;
vitest('unit and integration, native arithmetic', [], { VILNA_MPC_ARITH: 'native' });
vitest('cggmp unit tests, pure BigInt arithmetic', ['cggmp/'], { VILNA_MPC_ARITH: 'js' });

rmSync(outDir, { recursive: true, force: true });
process.stderr.write('\n');
// Files of one run overlap (two workers), so a layer's seconds are summed file durations.
for (const [layer, l] of layers) process.stderr.write(`layer ${layer}: ${l.files} files, ${l.tests} tests, ${l.seconds.toFixed(1)} s of file time\n`);
// The failures are repeated here because CI keeps only the tail of the output.
for (const f of failures) process.stderr.write(`failed: ${f}\n`);
for (const s of steps) process.stderr.write(`${s.ok ? 'ok  ' : 'FAIL'} ${s.name} (${s.seconds} s)\n`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && steps.every((s) => s.ok) ? 0 : 1);
