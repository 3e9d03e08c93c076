/**
 * A corrupt party among separate node processes (DESIGN §7): one party runs the test-only entry
 * point with one of the simulator's named behaviours; the honest nodes abort naming it, and no
 * honest party's stored key changes. Where the deviation cannot be attributed (issue 10 item 4),
 * the honest node quarantines the signer set with the corrupt party and signs with another one.
 * The same entry point serves the operator's tests.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { SignatureResponse } from '../../api/signing.ts';
import { CeremonyFailed, LocalCluster } from '../../cli/local-parties.ts';
import { QUARANTINE_AFTER } from '../../sidecar/node/signer-sets.ts';
import { expectSignatureValid } from '../support/signatures.ts';
import { E2E_TEST_TIMEOUT_MS } from '../support/timeouts.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs: string[] = [];
let cluster: LocalCluster | undefined;

async function corruptCluster(behaviour: string, corrupt = 3): Promise<LocalCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vilna-corrupt-'));
  dirs.push(dir);
  const c = await LocalCluster.create({
    dir,
    parties: 3,
    primesFile: path.join(root, 'test', 'fixtures', 'safe-primes.json'),
    presignPoolSize: 0,
    roundTimeoutMs: 30_000,
    entry: { script: path.join(root, 'test', 'support', 'test-sidecar.ts') },
  });
  cluster = c;
  await Promise.all([1, 2, 3].map((p) => c.start(p, p === corrupt ? { env: { VILNA_TEST_CORRUPT: behaviour } } : {})));
  return c;
}

async function keyFiles(c: LocalCluster, party: number): Promise<string[]> {
  try {
    return await readdir(path.join(c.party(party).dir, 'keys'));
  } catch {
    return [];
  }
}

afterEach(async () => {
  await cluster?.stopAll('SIGKILL');
  cluster = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('a corrupt party among node processes', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('a bad Schnorr proof in keygen: the honest nodes abort naming party 3, and store no key', async () => {
    const c = await corruptCluster('sch');
    const plan = c.plan({ protocol: 'keygen', keyId: 'corrupt-key', epoch: 0, threshold: 2 });
    const err = await c.ceremony(1, plan, c.approve(plan)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CeremonyFailed);
    const status = (err as CeremonyFailed).status as { error: { code: string; culprits: number[]; protocol: string } };
    expect(status.error, JSON.stringify(status.error)).toMatchObject({ code: 'E_PROTOCOL_ABORT', protocol: 'keygen', culprits: [3] });
    for (const p of [1, 2]) expect(await keyFiles(c, p)).toEqual([]);
  });

  it('a wrong δ share in presigning: the signing request fails naming party 3; the key is unchanged', async () => {
    const c = await corruptCluster('delta');
    const plan = c.plan({ protocol: 'keygen', keyId: 'delta-key', epoch: 0, threshold: 2 });
    // Keygen and aux-info are honest; the corrupt party deviates only when presigning. Party 1
    // coordinates, so the epoch's test signature is made by the honest pair {1, 2}.
    await c.ceremony(1, plan, c.approve(plan));
    await c.approvePolicy(1, 'delta-key', 0);
    const before = await readFile(path.join(c.party(1).dir, 'keys', 'delta-key.json'), 'utf8');
    // Party 3 leads the signer set {1, 3}.
    const res = await c.sign(3, 'delta-key', { requestId: 'delta', message: 'delta', encoding: 'utf8', hash: 'sha256' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const res1 = await c.sign(1, 'delta-key', { requestId: 'delta-1', message: 'delta', encoding: 'utf8', hash: 'sha256' });
    // Party 1 signs with party 2 (its default set {1, 2}): the honest pair is unaffected.
    expect(res1.status).toBe(201);
    const log1 = await readFile(path.join(c.party(1).dir, 'sidecar.log'), 'utf8');
    expect(log1).toMatch(/"protocol":"presign"[^\n]*"culprits":\[3\]/);
    expect(await readFile(path.join(c.party(1).dir, 'keys', 'delta-key.json'), 'utf8')).toBe(before);
  });

  /**
   * Party 2 deviates where nobody can be named; party 1's default signer set {1, 2} holds it.
   * Party 3 coordinates, so the epoch's test signature is made by the honest pair {1, 3}; the
   * pool is off, so every request presigns and each abort is one of a request.
   */
  async function griefedKey(behaviour: string, keyId: string): Promise<LocalCluster> {
    const c = await corruptCluster(behaviour, 2);
    const plan = c.plan({ protocol: 'keygen', keyId, epoch: 0, threshold: 2 });
    await c.ceremony(3, plan, c.approve(plan));
    await c.approvePolicy(3, keyId, 0);
    return c;
  }

  /** Signs through party 1 until a request succeeds; returns the failed answers and the signature. */
  async function signThroughGriefing(c: LocalCluster, keyId: string, attempts: number): Promise<{ failed: { status: number; code: string }[]; signed: SignatureResponse }> {
    const failed: { status: number; code: string }[] = [];
    for (let i = 0; i < attempts; i++) {
      const res = await c.sign(1, keyId, { requestId: `grief-${i}`, message: `grief ${i}`, encoding: 'utf8', hash: 'sha256' });
      if (res.status === 201) return { failed, signed: res.body as SignatureResponse };
      failed.push({ status: res.status, code: (res.body as { error: { code: string } }).error.code });
    }
    throw new Error(`no signature in ${attempts} attempts: ${JSON.stringify(failed)}`);
  }

  async function metricsOf(c: LocalCluster, party: number): Promise<string> {
    return fetch(c.party(party).ready!.metricsUrl!).then((r) => r.text());
  }

  /** The value of one series in the exposition text, matched on the given labels. */
  function series(text: string, name: string, labels: Record<string, string>): number | undefined {
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      if (Object.entries(labels).every(([k, v]) => m[2]!.includes(`${k}="${v}"`))) return Number(m[3]);
    }
    return undefined;
  }

  it('a signer that keeps breaking presigning\'s χ check unnamed: party 1 quarantines {1, 2} and signs with {1, 3}', { timeout: 2 * E2E_TEST_TIMEOUT_MS }, async () => {
    const keyId = 'chi-key';
    const c = await griefedKey('chi', keyId);
    const { failed, signed } = await signThroughGriefing(c, keyId, QUARANTINE_AFTER + 2);
    // Presigning fails at party 1 itself (its peers only accept the start), so each request's
    // answer comes after party 1 counted its own abort: exactly QUARANTINE_AFTER fail.
    expect(failed).toEqual(Array.from({ length: QUARANTINE_AFTER }, () => ({ status: 502, code: 'E_PROTOCOL_ABORT' })));
    expect(signed.signers).toEqual([1, 3]);
    expectSignatureValid(signed);
    const again = await c.sign(1, keyId, { requestId: 'after', message: 'after', encoding: 'utf8', hash: 'sha256' });
    expect(again.status).toBe(201);
    expect((again.body as SignatureResponse).signers).toEqual([1, 3]);

    const log1 = await readFile(path.join(c.party(1).dir, 'sidecar.log'), 'utf8');
    expect(log1).toMatch(/"protocol":"presign"[^\n]*"culprits":\[\]/);
    expect(log1).toMatch(/"signers":"1,2"[^\n]*signer set quarantined/);
    const m1 = await metricsOf(c, 1);
    expect(series(m1, 'vilna_mpc_unattributed_aborts_total', { key_id: keyId, signers: '1,2', protocol: 'presign' })).toBe(QUARANTINE_AFTER);
    expect(series(m1, 'vilna_mpc_signer_sets_quarantined', { key_id: keyId })).toBe(1);
    expect(series(m1, 'vilna_mpc_signer_set_switches_total', { key_id: keyId, reason: 'quarantined' })).toBe(1);
    // Party 3 signs with its default set {1, 3}, which never held the griefer.
    const res3 = await c.sign(3, keyId, { requestId: 'via-3', message: 'via 3', encoding: 'utf8', hash: 'sha256' });
    expect(res3.status).toBe(201);
    expect((res3.body as SignatureResponse).signers).toEqual([1, 3]);
    expect(series(await metricsOf(c, 3), 'vilna_mpc_signer_set_switches_total', { key_id: keyId, reason: 'quarantined' })).toBeUndefined();
  });

  it('a signer that keeps sending its partial signature with another digest: party 1 quarantines {1, 2} and signs with {1, 3}', { timeout: 2 * E2E_TEST_TIMEOUT_MS }, async () => {
    const keyId = 'digest-key';
    const c = await griefedKey('sign-digest', keyId);
    const { failed, signed } = await signThroughGriefing(c, keyId, QUARANTINE_AFTER + 2);
    // The answer of a failed online round may be the co-signer's refusal, which can reach party
    // 1 a moment before its own verdict is counted: one more request may fail than the threshold.
    expect(failed.length).toBeGreaterThanOrEqual(QUARANTINE_AFTER);
    expect(failed.length).toBeLessThanOrEqual(QUARANTINE_AFTER + 1);
    for (const f of failed) expect(f).toEqual({ status: 502, code: 'E_PROTOCOL_ABORT' });
    expect(signed.signers).toEqual([1, 3]);
    expectSignatureValid(signed);
    const m1 = await metricsOf(c, 1);
    expect(series(m1, 'vilna_mpc_unattributed_aborts_total', { key_id: keyId, signers: '1,2', protocol: 'sign' })).toBe(failed.length);
    expect(series(m1, 'vilna_mpc_unattributed_aborts_total', { key_id: keyId, signers: '1,2', protocol: 'presign' })).toBeUndefined();
    expect(series(m1, 'vilna_mpc_signer_sets_quarantined', { key_id: keyId })).toBe(1);
    expect(series(m1, 'vilna_mpc_signer_set_switches_total', { key_id: keyId, reason: 'quarantined' })).toBe(1);
  });
});
