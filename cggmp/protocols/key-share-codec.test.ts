import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { InvalidInputError } from '../errors.ts';
import { mulG } from '../curve/index.ts';
import { decodeValue, encodeValue } from '../transcript/index.ts';
import { decodeKeyShare, encodeKeySharePublic, encodeKeyShareSecret } from './key-share-codec.ts';
import { simKey } from '../../test/support/ceremony.ts';
import { TEST_LEVEL } from '../../test/support/test-level.ts';

describe('key share serialisation', async () => {
  const key = await simKey(TEST_LEVEL, 3, 2);
  const share = key.shares.get(2)!;
  const pubBytes = encodeKeySharePublic(share.public);
  const secBytes = encodeKeyShareSecret(share.secret);

  it('round-trips the public and secret parts, canonically', () => {
    const back = decodeKeyShare(pubBytes, secBytes, TEST_LEVEL);
    expect(back.secret).toEqual(share.secret);
    expect(back.public.publicKey.equals(share.public.publicKey)).toBe(true);
    expect(back.public.aux).toEqual(share.public.aux);
    expect(bytesToHex(encodeKeySharePublic(back.public))).toBe(bytesToHex(pubBytes));
    expect(bytesToHex(encodeKeyShareSecret(back.secret))).toBe(bytesToHex(secBytes));
  });

  it('keeps the secret out of the public part', () => {
    const hex = bytesToHex(pubBytes);
    expect(hex.includes(share.secret.x.toString(16))).toBe(false);
    expect(hex.includes(share.secret.paillier!.p.toString(16))).toBe(false);
  });

  const tamperPublic = (f: (r: Record<string, unknown>) => void): Uint8Array => {
    const r = { ...(decodeValue(pubBytes) as Record<string, unknown>) };
    f(r);
    return encodeValue(r as never);
  };

  it('refuses a share whose public shares do not interpolate, a foreign x, an unknown field or version', () => {
    const shares = share.public.publicShares;
    expect(() => decodeKeyShare(tamperPublic((r) => (r.publicShares = [shares[0]!.add(mulG(1n)), ...shares.slice(1)])), secBytes, TEST_LEVEL)).toThrow(InvalidInputError);
    expect(() => decodeKeyShare(tamperPublic((r) => (r.threshold = 1)), secBytes, TEST_LEVEL)).toThrow(/2 ≤ t ≤ n/);
    expect(() => decodeKeyShare(tamperPublic((r) => (r.extra = 1)), secBytes, TEST_LEVEL)).toThrow(InvalidInputError);
    expect(() => decodeKeyShare(tamperPublic((r) => (r.version = 2)), secBytes, TEST_LEVEL)).toThrow(/version/);
    const other = encodeKeyShareSecret({ ...share.secret, x: key.shares.get(1)!.secret.x });
    expect(() => decodeKeyShare(pubBytes, other, TEST_LEVEL)).toThrow(/public share/);
    const swapped = encodeKeyShareSecret({ ...share.secret, paillier: key.shares.get(1)!.secret.paillier! });
    expect(() => decodeKeyShare(pubBytes, swapped, TEST_LEVEL)).toThrow(InvalidInputError);
    expect(() => decodeKeyShare(secBytes, pubBytes, TEST_LEVEL)).toThrow(InvalidInputError);
  });
});
