/**
 * Security parameters L = (κ, ε, ℓ, ℓ', m, Q) of spec §"Security Parameters". The product ships
 * exactly one level, 128-bit; a smaller level for fast unit tests lives under test/support and
 * is refused by `assertProductionLevel`, which every service entry point calls.
 */
import { SecurityLevelError } from './errors.ts';

export interface SecurityLevel {
  readonly name: string;
  /** ℓ: bit bound of honestly chosen small plaintexts (≥ λ = 256 so that 2^ℓ covers q). */
  readonly ell: number;
  /** ℓ': bit bound of the masks that hide products (≥ 2λ + ε + s). */
  readonly ellPrime: number;
  /** ε: slack between honest ranges and what a proof guarantees (≥ 2 + s + log Q). */
  readonly epsilon: number;
  /** m: repetitions of the 1-bit-challenge proofs (Π^mod, Π^prm); Q = 2^m. */
  readonly m: number;
  /** Exact bit length of every Paillier and ring-Pedersen modulus: product of two safe primes. */
  readonly modulusBits: number;
}

/** Half the modulus: each safe prime has exactly this many bits with the top two bits set. */
export function primeBits(level: SecurityLevel): number {
  return level.modulusBits / 2;
}

/** Q = 2^m, the challenge space of the range proofs with Paillier-only statements. */
export function challengeSpace(level: SecurityLevel): bigint {
  return 1n << BigInt(level.m);
}

/** 128-bit level: 3072-bit moduli (NIST for 128-bit), ℓ = 256, ℓ' = 1280, ε = 512, m = 128 (DESIGN §3). */
export const SECURITY_LEVEL_128: SecurityLevel = Object.freeze({
  name: '128-bit',
  ell: 256,
  ellPrime: 1280,
  epsilon: 512,
  m: 128,
  modulusBits: 3072,
});

/** Throws unless `level` is the shipped 128-bit level, field by field. */
export function assertProductionLevel(level: SecurityLevel): void {
  const p = SECURITY_LEVEL_128;
  if (
    level.ell !== p.ell ||
    level.ellPrime !== p.ellPrime ||
    level.epsilon !== p.epsilon ||
    level.m !== p.m ||
    level.modulusBits !== p.modulusBits
  ) {
    throw new SecurityLevelError(`security level "${level.name}" is not the 128-bit production level`);
  }
}
