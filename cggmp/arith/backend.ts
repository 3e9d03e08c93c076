/**
 * The big-integer operations whose speed decides the protocol's speed, behind one interface
 * with two implementations: the native addon over the OpenSSL that Node carries, and a pure
 * BigInt fallback for development and tests (variable-time, DESIGN §3).
 *
 * The first group takes public moduli (N, N², N̂) and non-negative exponents; signed exponents are
 * handled by `pow.ts` above this layer. The contexts below hold *secret* moduli (p, q, p², q²,
 * φ) the way OpenSSL's RSA code does: built once per key, the modulus flagged constant-time and
 * its Montgomery context cached, so that no operation on them — exponentiation, reduction, CRT
 * recombination, the Paillier L-function — branches on a secret value (native backend).
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

/** An odd modulus > 1 held with its Montgomery context; every operation is constant-time (native). */
export interface ModulusContext {
  readonly n: bigint;
  /** x mod n for x ≥ 0 of any size. */
  reduce(x: bigint): bigint;
  /** base^exp mod n for base, exp ≥ 0, both secret. */
  pow(base: bigint, exp: bigint): bigint;
  /** (a + x·y) mod n for a, x, y ≥ 0. */
  mulAdd(a: bigint, x: bigint, y: bigint): bigint;
}

/** n = n1·n2 with known odd coprime factors and (multiples of) the orders φ_i of Z*_{n_i}. */
export interface CrtContext {
  readonly n: bigint;
  /**
   * base^exp mod n, base ≥ 0 of any size. A negative exponent (its sign is public) is taken as
   * φ_i − |exp| in each half, so base must be a unit and |exp| ≤ φ_i.
   */
  pow(base: bigint, exp: bigint): bigint;
  /** The Legendre symbols (v/n1), (v/n2) for prime n1, n2 (Euler's criterion). */
  legendre(v: bigint): readonly [-1 | 0 | 1, -1 | 0 | 1];
}

/** A Paillier secret key (g = 1 + N) as a context over p, q, p², q². */
export interface PaillierContext {
  /** dec(C) in [0, N) for C ∈ Z*_{N²} (validated by the caller). */
  decrypt(C: bigint): bigint;
  /** The centred plaintext, in (−N/2, N/2], reduced modulo the modulus of `q`: never signed in JS. */
  decryptCentredMod(C: bigint, q: ModulusContext): bigint;
  /** base^exp mod N² through p², q² (exp of either public sign, as CrtContext.pow). */
  pow(base: bigint, exp: bigint): bigint;
  /** x^N mod N² for x ≥ 0: the r^N of an encryption (native: through p and q, about 5/8 of pow's cost). */
  nthPower(x: bigint): bigint;
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
  /** gcd(a, m) = 1 for 0 ≤ a and m > 1; constant time in a on the native backend. */
  isCoprime(a: bigint, m: bigint): boolean;
  /** Precomputes the table of s^(B^i), t^(B^i) for fixed bases. */
  fixedBaseTable(s: bigint, t: bigint, m: bigint, maxExpBits: number): FixedBaseTable;
  /** A context for the odd modulus n > 1 (secret or public). */
  modulusContext(n: bigint): ModulusContext;
  /** A CRT context over odd coprime n1, n2. */
  crtContext(n1: bigint, phi1: bigint, n2: bigint, phi2: bigint): CrtContext;
  /** A Paillier secret-key context over distinct odd primes p, q. */
  paillierContext(p: bigint, q: bigint): PaillierContext;
  /** (a + b) mod m for 0 ≤ a, b < m and any m > 0 (also an even φ). */
  addModSecret(a: bigint, b: bigint, m: bigint): bigint;
  /**
   * av + |e|·(e < 0 ? 2·xo − xv : xv) for secret av, xv ≥ 0 with xv ≤ 2·xo and a public e: the
   * response α + e·x of a proof before its public correction (see shifted.ts). The result is public.
   */
  affine(av: bigint, e: bigint, xv: bigint, xo: bigint): bigint;
}
