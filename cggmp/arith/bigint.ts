/** Small BigInt helpers used across the protocol library (bit length, bytes, gcd, Jacobi, isqrt). */
import { ArithError } from '../errors.ts';

export function bitLength(x: bigint): number {
  if (x < 0n) x = -x;
  return x === 0n ? 0 : x.toString(2).length;
}

/** Non-negative representative of x mod m. */
export function mod(x: bigint, m: bigint): bigint {
  const r = x % m;
  return r < 0n ? r + m : r;
}

export function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** Jacobi symbol (a/n) for odd n > 0. */
export function jacobi(a: bigint, n: bigint): -1 | 0 | 1 {
  if (n <= 0n || n % 2n === 0n) throw new ArithError('jacobi: n must be odd and positive');
  a = mod(a, n);
  let result: -1 | 1 = 1;
  while (a !== 0n) {
    while (a % 2n === 0n) {
      a /= 2n;
      const r = n % 8n;
      if (r === 3n || r === 5n) result = result === 1 ? -1 : 1;
    }
    [a, n] = [n, a];
    if (a % 4n === 3n && n % 4n === 3n) result = result === 1 ? -1 : 1;
    a %= n;
  }
  return n === 1n ? result : 0;
}

/** ⌊√n⌋ for n ≥ 0 (Newton's method). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new ArithError('isqrt of a negative number');
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Big-endian unsigned bytes of x ≥ 0, minimal length (empty for 0) unless `length` is given. */
export function toBytesBE(x: bigint, length?: number): Uint8Array {
  if (x < 0n) throw new ArithError('toBytesBE of a negative number');
  let hex = x === 0n ? '' : x.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const n = hex.length / 2;
  const len = length ?? n;
  if (n > len) throw new ArithError('value does not fit the requested length');
  const out = new Uint8Array(len);
  for (let i = 0; i < n; i++) out[len - n + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function fromBytesBE(bytes: Uint8Array): bigint {
  let x = 0n;
  for (const b of bytes) x = (x << 8n) | BigInt(b);
  return x;
}
