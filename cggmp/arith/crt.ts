/**
 * Exponentiation modulo n = n1·n2 with known factorisation (spec §"Using the Chinese Remainder
 * Theorem"): exponents are reduced modulo φ(n1), φ(n2), both halves use the constant-time
 * exponentiation (the factorisation and usually the exponent are secret), and the results are
 * recombined with β = n1^-1 mod n2.
 */
import { mod } from './bigint.ts';
import { getBackend } from './select.ts';

export interface CrtModulus {
  readonly n: bigint;
  readonly n1: bigint;
  readonly n2: bigint;
  readonly phi1: bigint;
  readonly phi2: bigint;
  /** n1^-1 mod n2. */
  readonly beta: bigint;
}

export function crtModulus(n1: bigint, phi1: bigint, n2: bigint, phi2: bigint): CrtModulus {
  return Object.freeze({ n: n1 * n2, n1, n2, phi1, phi2, beta: getBackend().modInverse(mod(n1, n2), n2) });
}

/** Combines r1 mod n1 and r2 mod n2 into the residue mod n1·n2. */
export function crtCombine(c: CrtModulus, r1: bigint, r2: bigint): bigint {
  return r1 + mod((r2 - r1) * c.beta, c.n2) * c.n1;
}

/** base^exp mod n for base coprime to n and an exponent of any sign (spec Algorithm "CRT"). */
export function crtPow(c: CrtModulus, base: bigint, exp: bigint): bigint {
  const backend = getBackend();
  const r1 = backend.modPowSecret(mod(base, c.n1), mod(exp, c.phi1), c.n1);
  const r2 = backend.modPowSecret(mod(base, c.n2), mod(exp, c.phi2), c.n2);
  return crtCombine(c, r1, r2);
}
