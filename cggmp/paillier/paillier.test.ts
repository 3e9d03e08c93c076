import { describe, expect, it } from 'vitest';
import { randomPlusMinus, randomShifted, randomZnStar, revealShifted } from '../arith/index.ts';
import { CURVE_ORDER, scalarField } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';
import { LEVELS, partyKeys, fixturePrimes, SECURITY_LEVEL_128, TEST_LEVEL } from '../../test/support/keys.ts';
import {
  add,
  decrypt,
  decryptCentredMod,
  encrypt,
  encryptCrt,
  encryptCrtShifted,
  encryptShifted,
  mulPublic,
  mulShifted,
  paillierPublicKey,
  paillierSecretKeyFromPrimes,
  publicPart,
} from './index.ts';

for (const level of LEVELS) {
  describe(`Paillier at ${level.name}`, () => {
    const sk = partyKeys(level, 0).paillier;
    const pk = publicPart(sk);

    it('has an N of exactly the level size', () => {
      expect(sk.N.toString(2).length).toBe(level.modulusBits);
    });

    it('decrypts what it encrypts, for random and edge plaintexts', () => {
      const half = (sk.N - 1n) / 2n;
      for (const M of [0n, 1n, -1n, half, -half, randomPlusMinus(sk.N), randomPlusMinus(1n << 256n)]) {
        expect(decrypt(sk, encrypt(pk, M))).toBe(M);
        expect(decrypt(sk, encryptCrt(sk, M))).toBe(M);
      }
    });

    it('gives the same ciphertext with and without CRT for the same randomness', () => {
      const r = randomZnStar(sk.N);
      const M = randomPlusMinus(sk.N);
      expect(encryptCrt(sk, M, r)).toBe(encrypt(pk, M, r));
    });

    it('encrypts a shifted secret plaintext to the ciphertext of the integer it stands for', () => {
      for (const bound of [1n << 256n, 1n << 1300n, sk.N - 1n]) {
        const M = randomShifted(bound);
        const r = randomZnStar(sk.N);
        expect(encryptShifted(pk, M, r)).toBe(encrypt(pk, revealShifted(M), r));
        expect(encryptCrtShifted(sk, M, r)).toBe(encrypt(pk, revealShifted(M), r));
      }
      // The edges of the set: value 0 (−offset) and 2·offset (+offset).
      const offset = (sk.N - 1n) / 2n;
      for (const M of [{ value: 0n, offset }, { value: 2n * offset, offset }]) {
        expect(decrypt(sk, encryptShifted(pk, M))).toBe(revealShifted(M));
      }
      expect(() => encryptShifted(pk, { value: 3n, offset: 1n })).toThrow(InvalidInputError);
      expect(() => encryptShifted(pk, { value: 0n, offset: sk.N })).toThrow(InvalidInputError);
    });

    it('decrypts straight to Z_q the centred plaintext, whatever its sign', () => {
      const Fq = scalarField();
      const half = (sk.N - 1n) / 2n;
      for (const M of [0n, 1n, -1n, half, -half, randomPlusMinus(1n << 1300n), randomPlusMinus(sk.N)]) {
        expect(decryptCentredMod(sk, encrypt(pk, M), Fq)).toBe(((M % CURVE_ORDER) + CURVE_ORDER) % CURVE_ORDER);
      }
    });

    it('adds under ⊕ and multiplies under ⊙ (public and secret scalars)', () => {
      const a = randomPlusMinus(1n << 300n);
      const b = randomPlusMinus(1n << 300n);
      const k = randomShifted(1n << 256n);
      const Ca = encrypt(pk, a);
      expect(decrypt(sk, add(pk, Ca, encrypt(pk, b)))).toBe(a + b);
      expect(decrypt(sk, mulPublic(pk, revealShifted(k), Ca))).toBe(revealShifted(k) * a);
      expect(decrypt(sk, mulShifted(pk, k, Ca))).toBe(revealShifted(k) * a);
    });

    it('refuses a plaintext outside ±N, randomness not in Z*_N, and a ciphertext not in Z*_{N²}', () => {
      expect(() => encrypt(pk, sk.N)).toThrow(InvalidInputError);
      expect(() => encrypt(pk, 5n, sk.p)).toThrow(InvalidInputError);
      expect(() => encrypt(pk, 5n, 0n)).toThrow(InvalidInputError);
      expect(() => decrypt(sk, sk.N2)).toThrow(InvalidInputError);
      expect(() => decrypt(sk, sk.q)).toThrow(InvalidInputError);
      expect(() => decrypt(sk, -1n)).toThrow(InvalidInputError);
    });
  });
}

describe('Paillier keys', () => {
  const [p, q] = fixturePrimes(1536) as [bigint, bigint];

  it('refuses equal primes, a prime that is not safe, and primes of the wrong size', () => {
    expect(() => paillierSecretKeyFromPrimes(p, p, SECURITY_LEVEL_128)).toThrow(InvalidInputError);
    expect(() => paillierSecretKeyFromPrimes(p, (q - 1n) / 2n, SECURITY_LEVEL_128)).toThrow(InvalidInputError);
    const [s1, s2] = fixturePrimes(1024) as [bigint, bigint];
    expect(() => paillierSecretKeyFromPrimes(s1, s2, SECURITY_LEVEL_128)).toThrow(InvalidInputError);
  });

  it('refuses a received public key below 3072 bits at the 128-bit level', () => {
    const small = partyKeys(TEST_LEVEL, 0).paillier.N;
    expect(() => paillierPublicKey(small, SECURITY_LEVEL_128)).toThrow(/below 3072 bits/);
    expect(() => paillierPublicKey(small * 2n, TEST_LEVEL)).toThrow(InvalidInputError);
    expect(() => paillierPublicKey(-small, TEST_LEVEL)).toThrow(InvalidInputError);
  });
});
