/**
 * The approver-change record logic against a fake token (the real vault's re-sealing is covered
 * by test/e2e/approver-change.test.ts): a record is never acted on unverified, a change is never
 * applied twice, an expired unfinished change is abandoned, a change whose pin already moved is
 * finished.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approverChangeHashHex, approverPublicKeyHex, approverSetHash, makeApproverSet, signApproval, type ApproverChange, type ApproverSet } from '../../api/index.ts';
import { writeJsonAtomic } from './atomic-json.ts';
import { ApproverRotation, type RotationVault } from './approver-rotation.ts';
import { WriteGate } from './write-gate.ts';

const keys = (): KeyObject[] => [0, 1, 2].map(() => generateKeyPairSync('ed25519').privateKey);
const setOf = (ks: readonly KeyObject[]): ApproverSet => makeApproverSet(ks.map((k) => approverPublicKeyHex(k)), 2);
const A = keys();
const B = keys();
const EVIL = keys();

function change(from: readonly KeyObject[], to: readonly KeyObject[], expiresAt = '2099-01-01T00:00:00Z'): { change: ApproverChange; approvals: ReturnType<typeof signApproval>[] } {
  const c: ApproverChange = { version: 1, kind: 'approver-change', from: setOf(from), to: setOf(to), expiresAt, nonce: randomBytes(32).toString('hex') };
  const h = approverChangeHashHex(c);
  return { change: c, approvals: [...from.slice(0, 2), ...to.slice(0, 2)].map((k) => signApproval(h, k)) };
}

class FakeToken implements RotationVault {
  pin = { sequence: 1, hash: approverSetHash(setOf(A)) };
  approverPin() {
    return Promise.resolve(this.pin);
  }
  replaceApproverPin(expected: { sequence: number; hash: Uint8Array }, next: Uint8Array) {
    if (expected.sequence !== this.pin.sequence) throw new Error('pin changed meanwhile');
    this.pin = { sequence: this.pin.sequence + 1, hash: next };
    return Promise.resolve(this.pin);
  }
  reseal(blob: Uint8Array) {
    return Promise.resolve(blob);
  }
}

let dir: string;
let token: FakeToken;
let inForce: ApproverSet | undefined;
const rotation = () =>
  new ApproverRotation({ vault: token, dir: path.join(dir, 'approvers'), blobsDir: path.join(dir, 'blobs'), gate: new WriteGate(), audit: async () => undefined, changed: (s) => void (inForce = s) });
const pinned = () => bytesToHex(token.pin.hash);
const hashOf = (ks: readonly KeyObject[]) => bytesToHex(approverSetHash(setOf(ks)));

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-rotation-'));
  token = new FakeToken();
  inForce = undefined;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('ApproverRotation', () => {
  it('applies an approved change: the pin moves and the new set is in force', async () => {
    const { change: c, approvals } = change(A, B);
    const r = await rotation().apply(c, approvals);
    expect(r).toMatchObject({ changeHash: approverChangeHashHex(c), approvers: hashOf(B), sequence: 2 });
    expect(pinned()).toBe(hashOf(B));
    expect(inForce).toEqual(setOf(B));
  });

  it('never acts on an unfinished record that does not verify against the pin (a tampered state file)', async () => {
    const forged: ApproverChange = { version: 1, kind: 'approver-change', from: setOf(A), to: setOf(EVIL), expiresAt: '2099-01-01T00:00:00Z', nonce: randomBytes(32).toString('hex') };
    await writeJsonAtomic(path.join(dir, 'approvers', 'change.json'), { change: forged, approvals: [], state: 'accepted' });
    await expect(rotation().apply({}, [])).rejects.toThrow();
    expect(pinned()).toBe(hashOf(A));
    expect(inForce).toBeUndefined();
    expect(await rotation().resume(setOf(A))).toEqual({ approvers: setOf(A), stale: false });
    expect(pinned()).toBe(hashOf(A));
  });

  it('abandons an unfinished change that expired before the pin moved', async () => {
    const { change: c, approvals } = change(A, B, '2020-01-01T00:00:00Z');
    await writeJsonAtomic(path.join(dir, 'approvers', 'change.json'), { change: c, approvals, state: 'accepted' });
    expect(await rotation().resume(setOf(A))).toEqual({ approvers: setOf(A), stale: false });
    expect(pinned()).toBe(hashOf(A));
    await expect(rotation().apply(c, approvals)).rejects.toThrow(/abandoned/);
  });

  it('finishes a change whose pin already moved, and then rules by the pinned set whatever the configuration says', async () => {
    const { change: c, approvals } = change(A, B, '2020-01-01T00:00:00Z');
    await writeJsonAtomic(path.join(dir, 'approvers', 'change.json'), { change: c, approvals, state: 'accepted' });
    token.pin = { sequence: 2, hash: approverSetHash(setOf(B)) };
    expect(await rotation().resume(setOf(A))).toEqual({ approvers: setOf(B), stale: true });
    expect(inForce).toEqual(setOf(B));
    expect(await rotation().resume(setOf(EVIL))).toEqual({ approvers: setOf(B), stale: true });
  });

  it('answers a repeated change without applying it again, and refuses an old change replayed later', async () => {
    const ab = change(A, B);
    const r = rotation();
    await r.apply(ab.change, ab.approvals);
    expect(await r.apply(ab.change, [])).toMatchObject({ changeHash: approverChangeHashHex(ab.change), resealed: 0 });
    const ba = change(B, A);
    await r.apply(ba.change, ba.approvals);
    expect(pinned()).toBe(hashOf(A));
    // A -> B again with the first change's own approvals: the pin matches its `from`, but it was applied before.
    await expect(r.apply(ab.change, ab.approvals)).rejects.toThrow(/applied here before/);
    expect(pinned()).toBe(hashOf(A));
  });
});
