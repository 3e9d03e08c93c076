/**
 * Changing the parties' approvers (DESIGN §4 "Trust anchors"): three party nodes as separate
 * processes with a 2-of-3 key. An approver change without the new set's quorum, or with a
 * forged approval, is refused by every party with nothing changed; a complete one re-pins every
 * token and re-seals every shard, after which plans approved by the old approvers are refused,
 * plans approved by the new ones run, the key signs, and a party restarted with its old
 * configuration keeps the new set. A party killed after re-pinning but before re-sealing
 * finishes the change when it starts again.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approverChangeHashHex,
  approverPublicKeyHex,
  approverSetHash,
  makeApproverSet,
  planHashHex,
  signApproval,
  type Approval,
  type ApproverChange,
  type ApproverSet,
  type Plan,
} from '../../api/index.ts';
import type { SignatureResponse } from '../../api/signing.ts';
import { CeremonyFailed, LocalCluster } from '../../cli/local-parties.ts';
import { expectSignatureValid } from '../support/signatures.ts';
import { E2E_TEST_TIMEOUT_MS } from '../support/timeouts.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const KEY = 'approvers-key';

let dir: string;
let c: LocalCluster;
let publicKey: string;
let requests = 0;

const newKeys = (): KeyObject[] => [0, 1, 2].map(() => generateKeyPairSync('ed25519').privateKey);
const setOf = (keys: readonly (KeyObject | string)[], quorum = 2): ApproverSet => makeApproverSet(keys.map((k) => approverPublicKeyHex(k)), quorum);

function change(from: ApproverSet, to: ApproverSet): ApproverChange {
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { version: 1, kind: 'approver-change', from, to, expiresAt, nonce: randomBytes(32).toString('hex') };
}

const approveWith = (hash: string, keys: readonly (KeyObject | string)[]): Approval[] => keys.map((k) => signApproval(hash, k));

async function signs(party: number): Promise<SignatureResponse> {
  const res = await c.sign(party, KEY, { requestId: `approvers-${requests++}`, message: `after approver change ${requests}`, encoding: 'utf8', hash: 'sha256' });
  expect(res.status).toBe(201);
  const sig = res.body as SignatureResponse;
  expect(sig.publicKey).toBe(publicKey);
  expectSignatureValid(sig);
  return sig;
}

async function pinned(): Promise<(string | null | undefined)[]> {
  return Promise.all([1, 2, 3].map(async (p) => (await c.health(p)).body.approvers));
}

const original = (): ApproverSet => setOf(c.approverKeys);
const second = newKeys();
const third = newKeys();

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-approvers-'));
  c = await LocalCluster.create({
    dir,
    parties: 3,
    primesFile: path.join(root, 'test', 'fixtures', 'safe-primes.json'),
    presignPoolSize: 1,
    entry: { script: path.join(root, 'test', 'support', 'test-sidecar.ts') },
  });
  await c.startAll();
  const plan = c.plan({ protocol: 'keygen', keyId: KEY, epoch: 0, threshold: 2 });
  publicKey = (await c.ceremony(1, plan, c.approve(plan))).result!.publicKey;
  await c.approvePolicy(1, KEY, 0);
});

afterAll(async () => {
  await c?.stopAll('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('changing the approvers of every party', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('is refused everywhere, with nothing changed, without a quorum of the new set or with a forged approval', async () => {
    const before = await pinned();
    expect(before.every((h) => h === bytesToHex(approverSetHash(original())))).toBe(true);
    const ch = change(original(), setOf(second));
    const hash = approverChangeHashHex(ch);
    const oldOnly = approveWith(hash, c.approverKeys.slice(0, 2));
    for (const r of await c.changeApprovers(ch, oldOnly)) {
      expect(r.status).toBe(403);
      expect(JSON.stringify(r.body)).toMatch(/E_PLAN_UNAPPROVED.*new approvers/);
    }
    const forged = [...oldOnly, ...approveWith(hash, second.slice(0, 2))];
    forged[3] = { ...forged[3]!, signature: forged[2]!.signature };
    for (const r of await c.changeApprovers(ch, forged)) expect((r.body as { error: { code: string } }).error.code).toBe('E_APPROVAL_INVALID');
    // Approved by the new set alone: the current approvers did not agree.
    for (const r of await c.changeApprovers(ch, approveWith(hash, second))) expect(r.status).toBe(403);
    expect(await pinned()).toEqual(before);
    await signs(1);
  });

  it('re-pins every token and re-seals every shard; old approvers can no longer start a plan', async () => {
    const ch = change(original(), setOf(second));
    const hash = approverChangeHashHex(ch);
    const results = await c.changeApprovers(ch, [...approveWith(hash, c.approverKeys.slice(0, 2)), ...approveWith(hash, second.slice(1))]);
    const expected = bytesToHex(approverSetHash(setOf(second)));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ changeHash: hash, approvers: expected, sequence: 2 });
      expect((r.body as { resealed: number }).resealed).toBeGreaterThanOrEqual(1);
    }
    expect(await pinned()).toEqual([expected, expected, expected]);
    // Repeating the same change is answered, not applied twice.
    expect((await c.changeApprovers(ch, []))[0]).toMatchObject({ status: 200, body: { changeHash: hash, resealed: 0 } });
    await signs(2);

    const refresh = c.plan({ protocol: 'refresh', keyId: KEY, epoch: 1, threshold: 2 });
    const refused = await c.ceremony(1, refresh, c.approve(refresh)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CeremonyFailed);
    expect((refused as Error).message).toMatch(/E_APPROVAL_INVALID/);
  });

  it('runs plans the new approvers approved, and keeps the new set when a party restarts with its old configuration', async () => {
    const refresh: Plan = c.plan({ protocol: 'refresh', keyId: KEY, epoch: 1, threshold: 2 });
    const done = await c.ceremony(1, refresh, approveWith(planHashHex(refresh), second.slice(0, 2)));
    expect(done.result).toMatchObject({ publicKey, epoch: 1 });
    expect((await signs(3)).epoch).toBe(1);
    await c.stop(2);
    await c.start(2);
    expect((await c.health(2)).body.approvers).toBe(bytesToHex(approverSetHash(setOf(second))));
    await signs(2);
  });

  it('finishes a change on restart when a party was killed after re-pinning, before re-sealing', async () => {
    const ch = change(setOf(second), setOf(third));
    const hash = approverChangeHashHex(ch);
    const approvals = [...approveWith(hash, second.slice(0, 2)), ...approveWith(hash, third.slice(0, 2))];
    await c.stop(3);
    await c.start(3, { env: { VILNA_TEST_CRASH_AT: 'approvers.after-pin' } });
    const died = c.party(3).exited!;
    const [one, two, three] = await c.changeApprovers(ch, approvals);
    expect(one!.status).toBe(200);
    expect(two!.status).toBe(200);
    expect(three!.status).not.toBe(200);
    await died;
    await c.start(3);
    const expected = bytesToHex(approverSetHash(setOf(third)));
    expect(await pinned()).toEqual([expected, expected, expected]);
    const sig = await signs(3);
    expect(sig.signers).toContain(3);
  });
});
