/**
 * Exponentiation with signed exponents over the selected backend. The protocol's exponents are
 * often negative (elements of ±2^ℓ sets, challenges in ±q); a negative exponent uses the inverse
 * of the base. Secret signed exponents never come here as negative BigInts: they are held in
 * shifted form (shifted.ts, `powShifted`).
 */
import { ArithError } from '../errors.ts';
import { mod } from './bigint.ts';
import { getBackend } from './select.ts';
import { randomZnStar } from './random.ts';

/** b^e mod m for a public exponent of any sign. */
export function powPublic(b: bigint, e: bigint, m: bigint): bigint {
  const backend = getBackend();
  if (e >= 0n) return backend.modPow(mod(b, m), e, m);
  return backend.modPow(backend.modInverse(mod(b, m), m), -e, m);
}

/** a^x · b^y mod m for public exponents of any sign. */
export function pow2Public(a: bigint, x: bigint, b: bigint, y: bigint, m: bigint): bigint {
  const backend = getBackend();
  const a1 = x >= 0n ? mod(a, m) : backend.modInverse(mod(a, m), m);
  const b1 = y >= 0n ? mod(b, m) : backend.modInverse(mod(b, m), m);
  return backend.modPow2(a1, x >= 0n ? x : -x, b1, y >= 0n ? y : -y, m);
}

/** b^x mod m for a secret non-negative x (e.g. already reduced modulo a group order). */
export function powSecretNonNegative(b: bigint, x: bigint, m: bigint): bigint {
  if (x < 0n) throw new ArithError('powSecretNonNegative: negative exponent');
  return getBackend().modPowSecret(mod(b, m), x, m);
}

export function modInverse(a: bigint, m: bigint): bigint {
  return getBackend().modInverse(mod(a, m), m);
}

/**
 * base^e mod m for a secret base and a public exponent of any sign (e.g. ρ^e in the proofs'
 * responses). A negative exponent inverts the base blinded by a random unit u, ρ^-1 = u·(ρu)^-1,
 * so the variable-time inversion only ever sees a uniformly random value.
 */
export function powSecretBase(base: bigint, e: bigint, m: bigint): bigint {
  const backend = getBackend();
  const b = mod(base, m);
  if (e >= 0n) return backend.modPowSecret(b, e, m);
  const u = randomZnStar(m);
  const inv = (u * backend.modInverse((b * u) % m, m)) % m;
  return backend.modPowSecret(inv, -e, m);
}
