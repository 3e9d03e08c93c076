/**
 * Paillier keys (spec §"Paillier Encryption Scheme", keygen): N = p·q for two distinct safe
 * primes of exactly half the modulus size each, so N has exactly `modulusBits` bits.
 * The secret key keeps the CRT data for N² (p², q²) and for decryption.
 */
import { InvalidInputError } from '../errors.ts';
import { bitLength, mod, crtModulus, type CrtModulus, assertSafePrime, freshPrimes, type PrimeSource, modInverse } from '../arith/index.ts';
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
  /** CRT over N² = p²·q². */
  readonly crtN2: CrtModulus;
  /** CRT over N = p·q. */
  readonly crtN: CrtModulus;
  /** hp = ((p-1)·q)^-1 mod p and hq likewise: the decryption constants for g = 1 + N. */
  readonly hp: bigint;
  readonly hq: bigint;
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
  const p2 = p * p;
  const q2 = q * q;
  return Object.freeze({
    N,
    N2: N * N,
    p,
    q,
    phi: (p - 1n) * (q - 1n),
    crtN2: crtModulus(p2, p * (p - 1n), q2, q * (q - 1n)),
    crtN: crtModulus(p, p - 1n, q, q - 1n),
    hp: modInverse(mod((p - 1n) * q, p), p),
    hq: modInverse(mod((q - 1n) * p, q), q),
  });
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
