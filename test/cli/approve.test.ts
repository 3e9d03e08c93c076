/**
 * `vilna-mpc approve` and `vilna-mpc approver keygen` through their exported functions (the
 * lead wires them into cli/main.ts): approvals made with keys that OpenSSL generated verify
 * under OpenSSL itself, the summary names what is being signed, and bad plans are never signed.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { p256 } from '@noble/curves/nist.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { approvalMessage, approverChangeHashHex, approverPublicKeyHex, approverSetHash, makeApproverSet, planHashHex, verifyApproval, type Approval, type ApproverChange, type Plan } from '../../api/index.ts';
import { approvePlanFile, approverKeygen, registerApprove, type ApproveIo } from '../../cli/approve.ts';

const OPENSSL = '/usr/bin/openssl';
const dir = mkdtempSync(path.join(tmpdir(), 'vilna-approve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string): string => path.join(dir, name);
const openssl = (...args: string[]): string => execFileSync(OPENSSL, args, { encoding: 'utf8' });

const identity = (): string => bytesToHex(p256.getPublicKey(p256.utils.randomSecretKey(), true));
const plan = (over: Record<string, unknown> = {}): Plan =>
  ({
    version: 1,
    protocol: 'keygen',
    keyId: 'treasury-1',
    epoch: 0,
    threshold: 2,
    parties: [1, 2, 3].map((i) => ({ index: i, name: `region-${i}/vault/party-${i}`, identityKey: identity(), endpoint: `https://party-${i}.example:8443` })),
    expiresAt: '2030-01-01T00:00:00Z',
    nonce: randomBytes(32).toString('hex'),
    ...over,
  }) as Plan;

function capture(extra: Partial<ApproveIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: ApproveIo = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), now: new Date('2026-05-04T12:00:00Z'), ...extra };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

function writePlan(name: string, p: unknown): string {
  writeFileSync(file(name), JSON.stringify(p, null, 2));
  return file(name);
}

// An approver key exactly as an approver would make it with OpenSSL.
const opensslKey = file('approver.pem');
openssl('genpkey', '-algorithm', 'ed25519', '-out', opensslKey);
chmodSync(opensslKey, 0o600);
const opensslPub = file('approver.pub.pem');
openssl('pkey', '-in', opensslKey, '-pubout', '-out', opensslPub);

describe('vilna-mpc approve', () => {
  it('signs a plan with an OpenSSL-generated key; OpenSSL verifies the approval', async () => {
    const p = plan();
    const c = capture();
    const { approval } = await approvePlanFile(writePlan('plan.json', p), { key: opensslKey }, c.io);
    const printed = JSON.parse(c.stdout()) as Approval;
    expect(printed).toEqual(approval);
    expect(approval.planHash).toBe(planHashHex(p));
    expect(verifyApproval(approval)).toBe(true);

    // The approver id is the raw public key OpenSSL derived from the same file.
    const spki = createPublicKey(readFileSync(opensslPub, 'utf8')).export({ format: 'der', type: 'spki' });
    expect(approval.approver).toBe(spki.subarray(-32).toString('hex'));

    writeFileSync(file('msg.bin'), approvalMessage(approval.planHash));
    writeFileSync(file('sig.bin'), Buffer.from(approval.signature, 'hex'));
    const verified = openssl('pkeyutl', '-verify', '-pubin', '-inkey', opensslPub, '-rawin', '-in', file('msg.bin'), '-sigfile', file('sig.bin'));
    expect(verified).toMatch(/Signature Verified Successfully/);
  });

  it('shows the approver what they sign on stderr', async () => {
    const p = plan();
    const c = capture();
    await approvePlanFile(writePlan('summary.json', p), { key: opensslKey }, c.io);
    const s = c.stderr();
    expect(s).toContain(`plan hash  ${planHashHex(p)}`);
    expect(s).toContain('protocol   keygen');
    expect(s).toContain('key        treasury-1');
    expect(s).toContain('threshold  2-of-3');
    expect(s).toContain('expires    2030-01-01T00:00:00Z');
    for (const party of p.parties) expect(s).toContain(`${party.name}  ${party.identityKey}  ${party.endpoint}`);
    expect(c.stdout()).not.toContain('plan hash');
  });

  it('summarises a reshare with its previous holders and dealers', async () => {
    const old = plan().parties;
    const newcomer = { index: 4, name: 'region-4/vault/party-4', identityKey: identity(), endpoint: 'https://party-4.example:8443' };
    const p = plan({ protocol: 'reshare', epoch: 2, parties: [old[0], old[2], newcomer], previous: { epoch: 1, threshold: 2, parties: old, dealers: [1, 3] } });
    const c = capture();
    await approvePlanFile(writePlan('reshare.json', p), { key: opensslKey }, c.io);
    expect(c.stderr()).toContain('previous   epoch 1, 2-of-3, dealers 1,3');
    expect(c.stderr()).toContain('joining    4\nleaving    2');
  });

  it('signs an approver change, showing the current and the new set', async () => {
    const set = (n: number, q: number) => makeApproverSet(Array.from({ length: n }, () => approverPublicKeyHex(generateKeyPairSync('ed25519').privateKey)), q);
    const ch: ApproverChange = { version: 1, kind: 'approver-change', from: set(3, 2), to: set(2, 2), expiresAt: '2030-01-01T00:00:00Z', nonce: randomBytes(32).toString('hex') };
    const c = capture();
    const { approval } = await approvePlanFile(writePlan('change.json', ch), { key: opensslKey }, c.io);
    expect(approval.planHash).toBe(approverChangeHashHex(ch));
    expect(verifyApproval(approval)).toBe(true);
    expect(c.stderr()).toContain('protocol   approver-change');
    expect(c.stderr()).toContain(`current    2-of-3, set ${bytesToHex(approverSetHash(ch.from))}`);
    expect(c.stderr()).toContain(`new        2-of-2, set ${bytesToHex(approverSetHash(ch.to))}`);
    for (const k of ch.to.keys) expect(c.stderr()).toContain(`  ${k}`);
    await expect(approvePlanFile(writePlan('same.json', { ...ch, to: ch.from }), { key: opensslKey }, c.io)).rejects.toThrow(/E_PLAN_INVALID: to: is the same approver set/);
  });

  it('reads the plan from stdin with "-" and prints one JSON line with --json', async () => {
    const p = plan();
    const c = capture({ stdin: Readable.from([Buffer.from(JSON.stringify(p))]) });
    await approvePlanFile('-', { key: opensslKey, json: true }, c.io);
    const lines = c.stdout().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect((JSON.parse(lines[0]!) as Approval).planHash).toBe(planHashHex(p));
  });

  it('writes the approval to --out instead of stdout', async () => {
    const c = capture();
    const { approval } = await approvePlanFile(writePlan('out-plan.json', plan()), { key: opensslKey, out: file('approval.json') }, c.io);
    expect(JSON.parse(readFileSync(file('approval.json'), 'utf8'))).toEqual(approval);
    expect(c.stdout()).toBe('');
  });

  it('refuses a plan the parties would refuse, naming the rule, and signs nothing', async () => {
    const c = capture();
    await expect(approvePlanFile(writePlan('t1.json', plan({ threshold: 1 })), { key: opensslKey }, c.io)).rejects.toThrow(/E_PLAN_INVALID: threshold: 1 refused/);
    await expect(approvePlanFile(writePlan('extra.json', { ...plan(), note: 'x' }), { key: opensslKey }, c.io)).rejects.toThrow(/E_PLAN_INVALID: .*note/);
    expect(c.stdout()).toBe('');
  });

  it('refuses an expired plan', async () => {
    const c = capture({ now: new Date('2030-01-01T00:00:00Z') });
    await expect(approvePlanFile(writePlan('expired.json', plan()), { key: opensslKey }, c.io)).rejects.toMatchObject({ code: 'E_PLAN_EXPIRED' });
    expect(c.stdout()).toBe('');
  });

  it('refuses unreadable input: a missing file, non-JSON, a missing key', async () => {
    const c = capture();
    await expect(approvePlanFile(file('nope.json'), { key: opensslKey }, c.io)).rejects.toMatchObject({ code: 'E_PLAN_UNREADABLE' });
    writeFileSync(file('garbage.json'), '{ not json');
    await expect(approvePlanFile(file('garbage.json'), { key: opensslKey }, c.io)).rejects.toThrow(/E_PLAN_UNREADABLE: .*not valid JSON/);
    await expect(approvePlanFile(writePlan('ok.json', plan()), { key: file('no-key.pem') }, c.io)).rejects.toMatchObject({ code: 'E_KEY_UNREADABLE' });
  });

  it('refuses a key that is not Ed25519', async () => {
    const ecKey = file('p256.pem');
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', ecKey);
    chmodSync(ecKey, 0o600);
    await expect(approvePlanFile(writePlan('ec.json', plan()), { key: ecKey }, capture().io)).rejects.toMatchObject({ code: 'E_APPROVER_KEY_INVALID' });
  });

  it('warns when the key file is readable by others', async () => {
    const loose = file('loose.pem');
    writeFileSync(loose, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o644 });
    chmodSync(loose, 0o644);
    const c = capture();
    await approvePlanFile(writePlan('loose-plan.json', plan()), { key: loose }, c.io);
    expect(c.stderr()).toMatch(/warning: .*readable by group or others \(mode 644\)/);
  });
});

describe('vilna-mpc approver keygen', () => {
  it('writes a PKCS#8 Ed25519 key with mode 0600 and prints its public key', async () => {
    const c = capture();
    const out = file('dev-approver.pem');
    const { approver } = await approverKeygen({ out }, c.io);
    expect(c.stdout().trim()).toBe(approver);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const pem = readFileSync(out, 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPrivateKey(pem).asymmetricKeyType).toBe('ed25519');
    // OpenSSL reads it and derives the same public key.
    const der = execFileSync(OPENSSL, ['pkey', '-in', out, '-pubout', '-outform', 'DER']);
    expect(der.subarray(-32).toString('hex')).toBe(approver);
    const signed = await approvePlanFile(writePlan('dev-plan.json', plan()), { key: out }, capture().io);
    expect(signed.approval.approver).toBe(approver);
  });

  it('refuses to overwrite an existing file', async () => {
    const out = file('dev-approver-2.pem');
    await approverKeygen({ out }, capture().io);
    const before = readFileSync(out, 'utf8');
    await expect(approverKeygen({ out }, capture().io)).rejects.toMatchObject({ code: 'E_OUTPUT_EXISTS' });
    expect(readFileSync(out, 'utf8')).toBe(before);
  });
});

describe('registerApprove', () => {
  it('registers approve and approver keygen on the root command', async () => {
    const program = new Command('vilna-mpc').exitOverride();
    registerApprove(program);
    expect(program.commands.map((c) => c.name()).sort()).toEqual(['approve', 'approver']);
    const out = file('via-commander.pem');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const writeErr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await program.parseAsync(['approver', 'keygen', '--out', out, '--json'], { from: 'user' });
      const report = JSON.parse(String(write.mock.calls.at(-1)?.[0])) as { approver: string; out: string };
      expect(report.out).toBe(out);
      expect(existsSync(out)).toBe(true);
      await program.parseAsync(['approve', writePlan('cmd-plan.json', plan({ threshold: 1 })), '--key', out], { from: 'user' });
      expect(process.exitCode).toBe(1);
      expect(String(writeErr.mock.calls.at(-1)?.[0])).toMatch(/^vilna-mpc approve: E_PLAN_INVALID: threshold/);
    } finally {
      write.mockRestore();
      writeErr.mockRestore();
      process.exitCode = 0;
    }
  });
});
