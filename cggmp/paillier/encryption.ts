/**
 * Paillier encryption, decryption and the homomorphic operations ⊕ and ⊙ (spec §"Paillier
 * Encryption Scheme"), with g = 1 + N so that enc_N(M; r) = (1 + M·N)·r^N mod N².
 * Plaintexts live in ±N (signed representatives); decryption returns the signed one.
 */
import { InvalidInputError } from '../errors.ts';
import { mod, crtCombine, crtPow, inPlusMinus, randomZnStar, getBackend, powPublic, powSecret, powSecretNonNegative } from '../arith/index.ts';
import { assertBigint, assertInZnStar } from '../validate.ts';
import type { PaillierPublicKey, PaillierSecretKey } from './keys.ts';

function assertPlaintext(M: bigint, pk: PaillierPublicKey): void {
  assertBigint(M, 'M');
  if (!inPlusMinus(M, pk.N)) throw new InvalidInputError('M', 'plaintext outside ±N');
}

/** enc_N(M; r) with the public key only. r must be in Z*_N. */
export function encrypt(pk: PaillierPublicKey, M: bigint, r: bigint = randomZnStar(pk.N)): bigint {
  assertPlaintext(M, pk);
  assertInZnStar(r, pk.N, 'r');
  const rN = powSecretNonNegative(r, pk.N, pk.N2);
  return ((1n + mod(M, pk.N) * pk.N) * rN) % pk.N2;
}

/** enc^crt_sk(M; r): the same ciphertext, r^N computed modulo p² and q² separately. */
export function encryptCrt(sk: PaillierSecretKey, M: bigint, r: bigint = randomZnStar(sk.N)): bigint {
  assertPlaintext(M, sk);
  assertInZnStar(r, sk.N, 'r');
  const rN = crtPow(sk.crtN2, r, sk.N);
  return ((1n + mod(M, sk.N) * sk.N) * rN) % sk.N2;
}

/** dec_sk(C) ∈ ±N. C must be in Z*_{N²}. */
export function decrypt(sk: PaillierSecretKey, C: bigint): bigint {
  assertInZnStar(C, sk.N2, 'C');
  const backend = getBackend();
  const { p, q } = sk;
  // m_p = L_p(C^(p-1) mod p²)·hp mod p, with L_p(u) = (u-1)/p; likewise for q.
  const up = backend.modPowSecret(C % (p * p), p - 1n, p * p);
  const uq = backend.modPowSecret(C % (q * q), q - 1n, q * q);
  const mp = mod(((up - 1n) / p) * sk.hp, p);
  const mq = mod(((uq - 1n) / q) * sk.hq, q);
  const m = crtCombine(sk.crtN, mp, mq);
  return m > sk.N / 2n ? m - sk.N : m;
}

/** C1 ⊕ C2 = C1·C2 mod N²: dec = dec(C1) + dec(C2) mod N. */
export function add(pk: PaillierPublicKey, C1: bigint, C2: bigint): bigint {
  return (mod(C1, pk.N2) * mod(C2, pk.N2)) % pk.N2;
}

/** k ⊙ C = C^k mod N² for a public k of any sign: dec = k·dec(C) mod N. */
export function mulPublic(pk: PaillierPublicKey, k: bigint, C: bigint): bigint {
  return powPublic(C, k, pk.N2);
}

/** k ⊙ C for a secret k with |k| ≤ bound (constant time in k on the native backend). */
export function mulSecret(pk: PaillierPublicKey, k: bigint, C: bigint, bound: bigint): bigint {
  return powSecret(C, k, pk.N2, bound);
}

/** Checks that a received ciphertext is in Z*_{N²}. */
export function assertCiphertext(C: unknown, pk: PaillierPublicKey, field: string): asserts C is bigint {
  assertInZnStar(C, pk.N2, field);
}
