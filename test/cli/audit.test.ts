/**
 * `vilna-mpc audit verify` on a demo-shaped state directory (`<stateDir>/party-N/audit/`): three
 * parties' logs written by AuditLog with development identity keys, sessions whose end records
 * every party's signed head in the others' logs. Intact logs pass; copies with a changed byte, a
 * removed, swapped or forged line, or a cut tail fail naming the first bad entry.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI_TEST_TIMEOUT_MS } from '../support/timeouts.ts';
import { developmentSigner } from '../../cggmp/protocols/index.ts';
import { AuditLog } from '../../sidecar/audit/index.ts';
import { failureLine, registerAudit, runAuditVerify } from '../../cli/audit.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const PARTIES = 3;
const SESSIONS = 3;
// Entries per party: genesis, then per session start, signature, end and two peer anchors.
const ENTRIES = 1 + 5 * SESSIONS;
// The last own entry the peers anchored: the final session's end.
const LAST_ANCHORED = ENTRIES - 3;

let root: string;
let stateDir: string;

async function buildStateDir(dir: string): Promise<void> {
  const signers = Array.from({ length: PARTIES }, () => developmentSigner());
  const logs = await Promise.all(signers.map((signer, i) => AuditLog.open(path.join(dir, `party-${i + 1}`, 'audit'), { party: i + 1, signer })));
  for (let s = 0; s < SESSIONS; s++) {
    const sessionId = randomBytes(32).toString('hex');
    for (const log of logs) await log.append('session.start', { sessionId, protocol: 'sign', signers: [1, 2, 3] });
    for (const log of logs) await log.append('signature', { sessionId, keyId: 'treasury', epoch: 0, digest: randomBytes(32).toString('hex') });
    for (const log of logs) await log.append('session.end', { sessionId, outcome: 'ok' });
    const heads = await Promise.all(logs.map((log) => log.signedHead()));
    for (const log of logs) {
      for (const head of heads) if (head.party !== log.party) await log.recordPeerHead(head.party, head, signers[head.party - 1]!.publicKey);
    }
  }
  await Promise.all(logs.map((log) => log.close()));
}

let copies = 0;
/** A fresh copy of the state directory with party `party`'s lines passed through `edit`. */
async function tampered(party: number, edit: (lines: string[]) => string[]): Promise<string> {
  const dir = path.join(root, `copy-${++copies}`);
  await cp(stateDir, dir, { recursive: true });
  const file = path.join(dir, `party-${party}`, 'audit', 'audit.jsonl');
  const lines = (await readFile(file, 'latin1')).split('\n').slice(0, -1);
  await writeFile(file, edit(lines).map((l) => l + '\n').join(''), 'latin1');
  return dir;
}

function changeByte(line: string, at: number): string {
  return line.slice(0, at) + String.fromCharCode(line.charCodeAt(at) ^ 0x01) + line.slice(at + 1);
}

/** Another hex digit at `at`, so the line still parses and only the value changes. */
function changeHexDigit(line: string, at: number): string {
  return line.slice(0, at) + (line[at] === '0' ? '1' : '0') + line.slice(at + 1);
}

