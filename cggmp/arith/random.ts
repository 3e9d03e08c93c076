/**
 * Sampling from the sets the spec names, from the operating system's CSPRNG (node:crypto) by
 * rejection, so every distribution is exactly uniform: [0, n), Z*_N, and the spec's ±ℓ sets
 * ("Notation and Preliminaries": ±ℓ = {-ℓ/2, …, ℓ/2} for even ℓ, {-(ℓ-1)/2, …, (ℓ-1)/2} for odd ℓ).
 */
import { randomBytes } from 'node:crypto';
import { ArithError } from '../errors.ts';
import { bitLength, fromBytesBE } from './bigint.ts';
import { getBackend } from './select.ts';

/** Uniform integer in [0, n), n ≥ 1. */
export function randomBelow(n: bigint): bigint {
  if (n < 1n) throw new ArithError('randomBelow: empty range');
  if (n === 1n) return 0n;
  const bits = bitLength(n - 1n);
  const bytes = Math.ceil(bits / 8);
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    const x = fromBytesBE(randomBytes(bytes)) & mask;
    if (x < n) return x;
  }
}

/** Uniform integer in [a, b). */
export function randomInRange(a: bigint, b: bigint): bigint {
  return a + randomBelow(b - a);
}

/** Half-width of the spec's ±ℓ set: the largest |x| it contains. */
export function plusMinusHalf(l: bigint): bigint {
  return l % 2n === 0n ? l / 2n : (l - 1n) / 2n;
}

/** Uniform element of the spec's set ±ℓ. */
export function randomPlusMinus(l: bigint): bigint {
  const h = plusMinusHalf(l);
  return randomBelow(2n * h + 1n) - h;
}

/** Whether x lies in the spec's set ±ℓ. */
export function inPlusMinus(x: bigint, l: bigint): boolean {
  const h = plusMinusHalf(l);
  return x >= -h && x <= h;
}

/** Uniform element of Z*_N (rejection on gcd). */
export function randomZnStar(N: bigint): bigint {
  for (;;) {
    const x = randomBelow(N);
    if (x !== 0n && getBackend().isCoprime(x, N)) return x;
  }
}
