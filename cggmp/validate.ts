/**
 * Assertions for values received from another party, applied once at the edge before any
 * arithmetic. Each throws InvalidInputError naming the field, never echoing the value.
 */
import { InvalidInputError } from './errors.ts';
import { bitLength, gcd, inPlusMinus } from './arith/index.ts';

/**
 * No integer of the protocol exceeds a few times the 6144-bit N²; anything far larger is refused
 * before it can cost time (a 10^6-bit exponent would be a denial of service).
 */
export const MAX_INTEGER_BITS = 16_384;

export function assertBigint(x: unknown, field: string): asserts x is bigint {
  if (typeof x !== 'bigint') throw new InvalidInputError(field, 'not an integer');
  if (bitLength(x) > MAX_INTEGER_BITS) throw new InvalidInputError(field, 'integer absurdly large');
}

/** 0 ≤ x < N. */
export function assertInZn(x: unknown, N: bigint, field: string): asserts x is bigint {
  assertBigint(x, field);
  if (x < 0n || x >= N) throw new InvalidInputError(field, 'not in [0, N)');
}

/** x ∈ Z*_N: 0 < x < N and gcd(x, N) = 1. For public x (variable-time Euclid). */
export function assertInZnStar(x: unknown, N: bigint, field: string): asserts x is bigint {
  assertInZn(x, N, field);
  if (x === 0n || gcd(x, N) !== 1n) throw new InvalidInputError(field, 'not coprime to the modulus');
}

/**
 * x ∈ Z*_{N²} for public x: 0 ≤ x < N² and gcd(x mod N, N) = 1 (N and N² have the same prime
 * factors), a Euclid at half the size: Paillier ciphertexts are checked this way.
 */
export function assertInZnSquaredStar(x: unknown, N: bigint, field: string): asserts x is bigint {
  assertInZn(x, N * N, field);
  const r = x % N;
  if (r === 0n || gcd(r, N) !== 1n) throw new InvalidInputError(field, 'not coprime to the modulus');
}

/**
 * 0 < x < N for secret randomness drawn by randomZnStar, which tested gcd(x, N) = 1 in constant
 * time when it drew x. Only the range is checked again: a second constant-time gcd per
 * encryption cost ~4 % of a presign, and a non-unit x of the right range exists only for whoever
 * knows a factor of N (a peer would refuse the ciphertext: it checks every one it receives).
 */
export function assertDrawnUnit(x: unknown, N: bigint, field: string): asserts x is bigint {
  assertInZn(x, N, field);
  if (x === 0n) throw new InvalidInputError(field, 'not coprime to the modulus');
}

/** x in the spec's set ±l. */
export function assertInPlusMinus(x: unknown, l: bigint, field: string): asserts x is bigint {
  assertBigint(x, field);
  if (!inPlusMinus(x, l)) throw new InvalidInputError(field, 'out of range');
}

/** x ∈ Z_q (0 ≤ x < q). */
export function assertScalar(x: unknown, q: bigint, field: string): asserts x is bigint {
  assertInZn(x, q, field);
}

/** A bit: 0 or 1. */
export function assertBit(x: unknown, field: string): asserts x is 0 | 1 {
  if (x !== 0 && x !== 1) throw new InvalidInputError(field, 'not a bit');
}

/** A dense array of exactly `length` elements (holes are refused: they would skip checks). */
export function assertArray(x: unknown, length: number, field: string): asserts x is unknown[] {
  if (!Array.isArray(x) || x.length !== length) throw new InvalidInputError(field, `expected ${length} elements`);
  for (let i = 0; i < length; i++) if (!Object.hasOwn(x, i)) throw new InvalidInputError(`${field}[${i}]`, 'missing');
}

/** A non-null object whose fields can be read (proofs, statements). */
export function assertRecord(x: unknown, field: string): asserts x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw new InvalidInputError(field, 'not a record');
}

/** A modulus: odd, of exactly the required bit length. */
export function assertModulus(N: unknown, bits: number, field: string): asserts N is bigint {
  assertBigint(N, field);
  if (N <= 1n || N % 2n === 0n) throw new InvalidInputError(field, 'modulus must be odd and > 1');
  if (bitLength(N) < bits) throw new InvalidInputError(field, `modulus below ${bits} bits`);
  if (bitLength(N) > bits) throw new InvalidInputError(field, `modulus above ${bits} bits`);
}