/** Runs `vilna-mpc audit …` through commander in this process, capturing its output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  const before = process.exitCode;
  try {
    const program = new Command('vilna-mpc').exitOverride();
    registerAudit(program);
    await program.parseAsync(['audit', ...args], { from: 'user' });
    return { code: Number(process.exitCode ?? 0), stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    process.exitCode = before;
  }
}

async function firstFailure(dir: string, peers: string[] = []) {
  const report = await runAuditVerify(dir, peers);
  expect(report.ok).toBe(false);
  return report.reports.find((r) => !r.ok);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vilna-audit-cli-'));
  stateDir = path.join(root, 'state');
  await buildStateDir(stateDir);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('vilna-mpc audit verify', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('passes a state directory of intact logs and checks every peer anchor', async () => {
    const report = await runAuditVerify(stateDir);
    expect(report.ok).toBe(true);
    expect(report.reports.map((r) => [r.party, r.file, r.entries, r.anchorsChecked])).toEqual([
      [1, path.join('party-1', 'audit', 'audit.jsonl'), ENTRIES, (PARTIES - 1) * SESSIONS],
      [2, path.join('party-2', 'audit', 'audit.jsonl'), ENTRIES, (PARTIES - 1) * SESSIONS],
      [3, path.join('party-3', 'audit', 'audit.jsonl'), ENTRIES, (PARTIES - 1) * SESSIONS],
    ]);
    const run = await cli(['verify', stateDir]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(PARTIES);
    expect(run.stdout).toMatch(/^ok {3}party 1 party-1\/audit\/audit\.jsonl: 16 entries, head 15 [0-9a-f]{16}, 6 peer anchors checked$/m);
    expect(run.stderr).toBe('');
  });

  it('passes one party audit directory on its own and with its peers', async () => {
    const own = path.join(stateDir, 'party-2', 'audit');
    expect((await runAuditVerify(own)).ok).toBe(true);
    const run = await cli(['verify', own, '--peers', path.join(stateDir, 'party-1'), path.join(stateDir, 'party-3', 'audit'), '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').pop()!) as { ok: boolean; reports: { party: number; anchorsChecked: number }[] };
    expect(report.ok).toBe(true);
    expect(report.reports.map((r) => r.party)).toEqual([2, 1, 3]);
  });

  it('fails naming the entry for a single changed byte in the sig, the data, the prev or the kind', async () => {
    for (const field of ['"sig":"', '"digest":"', '"prev":"', '"kind":"']) {
      const dir = await tampered(2, (lines) => lines.map((l, i) => (i === 7 ? changeByte(l, l.lastIndexOf(field) + field.length + 5) : l)));
      const bad = await firstFailure(dir);
      expect(bad?.party, field).toBe(2);
      expect(bad?.failure?.index, field).toBe(7);
    }
    const dir = await tampered(2, (lines) => lines.map((l, i) => (i === 7 ? changeHexDigit(l, l.lastIndexOf('"sig":"') + 20) : l)));
    const run = await cli(['verify', dir, '--json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('party 2 party-2/audit/audit.jsonl entry 7: signature does not verify\n');
    const report = JSON.parse(run.stdout.trim().split('\n').pop()!) as { ok: boolean; reports: { party: number; failure: unknown }[] };
    expect(report.ok).toBe(false);
    expect(report.reports.find((r) => r.party === 2)?.failure).toEqual({ index: 7, reason: 'signature does not verify' });
  });

  it('fails naming a removed line', async () => {
    const dir = await tampered(3, (lines) => lines.filter((_, i) => i !== 9));
    const bad = await firstFailure(dir);
    expect(failureLine(bad!)).toBe('party 3 party-3/audit/audit.jsonl entry 9: index is 10, expected 9');
  });

  it('fails on two swapped lines', async () => {
    const dir = await tampered(1, (lines) => lines.map((l, i) => (i === 5 ? lines[11]! : i === 11 ? lines[5]! : l)));
    const bad = await firstFailure(dir);
    expect(bad).toMatchObject({ party: 1, failure: { index: 5 } });
  });

  it('fails on an appended forged line', async () => {
    const dir = await tampered(1, (lines) => {
      const last = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
      const forged = { ...last, index: ENTRIES, kind: 'signature', data: { sessionId: 'forged' } };
      return [...lines, JSON.stringify(forged)];
    });
    const bad = await firstFailure(dir);
    expect(bad).toMatchObject({ party: 1, failure: { index: ENTRIES } });
  });

  it('catches a cut tail through the peers anchors, naming the cut point', async () => {
    // Alone, a log cut at a line boundary is an intact shorter chain: only the heads its peers
    // anchored show that it was longer. Cutting just the two unanchored anchor entries at the
    // end is invisible until the next session anchors a newer head.
    const cut = 4;
    const dir = await tampered(2, (lines) => lines.slice(0, lines.length - cut));
    expect((await runAuditVerify(path.join(dir, 'party-2', 'audit'))).ok).toBe(true);
    const bad = await firstFailure(dir);
    expect(failureLine(bad!)).toMatch(
      new RegExp(`^party 2 party-2/audit/audit\\.jsonl entry ${ENTRIES - cut}: tail cut: peer [13] anchored entry ${LAST_ANCHORED} with hash [0-9a-f]{64}, log ends at entry ${ENTRIES - cut - 1}$`),
    );
    const run = await cli(['verify', path.join(dir, 'party-2', 'audit'), '--peers', path.join(dir, 'party-1'), path.join(dir, 'party-3')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/entry 12: tail cut: peer [13] anchored entry 13/);

    const unanchored = await tampered(2, (lines) => lines.slice(0, LAST_ANCHORED + 1));
    expect((await runAuditVerify(unanchored)).ok).toBe(true);
  });

  it('fails naming a party whose log was deleted, and the peer anchor that proves it existed', async () => {
    const dir = path.join(root, `copy-${++copies}`);
    await cp(stateDir, dir, { recursive: true });
    await rm(path.join(dir, 'party-1', 'audit', 'audit.jsonl'));
    const report = await runAuditVerify(dir);
    expect(report.ok).toBe(false);
    expect(report.reports.every((r) => r.ok)).toBe(true);
    expect(report.missing).toEqual([{ party: 1, anchored: { index: LAST_ANCHORED, hash: expect.stringMatching(/^[0-9a-f]{64}$/) }, peer: { party: expect.any(Number), file: expect.any(String), entry: expect.any(Number) } }]);
    const run = await cli(['verify', dir]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('FAIL party 1 (no audit log)\n');
    expect(run.stderr).toMatch(new RegExp(`^party 1: no audit log, but party [23] anchored its entry ${LAST_ANCHORED} \\(party-[23]/audit/audit\\.jsonl entry \\d+\\): entries 0\\.\\.${LAST_ANCHORED} are missing\n$`));
    // Named with its peers it fails too; named alone, one log is its own chain only.
    const withPeers = await cli(['verify', path.join(dir, 'party-2', 'audit'), '--peers', path.join(dir, 'party-3')]);
    expect(withPeers.code).toBe(1);
    expect(withPeers.stderr).toMatch(/^party 1: no audit log/);
    const alone = await runAuditVerify(path.join(dir, 'party-2', 'audit'));
    expect(alone).toMatchObject({ ok: true, missing: [], unchecked: [{ party: 1 }, { party: 3 }] });
  });

  it('fails a log cut back to its genesis entry, naming the peer anchor beyond its end', async () => {
    const dir = await tampered(3, (lines) => lines.slice(0, 1));
    const bad = await firstFailure(dir);
    expect(failureLine(bad!)).toMatch(new RegExp(`^party 3 party-3/audit/audit\\.jsonl entry 1: tail cut: peer [12] anchored entry ${LAST_ANCHORED} with hash [0-9a-f]{64}, log ends at entry 0$`));
  });

  it('exits 2 when the directory holds no audit log', async () => {
    const empty = await mkdtemp(path.join(root, 'empty-'));
    const run = await cli(['verify', empty, '--json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^E_AUDIT_NOT_FOUND: no audit\.jsonl in or below/);
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ ok: false, error: { code: 'E_AUDIT_NOT_FOUND' } });
  });

  it('exits non-zero as a process when a log is bad', async () => {
    const dir = await tampered(3, (lines) => lines.map((l, i) => (i === 2 ? changeHexDigit(l, l.lastIndexOf('"prev":"') + 12) : l)));
    const script = [
      "import { Command } from 'commander';",
      "import { registerAudit } from './cli/audit.ts';",
      'const program = new Command("vilna-mpc");',
      'registerAudit(program);',
      'await program.parseAsync(process.argv.slice(1), { from: "user" });',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'audit', 'verify', dir], { cwd: repo, encoding: 'utf8', timeout: CLI_TEST_TIMEOUT_MS });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain('party 3 party-3/audit/audit.jsonl entry 2: prev is not the hash of the previous line');
  });
});
