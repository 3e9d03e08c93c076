/**
 * Exponentiation modulo n = n1·n2 with known factorisation (spec §"Using the Chinese Remainder
 * Theorem"), through the backend's CRT context: built once per key, it holds both halves as
 * secret moduli (constant-time flag, Montgomery context cached), exponentiates each half in
 * constant time and recombines with β = n1^-1 mod n2 without branching on the residues.
 */
import type { CrtContext } from './backend.ts';
import { getBackend } from './select.ts';

export type CrtModulus = CrtContext;

/** A CRT context for n1·n2; φ_i is the order of Z*_{n_i} (negative exponents use it). */
export function crtModulus(n1: bigint, phi1: bigint, n2: bigint, phi2: bigint): CrtModulus {
  return getBackend().crtContext(n1, phi1, n2, phi2);
}
