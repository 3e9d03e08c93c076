/**
 * Paillier keys (spec §"Paillier Encryption Scheme", keygen): N = p·q for two distinct safe
 * primes of exactly half the modulus size each, so N has exactly `modulusBits` bits.
 * The secret key holds a backend context over p, q, p², q² (DESIGN §3): built once per key, so
 * the secret moduli are flagged constant-time and their Montgomery contexts cached (native).
 */
import { InvalidInputError } from '../errors.ts';
import { bitLength, assertSafePrime, freshPrimes, getBackend, type PaillierContext, type PrimeSource } from '../arith/index.ts';
import { primeBits, type SecurityLevel } from '../params.ts';
import { assertModulus } from '../validate.ts';

export interface PaillierPublicKey {
  readonly N: bigint;
  readonly N2: bigint;
}

export interface PaillierSecretKey extends PaillierPublicKey {
  readonly p: bigint;
  readonly q: bigint;
  /** φ(N) = (p-1)(q-1). */
  readonly phi: bigint;
  /** Decryption and exponentiation mod N² through p², q², constant-time in p and q (native). */
  readonly ops: PaillierContext;
}

/** Validates a Paillier public key received from another party (size only; Π^mod/Π^fac prove the rest). */
export function paillierPublicKey(N: unknown, level: SecurityLevel, field = 'N'): PaillierPublicKey {
  assertModulus(N, level.modulusBits, field);
  return Object.freeze({ N, N2: N * N });
}

/** Builds a secret key from two safe primes, checking them (DESIGN §3: a prime is never reused). */
export function paillierSecretKeyFromPrimes(p: bigint, q: bigint, level: SecurityLevel): PaillierSecretKey {
  const bits = primeBits(level);
  assertSafePrime(p, bits, 'p');
  assertSafePrime(q, bits, 'q');
  if (p === q) throw new InvalidInputError('q', 'equal to p');
  const N = p * q;
  if (bitLength(N) !== level.modulusBits) throw new InvalidInputError('N', 'wrong modulus size');
  return paillierSecretKeyUnchecked(p, q);
}

/**
 * The key over p, q without the safe-prime and size checks: for a key already checked, and for
 * the corrupt party of the test catalogue, which brings a bad modulus on purpose.
 */
export function paillierSecretKeyUnchecked(p: bigint, q: bigint): PaillierSecretKey {
  const N = p * q;
  return Object.freeze({ N, N2: N * N, p, q, phi: (p - 1n) * (q - 1n), ops: getBackend().paillierContext(p, q) });
}

export async function generatePaillierKey(
  level: SecurityLevel,
  primes: PrimeSource = freshPrimes,
): Promise<PaillierSecretKey> {
  const bits = primeBits(level);
  const p = await primes.take(bits);
  let q = await primes.take(bits);
  while (q === p) q = await primes.take(bits);
  return paillierSecretKeyFromPrimes(p, q, level);
}

export function publicPart(sk: PaillierSecretKey): PaillierPublicKey {
  return Object.freeze({ N: sk.N, N2: sk.N2 });
}
