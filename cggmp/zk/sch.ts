/**
 * Π^sch: Schnorr proof of knowledge of x with X = x·G (spec §"Π^sch: Schnorr Proof of
 * Knowledge"). Keygen sends the commitment A before the challenge input is known, so the
 * commit and response steps are exposed separately as well as the one-shot NI pair.
 */
import { randomBelow } from '../arith/index.ts';
import { ArithError } from '../errors.ts';
import { assertPoint, CURVE_ORDER, mulG, mulGPublic, mulPointPublic, scalarField, type Point } from '../curve/index.ts';
import { challengeStream } from '../transcript/index.ts';
import { assertScalar, assertRecord } from '../validate.ts';
import { PROOF_TAG_PREFIX, assertContext, check, stateInputs, type ProofContext } from './context.ts';

const TAG = PROOF_TAG_PREFIX + 'sch';
const NAME = 'Π^sch';

export interface SchCommitment {
  readonly A: Point;
}
export interface SchNonce {
  readonly alpha: bigint;
}
export interface SchProof {
  readonly A: Point;
  readonly z: bigint;
}

/** Commit_sch: α ← Z_q, A = α·G. */
export function commitSch(): { commitment: SchCommitment; nonce: SchNonce } {
  const alpha = randomBelow(CURVE_ORDER - 1n) + 1n;
  return { commitment: { A: mulG(alpha) }, nonce: { alpha } };
}

/** ChallengeNI_sch(state, X, A) ∈ Z_q. */
function challengeSch(ctx: ProofContext, X: Point, A: Point): bigint {
  return challengeStream(TAG, [...stateInputs(ctx), X, A]).below(CURVE_ORDER);
}

// Nonces already answered: a second response to another challenge would reveal x.
const answered = new WeakSet<SchNonce>();

/** Prove_sch: z = α + e·x mod q. Each nonce answers exactly one challenge. */
export function respondSch(ctx: ProofContext, X: Point, commitment: SchCommitment, nonce: SchNonce, x: bigint): SchProof {
  assertContext(ctx);
  if (answered.has(nonce)) throw new ArithError('Π^sch: this nonce has already answered a challenge');
  answered.add(nonce);
  const e = challengeSch(ctx, X, commitment.A);
  return { A: commitment.A, z: scalarField().mulAdd(nonce.alpha, e, x) };
}

/** ProveNI_sch(state, X; x). */
export function proveSch(ctx: ProofContext, X: Point, x: bigint): SchProof {
  const { commitment, nonce } = commitSch();
  return respondSch(ctx, X, commitment, nonce, x);
}

/** VerifyNI_sch: validates X, A ∈ E \ {O}, z ∈ Z_q, then z·G = A + e·X. */
export function verifySch(ctx: ProofContext, X: Point, proof: SchProof): void {
  assertContext(ctx);
  assertRecord(proof, 'proof');
  assertPoint(X, 'X');
  assertPoint(proof.A, 'A');
  assertScalar(proof.z, CURVE_ORDER, 'z');
  const e = challengeSch(ctx, X, proof.A);
  check(mulGPublic(proof.z).equals(proof.A.add(mulPointPublic(X, e))), NAME, 'z·G = A + e·X');
}
