/**
 * Ring-Pedersen parameters (N̂, s, t) of the auxiliary data (spec aux-info: t = r² mod N̂,
 * s = t^λ mod N̂ for λ ← Z_φ(N̂)), generated from their own two safe primes, independent of the
 * Paillier key. The trapdoor λ and φ(N̂) are kept for Π^prm.
 */
import { InvalidInputError } from '../errors.ts';
import { bitLength, crtModulus, type CrtModulus, assertSafePrime, freshPrimes, type PrimeSource, randomBelow, randomZnStar } from '../arith/index.ts';
import { primeBits, type SecurityLevel } from '../params.ts';
import { assertInZnStar, assertModulus } from '../validate.ts';

export interface RingPedersenParams {
  readonly N: bigint;
  readonly s: bigint;
  readonly t: bigint;
}

export interface RingPedersenSecret extends RingPedersenParams {
  readonly p: bigint;
  readonly q: bigint;
  readonly phi: bigint;
  /** s = t^lambda mod N. */
  readonly lambda: bigint;
  readonly crt: CrtModulus;
}

/**
 * Validates parameters received from another party: N of the exact size, s, t ∈ Z*_N, neither 1,
 * and s ≠ t. (That s lies in ⟨t⟩ is what Π^prm proves.)
 */
export function ringPedersenParams(x: { N: unknown; s: unknown; t: unknown }, level: SecurityLevel): RingPedersenParams {
  assertModulus(x.N, level.modulusBits, 'N̂');
  assertInZnStar(x.s, x.N, 's');
  assertInZnStar(x.t, x.N, 't');
  if (x.s === 1n || x.t === 1n) throw new InvalidInputError('s, t', 'trivial ring-Pedersen base');
  if (x.s === x.t) throw new InvalidInputError('s, t', 's equals t');
  return Object.freeze({ N: x.N, s: x.s, t: x.t });
}

export function ringPedersenFromPrimes(p: bigint, q: bigint, level: SecurityLevel): RingPedersenSecret {
  const bits = primeBits(level);
  assertSafePrime(p, bits, 'p̂');
  assertSafePrime(q, bits, 'q̂');
  if (p === q) throw new InvalidInputError('q̂', 'equal to p̂');
  const N = p * q;
  if (bitLength(N) !== level.modulusBits) throw new InvalidInputError('N̂', 'wrong modulus size');
  const phi = (p - 1n) * (q - 1n);
  const crt = crtModulus(p, p - 1n, q, q - 1n);
  for (;;) {
    const r = randomZnStar(N);
    const t = (r * r) % N;
    // λ ← [φ/4] (spec generate_pedersen_params): t generates the squares, of order φ/4.
    // (A shift, not a BigInt division, of the secret φ.)
    const lambda = randomBelow(phi >> 2n);
    const s = crt.pow(t, lambda);
    if (t !== 1n && s !== 1n && s !== t) return Object.freeze({ N, s, t, p, q, phi, lambda, crt });
  }
}

export async function generateRingPedersen(
  level: SecurityLevel,
  primes: PrimeSource = freshPrimes,
): Promise<RingPedersenSecret> {
  const bits = primeBits(level);
  const p = await primes.take(bits);
  let q = await primes.take(bits);
  while (q === p) q = await primes.take(bits);
  return ringPedersenFromPrimes(p, q, level);
}

export function ringPedersenPublic(x: RingPedersenParams): RingPedersenParams {
  return Object.freeze({ N: x.N, s: x.s, t: x.t });
}
