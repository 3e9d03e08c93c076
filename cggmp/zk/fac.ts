/**
 * Π^fac: no small factor (spec §"Π^fac: No Small Factor Proof"): N_i = p·q with both factors
 * above roughly 2^ℓ, proved against the verifier's ring-Pedersen parameters R_j. Its range
 * checks on z1, z2 are what reject a modulus with a small prime factor (BitForge).
 */
import { isqrt, inPlusMinus, plusMinusHalf, randomPlusMinus, pow2Public, powPublic, powSecret } from '../arith/index.ts';
import type { SecurityLevel } from '../params.ts';
import { commitPublic, commitSecret, type RingPedersenParams } from '../ring-pedersen/index.ts';
import { challengeStream } from '../transcript/index.ts';
import { assertBigint, assertInZnStar, assertModulus, assertRecord } from '../validate.ts';
import { PROOF_TAG_PREFIX, assertContext, check, stateInputs, type ProofContext } from './context.ts';

const TAG = PROOF_TAG_PREFIX + 'fac';
const NAME = 'Π^fac';

export interface FacProof {
  readonly P: bigint;
  readonly Q: bigint;
  readonly A: bigint;
  readonly B: bigint;
  readonly T: bigint;
  readonly z1: bigint;
  readonly z2: bigint;
  readonly w1: bigint;
  readonly w2: bigint;
  readonly v: bigint;
}

type Commitment = Pick<FacProof, 'P' | 'Q' | 'A' | 'B' | 'T'>;

/** ChallengeNI_fac(state, R_j, N_i, (P, Q, A, B, T)) ∈ ±2^ℓ. */
function challengeFac(level: SecurityLevel, ctx: ProofContext, R: RingPedersenParams, Ni: bigint, c: Commitment): bigint {
  return challengeStream(TAG, [...stateInputs(ctx, level), [R.N, R.s, R.t], Ni, [c.P, c.Q, c.A, c.B, c.T]]).plusMinus(
    1n << BigInt(level.ell),
  );
}

/** ProveNI_fac(state, R_j, N_i; (p, q)). */
export function proveFac(
  level: SecurityLevel,
  ctx: ProofContext,
  R: RingPedersenParams,
  Ni: bigint,
  p: bigint,
  q: bigint,
): FacProof {
  assertContext(ctx);
  const ell = 1n << BigInt(level.ell);
  const ellEps = 1n << BigInt(level.ell + level.epsilon);
  const sqrtN = isqrt(Ni);
  const Nj = R.N;
  // Commit_fac.
  const alpha = randomPlusMinus(ellEps * sqrtN);
  const beta = randomPlusMinus(ellEps * sqrtN);
  const mu = randomPlusMinus(ell * Nj);
  const nu = randomPlusMinus(ell * Nj);
  const r = randomPlusMinus(ellEps * Ni * Nj);
  const x = randomPlusMinus(ellEps * Nj);
  const y = randomPlusMinus(ellEps * Nj);
  // The factors are below N_i: a fixed bound keeps the exponent's length independent of p, q.
  const primeBound = Ni;
  const P = commitSecret(R, p, mu, primeBound, plusMinusHalf(ell * Nj));
  const Q = commitSecret(R, q, nu, primeBound, plusMinusHalf(ell * Nj));
  const A = commitSecret(R, alpha, x, plusMinusHalf(ellEps * sqrtN), plusMinusHalf(ellEps * Nj));
  const B = commitSecret(R, beta, y, plusMinusHalf(ellEps * sqrtN), plusMinusHalf(ellEps * Nj));
  const T = (powSecret(Q, alpha, Nj, plusMinusHalf(ellEps * sqrtN)) * powSecret(R.t, r, Nj, plusMinusHalf(ellEps * Ni * Nj))) % Nj;
  const e = challengeFac(level, ctx, R, Ni, { P, Q, A, B, T });
  // Prove_fac.
  return {
    P,
    Q,
    A,
    B,
    T,
    z1: alpha + e * p,
    z2: beta + e * q,
    w1: x + e * mu,
    w2: y + e * nu,
    v: r - e * nu * p,
  };
}

/**
 * VerifyNI_fac: N_i of the level's exact size (hence > 2^4ℓ), P, Q, A, B, T ∈ Z*_{N_j}, then the
 * three ring-Pedersen equations and z1, z2 ∈ ±2^(ℓ+ε)·√N_i.
 */
export function verifyFac(level: SecurityLevel, ctx: ProofContext, R: RingPedersenParams, Ni: bigint, proof: FacProof): void {
  assertContext(ctx);
  assertRecord(proof, 'proof');
  assertModulus(Ni, level.modulusBits, 'N_i');
  check(Ni > 1n << BigInt(4 * level.ell), NAME, 'N_i > 2^(4ℓ)');
  const Nj = R.N;
  for (const k of ['P', 'Q', 'A', 'B', 'T'] as const) assertInZnStar(proof[k], Nj, k);
  for (const k of ['z1', 'z2', 'w1', 'w2', 'v'] as const) assertBigint(proof[k], k);
  const e = challengeFac(level, ctx, R, Ni, proof);
  const bound = (1n << BigInt(level.ell + level.epsilon)) * isqrt(Ni);
  check(inPlusMinus(proof.z1, bound), NAME, 'z1 ∈ ±2^(ℓ+ε)·√N_i');
  check(inPlusMinus(proof.z2, bound), NAME, 'z2 ∈ ±2^(ℓ+ε)·√N_i');
  check(commitPublic(R, proof.z1, proof.w1) === (proof.A * powPublic(proof.P, e, Nj)) % Nj, NAME, 's^z1·t^w1 = A·P^e');
  check(commitPublic(R, proof.z2, proof.w2) === (proof.B * powPublic(proof.Q, e, Nj)) % Nj, NAME, 's^z2·t^w2 = B·Q^e');
  check(
    pow2Public(proof.Q, proof.z1, R.t, proof.v, Nj) === (proof.T * commitPublic(R, Ni * e, 0n)) % Nj,
    NAME,
    'Q^z1·t^v = T·s^(N_i·e)',
  );
}
