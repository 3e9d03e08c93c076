/**
 * Reshare end to end (DESIGN §3 "Reshare", §4 "Epoch switch"): four party nodes as separate
 * processes; a 2-of-3 key on parties 1–3 moves to 2-of-4 with newcomer 4, then to 2-of-3 without
 * party 2 (a dealer that leaves), then to 2-of-2 on parties 3 and 4 (party 1 leaves without
 * dealing, and is down meanwhile). Every step keeps the public key, signs through a new holder
 * (OpenSSL and noble verify), and every party a reshare leaves out shreds its share, the one
 * that was down once the coordinator tells it after a restart. One cluster for the file.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignatureRequest, SignatureResponse } from '../../api/signing.ts';
import { planHashHex } from '../../api/index.ts';
import { CeremonyFailed, DEVELOPMENT_POLICY, LocalCluster } from '../../cli/local-parties.ts';
import { expectSignatureValid } from '../support/signatures.ts';
import { E2E_TEST_TIMEOUT_MS } from '../support/timeouts.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PRIMES = path.join(root, 'test', 'fixtures', 'safe-primes.json');
const KEY = 'reshare-key';

let dir: string;
let c: LocalCluster;
let publicKey: string;
let xpub: string;

async function sign(party: number, requestId: string): Promise<{ status: number; body: SignatureResponse & { error?: { code: string } } }> {
  return (await c.sign(party, KEY, { requestId, message: `reshare ${requestId}`, encoding: 'utf8', hash: 'sha256' } as SignatureRequest)) as never;
}

async function keyAt(party: number): Promise<{ status: number; body: Record<string, unknown> }> {
  return (await c.getKey(party, KEY)) as never;
}

async function sealedFiles(party: number): Promise<string[]> {
  try {
    return (await readdir(path.join(dir, `party-${party}`, 'blobs', KEY))).filter((f) => f.endsWith('.blob'));
  } catch {
    return [];
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-reshare-'));
  c = await LocalCluster.create({ dir, parties: 4, primesFile: PRIMES, presignPoolSize: 1 });
  await c.startAll();
  const plan = c.plan({ protocol: 'keygen', keyId: KEY, epoch: 0, threshold: 2, members: [1, 2, 3] });
  const done = await c.ceremony(1, plan, c.approve(plan));
  publicKey = done.result!.publicKey;
  xpub = done.result!.xpub;
  await c.approvePolicy(1, KEY, 0);
});

afterAll(async () => {
  await c?.stopAll('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('reshare across four processes', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('keeps a newcomer out of the key until a reshare brings it in', async () => {
    expect((await keyAt(4)).status).toBe(404);
  });

  it('moves 2-of-3 to 2-of-4 with a newcomer; the newcomer signs under the same key', async () => {
    // Dealers 1 and 3; coordinated by 2, which stays without dealing; 4 joins with the policy the plan carries.
    const plan = c.plan({ protocol: 'reshare', keyId: KEY, epoch: 1, threshold: 2, members: [1, 2, 3, 4], previous: { threshold: 2, members: [1, 2, 3], dealers: [1, 3] }, policy: DEVELOPMENT_POLICY });
    const done = await c.ceremony(2, plan, c.approve(plan));
    expect(done.result).toMatchObject({ publicKey, xpub, epoch: 1 });
    for (const p of [1, 2, 3, 4]) expect((await keyAt(p)).body).toMatchObject({ publicKey, xpub, epoch: 1, threshold: 2 });
    const res = await sign(4, 'after-join');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ publicKey, epoch: 1 });
    expect(res.body.signers).toContain(4);
    expectSignatureValid(res.body);
  });

  it('cannot be made to shred a share by a signature a client obtained (the epoch test path is reserved)', async () => {
    const plan = c.plan({ protocol: 'reshare', keyId: KEY, epoch: 2, threshold: 2, members: [1, 3, 4], previous: { threshold: 2, members: [1, 2, 3, 4], dealers: [2, 4] } });
    const approvals = c.approve(plan);
    const message = `vilna-mpc epoch test ${KEY} 2 ${planHashHex(plan)}`;
    // Under the key itself, which a reshare keeps, a client can get this text signed...
    const atRoot = await c.sign(1, KEY, { requestId: 'forge-root', message, encoding: 'utf8', hash: 'sha256' });
    expect(atRoot.status).toBe(201);
    const forged = { r: (atRoot.body as SignatureResponse).r, s: (atRoot.body as SignatureResponse).s };
    // ...but it proves nothing: leaving party 2 keeps its share, even when a party of the key hands it in.
    const res = await (await c.asParty(1)).request(c.party(2).ready!.peerUrl, `/v1/peer/control/keys/${KEY}/retire`, { planHash: planHashHex(plan), testSignature: forged, plan, approvals }, { method: 'POST', timeoutMs: 30_000, retries: 0 });
    expect(res.status).toBe(403);
    expect((res.body as { error: { code: string } }).error.code).toBe('E_BAD_SIGNATURE');
    expect((await keyAt(2)).body).toMatchObject({ epoch: 1 });
    // And no client can have anything signed under the reserved path.
    const reserved = await c.sign(1, KEY, { requestId: 'forge-path', message, encoding: 'utf8', hash: 'sha256', derivationPath: 'm/2147483647' });
    expect(reserved.status).toBe(400);
  });

  it('drops a dealer that leaves: it deals, then shreds its share once the new epoch signed', async () => {
    const plan = c.plan({ protocol: 'reshare', keyId: KEY, epoch: 2, threshold: 2, members: [1, 3, 4], previous: { threshold: 2, members: [1, 2, 3, 4], dealers: [2, 4] } });
    const done = await c.ceremony(4, plan, c.approve(plan));
    expect(done.result).toMatchObject({ publicKey, epoch: 2 });
    expect((await keyAt(2)).status).toBe(404);
    expect(await sealedFiles(2)).toEqual([]);
    for (const p of [1, 3, 4]) {
      expect((await keyAt(p)).body).toMatchObject({ publicKey, epoch: 2, threshold: 2 });
      // Only the new epoch's share is left: the old epochs are shredded.
      expect(await sealedFiles(p)).toEqual([`${KEY}.e2.blob`]);
    }
    // Party numbers are kept: 1, 3 and 4 now, and a signature through 1 (without 2) verifies.
    const res = await sign(1, 'after-leave');
    expect(res.status).toBe(201);
    expect(res.body.signers).not.toContain(2);
    expectSignatureValid(res.body);
  });

  it('moves 2-of-2 away from an old holder that is down without waiting for it; told later, it shreds its share', async () => {
    // Party 1 neither deals nor stays: the reshare needs nothing of it (this is how a lost party is removed).
    const plan = c.plan({ protocol: 'reshare', keyId: KEY, epoch: 3, threshold: 2, members: [3, 4], previous: { threshold: 2, members: [1, 3, 4], dealers: [3, 4] } });
    const ready = c.party(1).ready!;
    await c.stop(1);
    const planHash = await c.startCeremony(3, plan, c.approve(plan));
    const done = await c.waitCeremony(3, planHash);
    expect(done.result).toMatchObject({ publicKey, epoch: 3 });
    const status = await c.client.request(c.party(3).ready!.peerUrl, `/v1/peer/control/ceremonies/${planHash}`, undefined, { method: 'GET', timeoutMs: 10_000 });
    expect(status.body).toMatchObject({ phase: 'done', notRetired: [1] });
    const res = await sign(3, 'two-of-two');
    expect(res.status).toBe(201);
    expect(res.body.signers).toEqual([3, 4]);
    expectSignatureValid(res.body);

    // Back up, party 1 still holds its epoch-2 share until the coordinator, at its next start, tells it.
    await c.start(1);
    expect(c.party(1).ready!.identityKey).toBe(ready.identityKey);
    expect((await keyAt(1)).body).toMatchObject({ epoch: 2 });
    await c.stop(3);
    await c.start(3);
    const deadline = Date.now() + 60_000;
    while ((await keyAt(1)).status !== 404) {
      if (Date.now() > deadline) throw new Error('party 1 was not told to shred its share');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await sealedFiles(1)).toEqual([]);

    // Restarted once more, with nothing left to tell, the coordinator answers from its record:
    // asked how the plan stands, or handed it again (without approvals), it says done and starts nothing.
    await c.stop(3);
    await c.start(3);
    const again = await c.client.request(c.party(3).ready!.peerUrl, `/v1/peer/control/ceremonies/${planHash}`, undefined, { method: 'GET', timeoutMs: 10_000 });
    expect(again.body).toMatchObject({ phase: 'done', result: { publicKey, epoch: 3 } });
    const resent = await c.client.request(c.party(3).ready!.peerUrl, '/v1/peer/control/ceremonies', { plan, approvals: [] }, { timeoutMs: 10_000 });
    expect(resent).toMatchObject({ status: 202, body: { planHash, phase: 'done' } });
    for (const p of [3, 4]) expect((await keyAt(p)).body).toMatchObject({ epoch: 3 });
  });

  it('refuses a reshare whose previous holders are not the key held (nothing changes)', async () => {
    // Approved, but it names epoch 2's holders: the key at 3 and 4 has moved on.
    const stale = c.plan({ protocol: 'reshare', keyId: KEY, epoch: 4, threshold: 2, members: [3, 4], previous: { threshold: 2, members: [1, 3, 4], dealers: [3, 4] } });
    const refused = await c.ceremony(3, stale, c.approve(stale)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CeremonyFailed);
    expect((refused as Error).message).toMatch(/E_EPOCH_DISCONTINUITY/);
    for (const p of [3, 4]) expect((await keyAt(p)).body).toMatchObject({ epoch: 3 });
    const res = await sign(4, 'after-refusal');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expectSignatureValid(res.body);
  });
});
