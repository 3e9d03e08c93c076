/**
 * Reshare end to end (DESIGN §3 "Reshare", §4 "Epoch switch"): four party nodes as separate
 * processes; a 2-of-3 key on parties 1–3 moves to 2-of-4 with newcomer 4, then to 2-of-3 without
 * party 2 (a dealer that leaves), then to 2-of-2 on parties 3 and 4 (party 1 leaves without
 * dealing). Every step keeps the public key, signs through a new holder (OpenSSL and noble
 * verify), and every party a reshare leaves out shreds its share. One cluster for the file.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignatureRequest, SignatureResponse } from '../../api/signing.ts';
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

  it('tells an old holder that did not deal to shred its share, and signs 2-of-2 with the rest', async () => {
    const plan = c.plan({ protocol: 'reshare', keyId: KEY, epoch: 3, threshold: 2, members: [3, 4], previous: { threshold: 2, members: [1, 3, 4], dealers: [3, 4] } });
    const done = await c.ceremony(3, plan, c.approve(plan));
    expect(done.result).toMatchObject({ publicKey, epoch: 3 });
    expect((await keyAt(1)).status).toBe(404);
    expect(await sealedFiles(1)).toEqual([]);
    const res = await sign(3, 'two-of-two');
    expect(res.status).toBe(201);
    expect(res.body.signers).toEqual([3, 4]);
    expectSignatureValid(res.body);
  });

  it('refuses a reshare whose previous holders are not the key held (nothing changes)', async () => {
    // Approved, but it names epoch 2's holders: the key at 3 and 4 has moved on.
    const stale = c.plan({ protocol: 'reshare', keyId: KEY, epoch: 4, threshold: 2, members: [3, 4], previous: { threshold: 2, members: [1, 3, 4], dealers: [3, 4] } });
    const refused = await c.ceremony(3, stale, c.approve(stale)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CeremonyFailed);
    expect((refused as Error).message).toMatch(/E_EPOCH_DISCONTINUITY/);
    for (const p of [3, 4]) expect((await keyAt(p)).body).toMatchObject({ epoch: 3 });
    expectSignatureValid((await sign(4, 'after-refusal')).body);
  });
});
