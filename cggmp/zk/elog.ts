/**
 * Π^elog: discrete log with an El-Gamal commitment (spec §"Π^elog: Dlog with El-Gamal
 * Commitment"): knowledge of (y, λ) with L = λ·G, M = y·G + λ·X, Y = y·H.
 */
import { randomBelow } from '../arith/index.ts';
import { assertPoint, CURVE_ORDER, mulG, mulGPublic, mulPoint, mulPointPublic, scalarField, type Point } from '../curve/index.ts';
import { challengeStream } from '../transcript/index.ts';
import { assertScalar, assertRecord } from '../validate.ts';
import { PROOF_TAG_PREFIX, assertContext, check, stateInputs, type ProofContext } from './context.ts';

const TAG = PROOF_TAG_PREFIX + 'elog';
const NAME = 'Π^elog';

export interface ElogStatement {
  readonly L: Point;
  readonly M: Point;
  readonly X: Point;
  readonly Y: Point;
  readonly H: Point;
}
export interface ElogProof {
  readonly A: Point;
  readonly N: Point;
  readonly B: Point;
  readonly z: bigint;
  readonly u: bigint;
}

function challengeElog(ctx: ProofContext, s: ElogStatement, A: Point, N: Point, B: Point): bigint {
  return challengeStream(TAG, [...stateInputs(ctx), [s.L, s.M, s.X, s.Y, s.H], [A, N, B]]).below(CURVE_ORDER);
}

function nonZeroScalar(): bigint {
  return randomBelow(CURVE_ORDER - 1n) + 1n;
}

/** ProveNI_elog(state, (L, M, X, Y, H); (y, λ)). */
export function proveElog(ctx: ProofContext, s: ElogStatement, y: bigint, lambda: bigint): ElogProof {
  assertContext(ctx);
  // Commit_elog: α, m ← Z_q; A = α·G, N = m·G + α·X, B = m·H.
  const alpha = nonZeroScalar();
  const m = nonZeroScalar();
  const A = mulG(alpha);
  const N = mulG(m).add(mulPoint(s.X, alpha));
  const B = mulPoint(s.H, m);
  const e = challengeElog(ctx, s, A, N, B);
  // Prove_elog: z = α + eλ, u = m + e·y (mod q).
  const Fq = scalarField();
  return { A, N, B, z: Fq.mulAdd(alpha, e, lambda), u: Fq.mulAdd(m, e, y) };
}

/** VerifyNI_elog: validates every point and scalar, then the three equations of Verify_elog. */
export function verifyElog(ctx: ProofContext, s: ElogStatement, proof: ElogProof): void {
  assertContext(ctx);
  assertRecord(s, 'statement');
  assertRecord(proof, 'proof');
  for (const k of ['L', 'M', 'X', 'Y', 'H'] as const) assertPoint(s[k], k);
  for (const k of ['A', 'N', 'B'] as const) assertPoint(proof[k], k);
  assertScalar(proof.z, CURVE_ORDER, 'z');
  assertScalar(proof.u, CURVE_ORDER, 'u');
  const e = challengeElog(ctx, s, proof.A, proof.N, proof.B);
  check(mulGPublic(proof.z).equals(proof.A.add(mulPointPublic(s.L, e))), NAME, 'z·G = A + e·L');
  check(
    mulGPublic(proof.u).add(mulPointPublic(s.X, proof.z)).equals(proof.N.add(mulPointPublic(s.M, e))),
    NAME,
    'u·G + z·X = N + e·M',
  );
  check(mulPointPublic(s.H, proof.u).equals(proof.B.add(mulPointPublic(s.Y, e))), NAME, 'u·H = B + e·Y');
}
