/**
 * `vilna-mpc demo --json` as a user runs it (DESIGN §8, issue 4 acceptance): separate processes,
 * the JSON report on the last line of stdout; every signature verifies under OpenSSL and noble,
 * the derived key matches @scure/bip32, the parties' audit logs verify, and nothing it left in the
 * state directory is open to group or others (issue 16 item 7). The public fixture
 * primes stand in for fresh ones to keep the run short (the only difference is prime generation).
 */
import { spawnSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HDKey } from '@scure/bip32';
import { afterAll, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT_MS } from '../support/timeouts.ts';
import { expectSignatureValid, opensslVerdict } from '../support/signatures.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'vilna-mpc.js');
let stateDir: string | undefined;

afterAll(async () => {
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** Every file and directory below `dir` (symbolic links not followed) with its permission bits. */
async function modes(dir: string): Promise<{ path: string; dir: boolean; mode: number }[]> {
  const out: { path: string; dir: boolean; mode: number }[] = [];
  const visit = async (p: string): Promise<void> => {
    const info = await lstat(p);
    if (info.isSymbolicLink()) return;
    out.push({ path: path.relative(dir, p) || '.', dir: info.isDirectory(), mode: info.mode & 0o777 });
    if (info.isDirectory()) for (const name of await readdir(p)) await visit(path.join(p, name));
  };
  await visit(dir);
  return out;
}

interface Report {
  publicKey: string;
  xpub: string;
  threshold: number;
  parties: number[];
  stateDir: string;
  signatures: { message: string; hash: string; digest: string; r: string; s: string; recoveryId: number; derivationPath: string; publicKey: string; epoch: number; signers: number[]; der: string }[];
  rotation: { epochBefore: number; epochAfter: number; publicKeyUnchanged: boolean };
  timingsMs: Record<string, number>;
}

it('runs a 2-of-3 ceremony, signatures, a refresh and a derived-key signature that OpenSSL verifies', async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'vilna-demo-test-'));
  const r = spawnSync(process.execPath, [bin, 'demo', '--json', '--state-dir', stateDir, '--primes', path.join(root, 'test', 'fixtures', 'safe-primes.json')], {
    encoding: 'utf8',
    timeout: CLI_TEST_TIMEOUT_MS,
  });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/keygen \+ aux-info/);
  const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Report;
  expect(report).toMatchObject({ threshold: 2, parties: [1, 2, 3], stateDir, rotation: { epochBefore: 0, epochAfter: 1, publicKeyUnchanged: true } });
  expect(report.publicKey).toMatch(/^0[23][0-9a-f]{64}$/);
  expect(Buffer.from(HDKey.fromExtendedKey(report.xpub).publicKey!).toString('hex')).toBe(report.publicKey);
  expect(report.signatures.map((s) => s.epoch)).toEqual([0, 0, 1, 1]);
  for (const sig of report.signatures) {
    expect(sig.r).toMatch(/^[0-9a-f]{64}$/);
    expect(sig.s).toMatch(/^[0-9a-f]{64}$/);
    expect(sig.digest).toMatch(/^[0-9a-f]{64}$/);
    const expectedKey = sig.derivationPath === 'm' ? report.publicKey : Buffer.from(HDKey.fromExtendedKey(report.xpub).derive(sig.derivationPath).publicKey!).toString('hex');
    expect(sig.publicKey).toBe(expectedKey);
    // Every demo signature is over sha256 or sha256d: OpenSSL checks each one.
    expect(opensslVerdict(sig)).toBe(true);
    expectSignatureValid(sig);
    expect(sig.signers).toHaveLength(2);
  }
  expect(report.signatures.some((s) => s.derivationPath === 'm/0/1')).toBe(true);
  const audit = spawnSync(process.execPath, [bin, 'audit', 'verify', stateDir], { encoding: 'utf8', timeout: 60_000 });
  expect(audit.status, audit.stderr).toBe(0);
  expect(audit.stdout.match(/^ok /gm)).toHaveLength(3);
  // Configuration, logs, certificates and keys, tokens, blobs, key state, audit, decisions.
  const tree = await modes(stateDir);
  expect(tree.filter((e) => !e.dir).map((e) => e.path)).toEqual(expect.arrayContaining([path.join('party-1', 'config.yaml'), path.join('party-1', 'sidecar.log'), path.join('party-1', 'audit', 'audit.jsonl'), path.join('pki', 'ca.pem')]));
  expect(tree.filter((e) => e.dir && e.mode !== 0o700).map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([]);
  expect(tree.filter((e) => !e.dir && e.mode !== 0o600).map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([]);
}, CLI_TEST_TIMEOUT_MS);
