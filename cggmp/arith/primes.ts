/**
 * Safe primes p = 2p' + 1 (spec §"Safe-Prime Generation") from OpenSSL through
 * crypto.generatePrime (async, on libuv's pool), with the top two bits set so that the product
 * of two has exactly twice the bits. Primes received or loaded are checked again.
 */
import { checkPrime, checkPrimeSync, generatePrime } from 'node:crypto';
import { promisify } from 'node:util';
import { InvalidInputError } from '../errors.ts';
import { bitLength } from './bigint.ts';

function generatePrimeAsync(bits: number): Promise<bigint> {
  return new Promise((resolve, reject) =>
    generatePrime(bits, { safe: true, bigint: true }, (err, p) => (err ? reject(err) : resolve(p))),
  );
}
const checkPrimeAsync = promisify(checkPrime) as (p: bigint) => Promise<boolean>;

/** Where aux-info takes its primes from: fresh generation or a pool of precomputed ones. */
export interface PrimeSource {
  /** A fresh safe prime of `bits` bits, top two bits set, never handed out twice. */
  take(bits: number): Promise<bigint>;
}

function hasTopTwoBits(p: bigint, bits: number): boolean {
  return bitLength(p) === bits && p >> BigInt(bits - 2) === 3n;
}

export async function generateSafePrime(bits: number): Promise<bigint> {
  for (;;) {
    const p = await generatePrimeAsync(bits);
    if (hasTopTwoBits(p, bits)) return p;
  }
}

/** A PrimeSource that generates each prime when asked (the cold path). */
export const freshPrimes: PrimeSource = { take: generateSafePrime };

/** Whether p is a safe prime of exactly `bits` bits with the top two bits set. */
export function isSafePrime(p: bigint, bits: number): boolean {
  return hasTopTwoBits(p, bits) && p % 4n === 3n && checkPrimeSync(p) && checkPrimeSync((p - 1n) / 2n);
}

export async function isSafePrimeAsync(p: bigint, bits: number): Promise<boolean> {
  if (!hasTopTwoBits(p, bits) || p % 4n !== 3n) return false;
  return (await checkPrimeAsync(p)) && (await checkPrimeAsync((p - 1n) / 2n));
}

export function assertSafePrime(p: bigint, bits: number, field: string): void {
  if (!isSafePrime(p, bits)) throw new InvalidInputError(field, `not a ${bits}-bit safe prime`);
}

/** Probable-primality (OpenSSL Miller–Rabin), used to refuse a prime "modulus". */
export function isProbablePrime(n: bigint): boolean {
  return n > 1n && checkPrimeSync(n);
}
