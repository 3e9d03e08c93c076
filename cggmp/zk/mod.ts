/**
 * Π^mod: N is a Paillier-Blum modulus (spec §"Π^mod: Paillier-Blum Modulus"): the prover,
 * knowing primes p, q ≡ 3 mod 4 with N = pq, answers m challenges y_i with N-th roots z_i and
 * fourth roots x_i of (-1)^a_i·w^b_i·y_i. The verifier also refuses an even or prime N and
 * checks gcd(w, N) = 1.
 */
import { jacobi, crtModulus, isProbablePrime, randomZnStar, powPublic, getBackend, type CrtModulus } from '../arith/index.ts';
import { ArithError } from '../errors.ts';
import type { SecurityLevel } from '../params.ts';
import { challengeStream } from '../transcript/index.ts';
import { assertArray, assertBit, assertInZn, assertInZnStar, assertModulus, assertRecord } from '../validate.ts';
import { PROOF_TAG_PREFIX, assertContext, check, stateInputs, type ProofContext } from './context.ts';

const TAG = PROOF_TAG_PREFIX + 'mod';
const NAME = 'Π^mod';

export interface ModProof {
  readonly w: bigint;
  readonly rounds: readonly { readonly x: bigint; readonly a: 0 | 1; readonly b: 0 | 1; readonly z: bigint }[];
}

/** ChallengeNI_mod(state, N, w): m elements of Z*_N. */
function challengeMod(level: SecurityLevel, ctx: ProofContext, N: bigint, w: bigint): bigint[] {
  const stream = challengeStream(TAG, [...stateInputs(ctx, level), N, w]);
  return Array.from({ length: level.m }, () => stream.znStar(N));
}

/** ProveNI_mod(state, N; (p, q)). p, q are the prover's own primes ≡ 3 mod 4 (not re-checked). */
export function proveMod(level: SecurityLevel, ctx: ProofContext, N: bigint, p: bigint, q: bigint): ModProof {
  assertContext(ctx);
  const crt = crtModulus(p, p - 1n, q, q - 1n);
  const phi = (p - 1n) * (q - 1n);
  // Commit_mod: w ← Z*_N with Jacobi symbol (w/N) = -1.
  let w = randomZnStar(N);
  while (jacobi(w, N) !== -1) w = randomZnStar(N);
  const ys = challengeMod(level, ctx, N, w);
  // Prove_mod. N' = N^-1 mod φ(N): the addon's inversion reduces N by φ without branches.
  const NInv = getBackend().modInverse(N, phi);
  // blum_sqrt exponent ((p-1)(q-1) + 4)/8: φ + 4 = 4(p'q' + 1) with p'q' odd, so a shift is exact.
  const sqrtExp = (phi + 4n) >> 3n;
  const rounds = ys.map((y) => {
    const { a, b, yPrime } = findResidue(y, w, crt, N);
    const x = crt.pow(crt.pow(yPrime, sqrtExp), sqrtExp);
    const z = crt.pow(y, NInv);
    return { x, a, b, z };
  });
  return { w, rounds };
}

/**
 * find_residue: a, b ∈ {0,1} with (-1)^a·w^b·y a quadratic residue mod N. The Legendre symbols
 * come from the CRT context (Euler's criterion with the secret primes as constant-time moduli);
 * they decide a and b, which the proof publishes.
 */
function findResidue(y: bigint, w: bigint, crt: CrtModulus, N: bigint): { a: 0 | 1; b: 0 | 1; yPrime: bigint } {
  for (const b of [0, 1] as const) {
    const v = b === 0 ? y : (w * y) % N;
    const [jp, jq] = crt.legendre(v);
    if (jp === 1 && jq === 1) return { a: 0, b, yPrime: v };
    if (jp === -1 && jq === -1) return { a: 1, b, yPrime: N - v };
  }
  // The spec's ⊥: unreachable for a Blum modulus and (w/N) = -1, so the primes were not valid.
  throw new ArithError('find_residue: no residue among ±w^b·y (the primes are not a Blum pair)');
}

/**
 * VerifyNI_mod: N of the level's exact size, odd, not prime; w ∈ Z*_N; then for every i:
 * z_i^N = y_i and x_i^4 = (-1)^a_i·w^b_i·y_i mod N with a_i, b_i bits and x_i, z_i ∈ Z_N.
 */
export function verifyMod(level: SecurityLevel, ctx: ProofContext, N: bigint, proof: ModProof): void {
  assertContext(ctx);
  assertModulus(N, level.modulusBits, 'N');
  check(!isProbablePrime(N), NAME, 'N not prime');
  assertRecord(proof, 'proof');
  assertInZnStar(proof.w, N, 'w');
  assertArray(proof.rounds, level.m, 'rounds');
  const rounds = proof.rounds;
  for (let i = 0; i < level.m; i++) {
    const r: unknown = rounds[i];
    assertRecord(r, `rounds[${i}]`);
    assertInZn(r.x, N, `x[${i}]`);
    assertInZn(r.z, N, `z[${i}]`);
    assertBit(r.a, `a[${i}]`);
    assertBit(r.b, `b[${i}]`);
  }
  const ys = challengeMod(level, ctx, N, proof.w);
  for (let i = 0; i < level.m; i++) {
    const r = rounds[i]!;
    const y = ys[i] as bigint;
    check(powPublic(r.z, N, N) === y, NAME, `z[${i}]^N = y[${i}]`);
    let rhs = r.b === 1 ? (proof.w * y) % N : y;
    if (r.a === 1) rhs = N - rhs;
    check(powPublic(r.x, 4n, N) === rhs, NAME, `x[${i}]^4 = (-1)^a·w^b·y[${i}]`);
  }
}
