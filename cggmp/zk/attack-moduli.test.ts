/**
 * Π^mod and Π^fac against the moduli of known attacks, built here: a modulus with a small prime
 * factor (BitForge), a non-Blum modulus, a prime, and a modulus below 3072 bits. Each cheating
 * prover runs the honest algorithm with the real factorisation: the best it can do without
 * breaking the proofs' soundness.
 */
import { generatePrimeSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bitLength } from '../arith/index.ts';
import { ArithError, InvalidInputError, ProofInvalidError } from '../errors.ts';
import { SECURITY_LEVEL_128 as L } from '../params.ts';
import { ringPedersenPublic } from '../ring-pedersen/index.ts';
import { partyKeys, TEST_LEVEL } from '../../test/support/keys.ts';
import { makeContext } from '../../test/support/context.ts';
import { proveFac, proveMod, verifyFac, verifyMod, type ModProof } from './index.ts';

function prime(bits: number, mod4: bigint): bigint {
  for (;;) {
    const p = generatePrimeSync(bits, { bigint: true });
    if (p % 4n === mod4 && p >> BigInt(bits - 2) === 3n) return p;
  }
}

function expectProofInvalid(fn: () => void, check: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProofInvalidError);
    expect((e as ProofInvalidError).check).toMatch(check);
    return;
  }
  expect.fail('verification should have failed');
}

describe('moduli of known attacks at the 128-bit level', () => {
  const R = ringPedersenPublic(partyKeys(L, 1).ringPedersen);
  const ctx = makeContext(3);

  it('rejects a Blum modulus with a small prime factor (BitForge): Π^fac fails on the range of z2', () => {
    const p = prime(128, 3n);
    const q = prime(L.modulusBits - 128, 3n);
    const N = p * q;
    expect(bitLength(N)).toBe(L.modulusBits);
    // Π^mod alone cannot see it: N is a genuine Paillier-Blum modulus. Π^fac is what refuses it.
    verifyMod(L, ctx, N, proveMod(L, ctx, N, p, q));
    expectProofInvalid(() => verifyFac(L, ctx, R, N, proveFac(L, ctx, R, N, p, q)), /z2/);
    expectProofInvalid(() => verifyFac(L, ctx, R, N, proveFac(L, ctx, R, N, q, p)), /z1/);
  });

  it('rejects a modulus made of many small primes and one large one: both proofs fail', () => {
    let small: bigint;
    let big: bigint;
    let N: bigint;
    do {
      small = 1n;
      while (bitLength(small) < 16 * 32) small *= prime(32, 3n);
      big = prime(L.modulusBits - bitLength(small), 3n);
      N = small * big;
    } while (bitLength(N) !== L.modulusBits);
    // The prover's find_residue usually has no answer here (the spec's ⊥); then it sends what it can.
    let proof: ModProof;
    try {
      proof = proveMod(L, ctx, N, small, big);
    } catch (e) {
      expect(e).toBeInstanceOf(ArithError);
      const other = partyKeys(L, 0).paillier;
      const borrowed = proveMod(L, ctx, other.N, other.p, other.q);
      proof = { w: 2n, rounds: borrowed.rounds.map((r) => ({ ...r, x: r.x % N, z: r.z % N })) };
    }
    expectProofInvalid(() => verifyMod(L, ctx, N, proof), /\^/);
    expectProofInvalid(() => verifyFac(L, ctx, R, N, proveFac(L, ctx, R, N, small, big)), /z2/);
  });

  it('rejects a non-Blum modulus (a factor ≡ 1 mod 4): Π^mod fails', () => {
    const p = prime(L.modulusBits / 2, 1n);
    const q = prime(L.modulusBits / 2, 3n);
    const N = p * q;
    expectProofInvalid(() => verifyMod(L, ctx, N, proveMod(L, ctx, N, p, q)), /x\[\d+\]\^4/);
  });

  it('rejects a prime modulus: Π^mod fails on primality, Π^fac on the range', () => {
    const N = prime(L.modulusBits, 3n);
    const borrowed = proveMod(L, ctx, partyKeys(L, 0).paillier.N, partyKeys(L, 0).paillier.p, partyKeys(L, 0).paillier.q);
    const forged: ModProof = { ...borrowed, w: 2n };
    expectProofInvalid(() => verifyMod(L, ctx, N, forged), /not prime/);
    expectProofInvalid(() => verifyFac(L, ctx, R, N, proveFac(L, ctx, R, N, N, 1n)), /z1/);
  });

  it('refuses a modulus below 3072 bits before any proof work', () => {
    const small = partyKeys(TEST_LEVEL, 0).paillier;
    const modProof = proveMod(TEST_LEVEL, ctx, small.N, small.p, small.q);
    expect(() => verifyMod(L, ctx, small.N, { ...modProof })).toThrow(InvalidInputError);
    expect(() => verifyFac(L, ctx, R, small.N, proveFac(L, ctx, R, small.N, small.p, small.q))).toThrow(InvalidInputError);
  });
});
