/**
 * Π^prm: ring-Pedersen parameters are well formed, s ∈ ⟨t⟩ (spec §"Π^prm: Ring-Pedersen
 * Parameters"): m parallel rounds with one-bit challenges, A_i = t^a_i, z_i = a_i + e_i·λ mod φ(N).
 */
import { getBackend, randomBelow } from '../arith/index.ts';
import type { SecurityLevel } from '../params.ts';
import { commitPublic, ringPedersenParams, type RingPedersenParams, type RingPedersenSecret } from '../ring-pedersen/index.ts';
import { challengeStream } from '../transcript/index.ts';
import { assertArray, assertInZn, assertInZnStar, assertRecord } from '../validate.ts';
import { PROOF_TAG_PREFIX, assertContext, check, stateInputs, type ProofContext } from './context.ts';

const TAG = PROOF_TAG_PREFIX + 'prm';
const NAME = 'Π^prm';

export interface PrmProof {
  readonly A: readonly bigint[];
  readonly z: readonly bigint[];
}

/** ChallengeNI_prm(state, N, s, t, A) ∈ {0,1}^m. */
function challengePrm(level: SecurityLevel, ctx: ProofContext, R: RingPedersenParams, A: readonly bigint[]): number[] {
  return challengeStream(TAG, [...stateInputs(ctx, level), R.N, R.s, R.t, A]).bits(level.m);
}

/** ProveNI_prm(state, N, s, t; φ(N), λ). */
export function provePrm(level: SecurityLevel, ctx: ProofContext, secret: RingPedersenSecret): PrmProof {
  assertContext(ctx);
  // Commit_prm: a_i ← Z_φ(N), A_i = t^a_i mod N (CRT: the prover knows the factorisation).
  const a = Array.from({ length: level.m }, () => randomBelow(secret.phi));
  const A = a.map((ai) => secret.crt.pow(secret.t, ai));
  const e = challengePrm(level, ctx, secret, A);
  // Prove_prm: z_i = a_i + e_i·λ mod φ(N), e_i a public bit: a masked conditional subtraction of
  // the secret φ (λ < φ/4 and a_i < φ), never a BigInt division by it.
  const backend = getBackend();
  const z = a.map((ai, i) => (e[i] === 1 ? backend.addModSecret(ai, secret.lambda, secret.phi) : ai));
  return { A, z };
}

/** VerifyNI_prm: validates (N, s, t), every A_i ∈ Z*_N and z_i ∈ Z_N, then t^z_i = A_i·s^e_i. */
export function verifyPrm(level: SecurityLevel, ctx: ProofContext, params: RingPedersenParams, proof: PrmProof): void {
  assertContext(ctx);
  const R = ringPedersenParams(params, level);
  assertRecord(proof, 'proof');
  assertArray(proof.A, level.m, 'A');
  assertArray(proof.z, level.m, 'z');
  const A: bigint[] = [];
  const z: bigint[] = [];
  for (let i = 0; i < level.m; i++) {
    const Ai: unknown = proof.A[i];
    const zi: unknown = proof.z[i];
    assertInZnStar(Ai, R.N, `A[${i}]`);
    assertInZn(zi, R.N, `z[${i}]`);
    A.push(Ai);
    z.push(zi);
  }
  const e = challengePrm(level, ctx, R, A);
  for (let i = 0; i < level.m; i++) {
    const rhs = e[i] === 1 ? (A[i]! * R.s) % R.N : A[i]!;
    // t^z_i through the fixed-base table of (s, t): s^0·t^z_i.
    check(commitPublic(R, 0n, z[i]!) === rhs, NAME, `t^z[${i}] = A[${i}]·s^e[${i}]`);
  }
}
