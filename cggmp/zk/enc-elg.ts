/**
 * Π^enc-elg: range proof with an El-Gamal commitment (spec §"Π^enc-elg: Range Proof with
 * El-Gamal Commitment"): C = enc_{N0}(x; ρ) with x ∈ ±2^ℓ, A = a·G, B = b·G, X = (ab + x)·G;
 * guarantees x ∈ ±2^(ℓ+ε). The verifier's ring-Pedersen parameters R_j are part of the challenge
 * on both sides (the spec's VerifyNI omits the state and ProveNI omits R_j: we bind both).
 */
import { affineResponse, assertShiftedWithin, inPlusMinus, plusMinusHalf, randomBelow, randomShifted, randomZnStar, mod, powPublic, powSecretBase, scalarOf, type Shifted } from '../arith/index.ts';
import { assertPoint, CURVE_ORDER, mulG, mulGPublic, mulPoint, mulPointPublic, scalarField, type Point } from '../curve/index.ts';
import { encrypt, encryptCrtShifted, encryptShifted, mulPublic, paillierPublicKey, type PaillierPublicKey, type PaillierSecretKey } from '../paillier/index.ts';
import type { SecurityLevel } from '../params.ts';
import { commitPublic, commitSecret, type RingPedersenParams } from '../ring-pedersen/index.ts';
import { challengeStream } from '../transcript/index.ts';
import { assertBigint, assertInZnStar, assertInZnSquaredStar, assertScalar, assertRecord } from '../validate.ts';
import { InvalidInputError } from '../errors.ts';
import { PROOF_TAG_PREFIX, assertContext, check, stateInputs, type ProofContext } from './context.ts';

const TAG = PROOF_TAG_PREFIX + 'enc-elg';
const NAME = 'Π^enc-elg';

export interface EncElgStatement {
  /** Prover's Paillier key N0. */
  readonly N0: bigint;
  readonly C: bigint;
  readonly A: Point;
  readonly B: Point;
  readonly X: Point;
}
export interface EncElgProof {
  readonly S: bigint;
  readonly T: bigint;
  readonly D: bigint;
  readonly Y: Point;
  readonly Z: Point;
  readonly z1: bigint;
  readonly z2: bigint;
  readonly z3: bigint;
  readonly w: bigint;
}

function challengeEncElg(
  level: SecurityLevel,
  ctx: ProofContext,
  R: RingPedersenParams,
  s: EncElgStatement,
  p: Pick<EncElgProof, 'S' | 'T' | 'D' | 'Y' | 'Z'>,
): bigint {
  return challengeStream(TAG, [
    ...stateInputs(ctx, level),
    [R.N, R.s, R.t],
    [s.N0, s.C, s.A, s.B, s.X],
    [p.S, p.T, p.D, p.Y, p.Z],
  ]).plusMinus(CURVE_ORDER);
}

/**
 * ProveNI_enc-elg(state, R_j, (N0, C, A, B, X); (x, ρ, b)). x is the centred representative of a
 * scalar, held shifted (never a signed BigInt); b ∈ [0, q). `sk0` is the prover's own Paillier
 * secret key when it has it (CRT encryption).
 */
export function proveEncElg(
  level: SecurityLevel,
  ctx: ProofContext,
  R: RingPedersenParams,
  s: EncElgStatement,
  secret: { x: Shifted; rho: bigint; b: bigint },
  sk0?: PaillierSecretKey,
): EncElgProof {
  assertContext(ctx);
  // The spec's x ∈ ±2^ℓ: it must also be the plaintext of C.
  assertShiftedWithin(secret.x, plusMinusHalf(1n << BigInt(level.ell)), 'x');
  if (sk0 && sk0.N !== s.N0) throw new InvalidInputError('sk0', 'does not match N0');
  const pk0: PaillierPublicKey = { N: s.N0, N2: s.N0 * s.N0 };
  const ell = 1n << BigInt(level.ell);
  const ellEps = 1n << BigInt(level.ell + level.epsilon);
  const Fq = scalarField();
  // Commit_enc-elg.
  const alpha = randomShifted(ellEps);
  const mu = randomShifted(ell * R.N);
  const r = randomZnStar(s.N0);
  const beta = randomBelow(CURVE_ORDER - 1n) + 1n;
  const gamma = randomShifted(ellEps * R.N);
  const S = commitSecret(R, secret.x, mu);
  const T = commitSecret(R, alpha, gamma);
  const D = sk0 ? encryptCrtShifted(sk0, alpha, r) : encryptShifted(pk0, alpha, r);
  const Y = mulPoint(s.A, beta).add(mulG(scalarOf(alpha, Fq)));
  const Z = mulG(beta);
  const e = challengeEncElg(level, ctx, R, s, { S, T, D, Y, Z });
  // Prove_enc-elg.
  const z1 = affineResponse(alpha, e, secret.x);
  const z2 = (r * powSecretBase(secret.rho, e, s.N0)) % s.N0;
  const z3 = affineResponse(gamma, e, mu);
  const w = Fq.mulAdd(beta, mod(e, CURVE_ORDER), secret.b);
  return { S, T, D, Y, Z, z1, z2, z3, w };
}

/**
 * VerifyNI_enc-elg: validates every value's domain (N0's size, C, D ∈ Z*_{N0²}, S, T ∈ Z*_{N̂},
 * points on the curve and not the identity, z2 ∈ Z*_{N0}, w ∈ Z_q), then Verify_enc-elg.
 */
export function verifyEncElg(
  level: SecurityLevel,
  ctx: ProofContext,
  R: RingPedersenParams,
  s: EncElgStatement,
  proof: EncElgProof,
): void {
  assertContext(ctx);
  assertRecord(s, 'statement');
  assertRecord(proof, 'proof');
  const pk0 = paillierPublicKey(s.N0, level, 'N0');
  assertInZnSquaredStar(s.C, pk0.N, 'C');
  for (const k of ['A', 'B', 'X'] as const) assertPoint(s[k], k);
  assertInZnStar(proof.S, R.N, 'S');
  assertInZnStar(proof.T, R.N, 'T');
  assertInZnSquaredStar(proof.D, pk0.N, 'D');
  assertPoint(proof.Y, 'Y');
  assertPoint(proof.Z, 'Z');
  assertBigint(proof.z1, 'z1');
  assertInZnStar(proof.z2, pk0.N, 'z2');
  assertBigint(proof.z3, 'z3');
  assertScalar(proof.w, CURVE_ORDER, 'w');

  const e = challengeEncElg(level, ctx, R, s, proof);
  const ellEps = 1n << BigInt(level.ell + level.epsilon);
  check(inPlusMinus(proof.z1, ellEps), NAME, 'z1 ∈ ±2^(ℓ+ε)');
  check(
    encrypt(pk0, proof.z1, proof.z2) === (proof.D * mulPublic(pk0, e, s.C)) % pk0.N2,
    NAME,
    'enc(z1; z2) = D ⊕ (e ⊙ C)',
  );
  check(
    mulPointPublic(s.A, proof.w).add(mulGPublic(proof.z1)).equals(proof.Y.add(mulPointPublic(s.X, e))),
    NAME,
    'w·A + z1·G = Y + e·X',
  );
  check(mulGPublic(proof.w).equals(proof.Z.add(mulPointPublic(s.B, e))), NAME, 'w·G = Z + e·B');
  check(commitPublic(R, proof.z1, proof.z3) === (proof.T * powPublic(proof.S, e, R.N)) % R.N, NAME, 's^z1·t^z3 = T·S^e');
}
