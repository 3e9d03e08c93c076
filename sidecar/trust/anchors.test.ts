import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { approverPublicKeyHex, approverSetHash, makeApproverSet } from '../../api/index.ts';
import { pinTrustAnchors, type ApproverPinStore, type PinnedApprovers } from './anchors.ts';
import { TrustError } from './errors.ts';

/** An in-memory token with the real vault's pin rules: first pin wins, a different one is refused. */
class FakeToken implements ApproverPinStore {
  pin: PinnedApprovers | undefined;
  writes = 0;
  async approverPin(): Promise<PinnedApprovers | undefined> {
    return this.pin;
  }
  async pinApprovers(hash: Uint8Array): Promise<PinnedApprovers> {
    if (this.pin !== undefined) {
      if (!Buffer.from(this.pin.hash).equals(Buffer.from(hash))) throw Object.assign(new Error('E_TRUST_ANCHOR_MISMATCH: the token already pins a different approver set'), { code: 'E_TRUST_ANCHOR_MISMATCH' });
      return this.pin;
    }
    this.writes++;
    this.pin = { sequence: 1, hash: new Uint8Array(hash) };
    return this.pin;
  }
}

const key = (): string => approverPublicKeyHex(generateKeyPairSync('ed25519').privateKey);
const keys = [key(), key(), key()];
const set = makeApproverSet(keys, 2);

async function refusal(p: Promise<unknown>): Promise<TrustError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TrustError);
  return e as TrustError;
}

describe('pinTrustAnchors', () => {
  it('pins the configured set at first start', async () => {
    const token = new FakeToken();
    const a = await pinTrustAnchors(token, set);
    expect(a.pinnedNow).toBe(true);
    expect(a.sequence).toBe(1);
    expect(token.pin?.hash).toEqual(approverSetHash(set));
    expect(a.approvers).toEqual(set);
  });

  it('accepts the same set on later starts, listed in any order, without writing again', async () => {
    const token = new FakeToken();
    await pinTrustAnchors(token, set);
    const again = await pinTrustAnchors(token, makeApproverSet([...keys].reverse(), 2));
    expect(again.pinnedNow).toBe(false);
    expect(again.hash).toEqual(approverSetHash(set));
    expect(token.writes).toBe(1);
  });

  it('refuses a configured set with another key, leaving the pin as it was', async () => {
    const token = new FakeToken();
    await pinTrustAnchors(token, set);
    const e = await refusal(pinTrustAnchors(token, makeApproverSet([keys[0]!, keys[1]!, key()], 2)));
    expect(e.code).toBe('E_TRUST_ANCHOR_MISMATCH');
    expect(e.message).toMatch(/the configured approver set is not the one pinned in the HSM token/);
    expect(token.pin?.hash).toEqual(approverSetHash(set));
    expect(token.writes).toBe(1);
  });

  it('refuses a configured set with another quorum', async () => {
    const token = new FakeToken();
    await pinTrustAnchors(token, set);
    expect((await refusal(pinTrustAnchors(token, makeApproverSet(keys, 1)))).code).toBe('E_TRUST_ANCHOR_MISMATCH');
  });

  it('refuses when another process pinned a different set between the read and the write', async () => {
    const token = new FakeToken();
    const racing: ApproverPinStore = {
      approverPin: async () => undefined,
      pinApprovers: async (h) => {
        await token.pinApprovers(approverSetHash(makeApproverSet([key()], 1)));
        return token.pinApprovers(h);
      },
    };
    expect((await refusal(pinTrustAnchors(racing, set))).code).toBe('E_TRUST_ANCHOR_MISMATCH');
  });

  it('passes vault failures through unchanged', async () => {
    const down = Object.assign(new Error('E_HSM_UNAVAILABLE: approver pin: HSM unavailable (CKR_DEVICE_ERROR)'), { code: 'E_HSM_UNAVAILABLE' });
    const broken: ApproverPinStore = { approverPin: async () => Promise.reject(down), pinApprovers: async () => Promise.reject(down) };
    await expect(pinTrustAnchors(broken, set)).rejects.toBe(down);
  });
});
