/**
 * Paillier encryption, decryption and the homomorphic operations ⊕ and ⊙ (spec §"Paillier
 * Encryption Scheme"), with g = 1 + N so that enc_N(M; r) = (1 + M·N)·r^N mod N².
 * Plaintexts live in ±N (signed representatives). A secret plaintext or multiplier is given in
 * shifted form (arith/shifted.ts) and never becomes a signed BigInt; a signed `M` is public
 * (a verifier's recomputation, an opening).
 */
import { InvalidInputError } from '../errors.ts';
import { mod, inPlusMinus, randomZnStar, powPublic, powSecretNonNegative, powShifted, type ModulusContext, type Shifted } from '../arith/index.ts';
import { assertBigint, assertDrawnUnit, assertInZnSquaredStar, assertInZnStar } from '../validate.ts';
import type { PaillierPublicKey, PaillierSecretKey } from './keys.ts';

function assertPlaintext(M: bigint, pk: PaillierPublicKey): void {
  assertBigint(M, 'M');
  if (!inPlusMinus(M, pk.N)) throw new InvalidInputError('M', 'plaintext outside ±N');
}

/** A shifted plaintext within ±N/2, as the non-negative m' = value + N − offset ≡ M (mod N). */
function shiftedPlaintext(M: Shifted, pk: PaillierPublicKey): bigint {
  if (M.offset < 0n || M.offset > pk.N / 2n || M.value < 0n || M.value > 2n * M.offset) throw new InvalidInputError('M', 'plaintext outside ±N');
  // (1 + m'·N) mod N² only depends on m' mod N, so m' ∈ [0, 2N) needs no reduction.
  return M.value + (pk.N - M.offset);
}

/**
 * enc_N(M; r) of a public plaintext M with the public key only. A given r is public (a
 * verifier's recomputation, an opened presignature) and r ∈ Z*_N is checked as such; without r,
 * fresh secret randomness is drawn and raised in constant time.
 */
export function encrypt(pk: PaillierPublicKey, M: bigint, r?: bigint): bigint {
  assertPlaintext(M, pk);
  let rN: bigint;
  if (r === undefined) {
    rN = powSecretNonNegative(randomZnStar(pk.N), pk.N, pk.N2);
  } else {
    assertInZnStar(r, pk.N, 'r');
    rN = powPublic(r, pk.N, pk.N2);
  }
  return ((1n + mod(M, pk.N) * pk.N) * rN) % pk.N2;
}

/** enc_N(M; r) of a secret plaintext M (shifted) with the public key only; r secret, from randomZnStar. */
export function encryptShifted(pk: PaillierPublicKey, M: Shifted, r: bigint = randomZnStar(pk.N)): bigint {
  const m = shiftedPlaintext(M, pk);
  assertDrawnUnit(r, pk.N, 'r');
  const rN = powSecretNonNegative(r, pk.N, pk.N2);
  return ((1n + m * pk.N) * rN) % pk.N2;
}

/** enc^crt_sk(M; r) of a public plaintext: the same ciphertext, r^N through p and q; a given r is public. */
export function encryptCrt(sk: PaillierSecretKey, M: bigint, r: bigint = randomZnStar(sk.N)): bigint {
  assertPlaintext(M, sk);
  assertInZnStar(r, sk.N, 'r');
  return ((1n + mod(M, sk.N) * sk.N) * sk.ops.nthPower(r)) % sk.N2;
}

/** enc^crt_sk(M; r) of a secret plaintext M (shifted); r secret, from randomZnStar. */
export function encryptCrtShifted(sk: PaillierSecretKey, M: Shifted, r: bigint = randomZnStar(sk.N)): bigint {
  const m = shiftedPlaintext(M, sk);
  assertDrawnUnit(r, sk.N, 'r');
  return ((1n + m * sk.N) * sk.ops.nthPower(r)) % sk.N2;
}

/**
 * dec_sk(C) ∈ ±N, C ∈ Z*_{N²}. The decryption itself is constant-time (native); taking the
 * signed representative is not, so this is for plaintexts that are public or about to be.
 */
export function decrypt(sk: PaillierSecretKey, C: bigint): bigint {
  assertInZnSquaredStar(C, sk.N, 'C');
  const m = sk.ops.decrypt(C);
  return m > sk.N / 2n ? m - sk.N : m;
}

/** dec_sk(C) taken in (−N/2, N/2] and reduced mod q, never signed: the MtA shares of presigning. */
export function decryptCentredMod(sk: PaillierSecretKey, C: bigint, q: ModulusContext): bigint {
  assertInZnSquaredStar(C, sk.N, 'C');
  return sk.ops.decryptCentredMod(C, q);
}

/** C1 ⊕ C2 = C1·C2 mod N²: dec = dec(C1) + dec(C2) mod N. */
export function add(pk: PaillierPublicKey, C1: bigint, C2: bigint): bigint {
  return (mod(C1, pk.N2) * mod(C2, pk.N2)) % pk.N2;
}

/** k ⊙ C = C^k mod N² for a public k of any sign: dec = k·dec(C) mod N. */
export function mulPublic(pk: PaillierPublicKey, k: bigint, C: bigint): bigint {
  return powPublic(C, k, pk.N2);
}

/** k ⊙ C for a secret k (shifted): constant time in k on the native backend. */
export function mulShifted(pk: PaillierPublicKey, k: Shifted, C: bigint): bigint {
  return powShifted(C, k, pk.N2);
}

/** Checks that a received ciphertext is in Z*_{N²}. */
export function assertCiphertext(C: unknown, pk: PaillierPublicKey, field: string): asserts C is bigint {
  assertInZnSquaredStar(C, pk.N, field);
}
