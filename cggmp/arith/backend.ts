/**
 * The big-integer operations whose speed decides the protocol's speed, behind one interface
 * with two implementations: the native addon over the OpenSSL that Node carries, and a pure
 * BigInt fallback for development and tests (variable-time, DESIGN §3).
 *
 * All exponents here are non-negative; signed exponents are handled by `pow.ts` above this layer.
 * All moduli are odd and > 1 (every modulus of the protocol is: N, N², p², N̂).
 */

export type BackendName = 'native' | 'js';

export interface FixedBaseTable {
  /** The modulus the table was built for. */
  readonly modulus: bigint;
  /** Largest exponent bit length the table covers. */
  readonly maxExpBits: number;
  /** s^x · t^y mod m for public x, y with 0 ≤ x, y < 2^maxExpBits (spec "Fixed-Based Multiexponentiation"). */
  pow2(x: bigint, y: bigint): bigint;
}

export interface ArithBackend {
  readonly name: BackendName;
  /** True when secret exponents are processed in constant time (native only). */
  readonly constantTime: boolean;
  /** base^exp mod m for a public exponent; variable time. */
  modPow(base: bigint, exp: bigint, m: bigint): bigint;
  /** base^exp mod m for a secret exponent; constant time in exp on the native backend. */
  modPowSecret(base: bigint, exp: bigint, m: bigint): bigint;
  /** a^x · b^y mod m for public exponents. */
  modPow2(a: bigint, x: bigint, b: bigint, y: bigint, m: bigint): bigint;
  /** a^-1 mod m; throws ArithError when gcd(a, m) ≠ 1. */
  modInverse(a: bigint, m: bigint): bigint;
  /** Precomputes the table of s^(B^i), t^(B^i) for fixed bases. */
  fixedBaseTable(s: bigint, t: bigint, m: bigint, maxExpBits: number): FixedBaseTable;
}
