/**
 * Π^fac: no small factor (spec §"Π^fac: No Small Factor Proof"): N_i = p·q with both factors
 * above roughly 2^ℓ, proved against the verifier's ring-Pedersen parameters R_j. Its range
 * checks on z1, z2 are what reject a modulus with a small prime factor (BitForge).
 */
import { affineResponse, isqrt, inPlusMinus, randomShifted, pow2Public, powPublic, powShifted, type Shifted } from '../arith/index.ts';
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
  // Commit_fac. Every signed secret is held shifted (arith/shifted.ts).
  const alpha = randomShifted(ellEps * sqrtN);
  const beta = randomShifted(ellEps * sqrtN);
  const mu = randomShifted(ell * Nj);
  const nu = randomShifted(ell * Nj);
  const r = randomShifted(ellEps * Ni * Nj);
  const x = randomShifted(ellEps * Nj);
  const y = randomShifted(ellEps * Nj);
  // The factors with the public offset N_i: the exponent's length then does not depend on p, q.
  const pS: Shifted = { value: p + Ni, offset: Ni };
  const qS: Shifted = { value: q + Ni, offset: Ni };
  const P = commitSecret(R, pS, mu);
  const Q = commitSecret(R, qS, nu);
  const A = commitSecret(R, alpha, x);
  const B = commitSecret(R, beta, y);
  const T = (powShifted(Q, alpha, Nj) * powShifted(R.t, r, Nj)) % Nj;
  const e = challengeFac(level, ctx, R, Ni, { P, Q, A, B, T });
  // ν·p as a Shifted with the public offset ν.offset·N_i ≥ ν.offset·p: every term stays ≥ 0.
  const nuP: Shifted = { value: nu.value * p + nu.offset * (Ni - p), offset: nu.offset * Ni };
  // Prove_fac.
  return {
    P,
    Q,
    A,
    B,
    T,
    z1: affineResponse(alpha, e, pS),
    z2: affineResponse(beta, e, qS),
    w1: affineResponse(x, e, mu),
    w2: affineResponse(y, e, nu),
    v: affineResponse(r, -e, nuP),
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
