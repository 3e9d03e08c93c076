import { createPublicKey, verify as osslVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { xpub } from '../hd/index.ts';
import { runSession } from '../sim/run.ts';
import { presign, type Presignature } from './presign.ts';
import { sign, hashMessage, type EcdsaSignature, type MessageHash } from './sign.ts';
import { simKey, unwrap, type SimKey } from '../../test/support/ceremony.ts';
import { TEST_LEVEL } from '../../test/support/test-level.ts';
import type { Point } from '../curve/index.ts';

function spki(pub: Point) {
  // SubjectPublicKeyInfo for a secp256k1 key: OpenSSL verifies independently of noble.
  const prefix = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');
  return createPublicKey({ key: Buffer.concat([prefix, Buffer.from(pub.toBytes(true))]), format: 'der', type: 'spki' });
}

function expectValid(sig: EcdsaSignature, message: Uint8Array, hash: MessageHash): void {
  expect(sig.s <= secp256k1.Point.Fn.ORDER / 2n).toBe(true);
  const digest = hashMessage(message, hash);
  expect(Buffer.from(sig.digest).equals(Buffer.from(digest))).toBe(true);
  // noble, on the digest, low-s enforced.
  const compact = new secp256k1.Signature(sig.r, sig.s).toBytes('compact');
  expect(secp256k1.verify(compact, digest, sig.publicKey.toBytes(true), { prehash: false })).toBe(true);
  // OpenSSL on the message itself for sha256 (node:crypto hashes it).
  if (hash === 'sha256') expect(osslVerify('sha256', message, spki(sig.publicKey), Buffer.from(sig.der))).toBe(true);
  // Recovery id recovers the key.
  const recovered = new secp256k1.Signature(sig.r, sig.s).addRecoveryBit(sig.recoveryId).recoverPublicKey(digest);
  expect(recovered.equals(sig.publicKey)).toBe(true);
}

async function presignAndSign(key: SimKey, signers: number[], request: { message: Uint8Array; hash: MessageHash }, path?: string) {
  const presigs = unwrap(
    await runSession({ protocol: 'presign', group: key.group, parties: signers }, (s) =>
      presign(s, { level: TEST_LEVEL, share: key.shares.get(s.params.self)!, ...(path ? { derivationPath: path } : {}) }),
    ),
  );
  const sid = presigs.get(signers[0]!)!.binding.sid;
  const sigs = unwrap(await runSession({ protocol: 'sign', group: key.group, parties: signers, sid }, (s) => sign(s, presigs.get(s.params.self)!, request)));
  return { presigs, sigs };
}

describe('presign and sign (2-of-3, test level)', async () => {
  const key = await simKey(TEST_LEVEL, 3, 2);
  const pub = key.shares.get(1)!.public;

  for (const signers of [[1, 2], [1, 3], [2, 3]]) {
    it(`signers ${signers.join(',')} produce one valid low-s signature, verified by OpenSSL and noble`, async () => {
      const message = new TextEncoder().encode(`pay 1 BTC, signers ${signers}`);
      const { sigs } = await presignAndSign(key, signers, { message, hash: 'sha256' });
      for (const sig of sigs.values()) {
        expect(sig.publicKey.equals(pub.publicKey)).toBe(true);
        expectValid(sig, message, 'sha256');
      }
    });
  }

  for (const hash of ['sha256d', 'keccak256'] as const) {
    it(`hashes the message itself with ${hash}`, async () => {
      const message = new TextEncoder().encode(`message for ${hash}`);
      const { sigs } = await presignAndSign(key, [1, 2], { message, hash });
      expectValid(sigs.get(1)!, message, hash);
    });
  }

  it('signs under a derivation path with the key @scure/bip32 derives from the exported xpub', async () => {
    const path = 'm/0/7/42';
    const message = new TextEncoder().encode('child key');
    const { sigs } = await presignAndSign(key, [2, 3], { message, hash: 'sha256' }, path);
    const child = HDKey.fromExtendedKey(xpub(pub.publicKey, pub.chainCode)).derive(path);
    const sig = sigs.get(2)!;
    expect(Buffer.from(sig.publicKey.toBytes(true)).equals(Buffer.from(child.publicKey!))).toBe(true);
    expectValid(sig, message, 'sha256');
  });

  it('refuses to use a presignature twice', async () => {
    const message = new TextEncoder().encode('once');
    const { presigs } = await presignAndSign(key, [1, 3], { message, hash: 'sha256' });
    const sid = presigs.get(1)!.binding.sid;
    const again = await runSession({ protocol: 'sign', group: key.group, parties: [1, 3], sid, timeoutMs: 2000 }, (s) =>
      sign(s, presigs.get(s.params.self) as Presignature, { message, hash: 'sha256' }),
    );
    for (const o of again.values()) {
      expect(o.ok).toBe(false);
      expect(String((o as { error: unknown }).error)).toMatch(/already used/);
    }
  });
});

describe('presign and sign (3-of-5, test level): a sample of signer subsets', async () => {
  const key = await simKey(TEST_LEVEL, 5, 3);
  for (const signers of [[1, 2, 3], [1, 3, 5], [2, 4, 5], [3, 4, 5], [1, 2, 4, 5]]) {
    it(`signers ${signers.join(',')} sign under the group key`, async () => {
      const message = new TextEncoder().encode(`3-of-5 by ${signers}`);
      const { sigs } = await presignAndSign(key, signers, { message, hash: 'sha256' });
      const sig = sigs.get(signers[0]!)!;
      expect(sig.publicKey.equals(key.shares.get(1)!.public.publicKey)).toBe(true);
      expectValid(sig, message, 'sha256');
    });
  }
});
