/**
 * The small security level for fast unit tests only (2048-bit moduli, m = 32). Product code
 * cannot import it (lint rule) and services refuse it (assertProductionLevel).
 * Constraints kept: ℓ ≥ 256 so ±2^ℓ covers secp256k1 scalars; 2^(ℓ'+ε) < N/2 so aff-g's masked
 * values stay below the modulus; 2^(2ℓ+ε) ≈ √N as Π^fac assumes.
 */
import type { SecurityLevel } from '../../cggmp/params.ts';

export const TEST_LEVEL: SecurityLevel = Object.freeze({
  name: 'test-only-2048',
  ell: 256,
  ellPrime: 1024,
  epsilon: 512,
  m: 32,
  modulusBits: 2048,
});
