/**
 * `npm run soak [-- --signatures N --clients N --kill-every N --down-ms N --reset-every-ms N]`: the long soak
 * (issue 11 item 5; test/soak/soak.ts says what it checks). Prints progress on stderr and the
 * report as one JSON line on stdout; exits 1 when the soak found a wrong signature, an answer
 * that is not retryable, a stuck request or a broken audit chain.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runSoak } from '../test/soak/soak.ts';

const { values } = parseArgs({
  options: {
    signatures: { type: 'string', default: '10000' },
    clients: { type: 'string', default: '8' },
    'kill-every': { type: 'string', default: '300' },
    'down-ms': { type: 'string', default: '10000' },
    'pool-size': { type: 'string', default: '8' },
    'deadline-ms': { type: 'string', default: '300000' },
    /** A link between parties resets its connections for a second about every this many ms (0: never). */
    'reset-every-ms': { type: 'string', default: '10000' },
    keep: { type: 'boolean', default: false },
  },
});

function count(name: keyof typeof values): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, not ${String(values[name])}`);
  return n;
}

const dir = await mkdtemp(path.join(tmpdir(), 'vilna-soak-'));
try {
  const report = await runSoak({
    dir,
    signatures: count('signatures'),
    clients: Math.max(1, count('clients')),
    killEvery: count('kill-every'),
    downMs: count('down-ms'),
    poolSize: count('pool-size'),
    requestDeadlineMs: count('deadline-ms'),
    ...(count('reset-every-ms') > 0 ? { resets: { everyMs: count('reset-every-ms'), lastMs: 1_000 } } : {}),
    log: (line) => void process.stderr.write(`${new Date().toISOString()} ${line}\n`),
  });
  console.log(JSON.stringify(report));
  const ok = report.wrong.length === 0 && report.unexpected.length === 0 && report.stuck.length === 0 && report.auditVerified && report.signed === count('signatures');
  process.exitCode = ok ? 0 : 1;
} finally {
  if (values.keep) process.stderr.write(`soak: state kept in ${dir}\n`);
  else await rm(dir, { recursive: true, force: true });
}
