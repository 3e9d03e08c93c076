/**
 * Π^aff-g: Paillier affine operation with group commitment in range (spec §"Π^aff-g").
 * Statement: D = (x ⊙ C) ⊕ enc_{N_j}(y; ρ), Y = enc_{N_i}(y; ρ_y), X = x·G, with x ∈ ±2^ℓ and
 * y ∈ ±2^ℓ'; the proof guarantees x ∈ ±2^(ℓ+ε), y ∈ ±2^(ℓ'+ε). N_j and R_j = (N̂_j, s_j, t_j)
 * belong to the verifier, N_i to the prover.
 */
import { affineResponse, assertShiftedWithin, inPlusMinus, plusMinusHalf, randomShifted, randomZnStar, powPublic, powSecretBase, scalarOf, type Shifted } from '../arith/index.ts';
import { assertPoint, CURVE_ORDER, mulG, mulGPublic, mulPointPublic, scalarField, type Point } from '../curve/index.ts';
import {
  encrypt,
  encryptCrt,
  encryptCrtShifted,
  encryptShifted,
  mulPublic,
  mulShifted,
  paillierPublicKey,
  type PaillierPublicKey,
  type PaillierSecretKey,
} from '../paillier/index.ts';
import type { SecurityLevel } from '../params.ts';
import { commitPublic, commitSecret, type RingPedersenParams } from '../ring-pedersen/index.ts';
import { challengeStream } from '../transcript/index.ts';
import { assertBigint, assertInZnStar, assertInZnSquaredStar, assertRecord } from '../validate.ts';
import { InvalidInputError } from '../errors.ts';
import { PROOF_TAG_PREFIX, assertContext, check, stateInputs, type ProofContext } from './context.ts';

const TAG = PROOF_TAG_PREFIX + 'aff-g';
const NAME = 'Π^aff-g';

export interface AffGStatement {
  /** Verifier's Paillier key. */
  readonly Nj: bigint;
  /** Prover's Paillier key. */
  readonly Ni: bigint;
  readonly C: bigint;
  readonly D: bigint;
  readonly Y: bigint;
  readonly X: Point;
}
export interface AffGProof {
  readonly A: bigint;
  readonly Bx: Point;
  readonly By: bigint;
  readonly E: bigint;
  readonly S: bigint;
  readonly F: bigint;
  readonly T: bigint;
  readonly z1: bigint;
  readonly z2: bigint;
  readonly z3: bigint;
  readonly z4: bigint;
  readonly w: bigint;
  readonly wy: bigint;
}
/** x and y held shifted (arith/shifted.ts): secret signed values never appear as BigInts. */
export interface AffGSecret {
  readonly x: Shifted;
  readonly y: Shifted;
  readonly rho: bigint;
  readonly rhoY: bigint;
}

type Commitment = Pick<AffGProof, 'A' | 'Bx' | 'By' | 'E' | 'S' | 'F' | 'T'>;

function challengeAffG(level: SecurityLevel, ctx: ProofContext, R: RingPedersenParams, s: AffGStatement, c: Commitment): bigint {
  return challengeStream(TAG, [
    ...stateInputs(ctx, level),
    [R.N, R.s, R.t],
    [s.Nj, s.Ni, s.C, s.D, s.Y, s.X],
    [c.A, c.Bx, c.By, c.E, c.S, c.F, c.T],
  ]).plusMinus(CURVE_ORDER);
}

/** ProveNI_aff-g(state, R_j, (N_j, N_i, C, D, Y, X); (x, y, ρ, ρ_y)); `ski` is the prover's key for CRT. */
export function proveAffG(
  level: SecurityLevel,
  ctx: ProofContext,
  R: RingPedersenParams,
  s: AffGStatement,
  secret: AffGSecret,
  ski?: PaillierSecretKey,
): AffGProof {
  assertContext(ctx);
  // The spec's x ∈ ±2^ℓ, y ∈ ±2^ℓ': scalars go in as centred representatives.
  assertShiftedWithin(secret.x, plusMinusHalf(1n << BigInt(level.ell)), 'x');
  assertShiftedWithin(secret.y, plusMinusHalf(1n << BigInt(level.ellPrime)), 'y');
  if (ski && ski.N !== s.Ni) throw new InvalidInputError('ski', 'does not match N_i');
  const pkj: PaillierPublicKey = { N: s.Nj, N2: s.Nj * s.Nj };
  const pki: PaillierPublicKey = { N: s.Ni, N2: s.Ni * s.Ni };
  const ell = 1n << BigInt(level.ell);
  const ellEps = 1n << BigInt(level.ell + level.epsilon);
  const ellPrimeEps = 1n << BigInt(level.ellPrime + level.epsilon);
  // Commit_aff-g, step 1: sample the nonces.
  const alpha = randomShifted(ellEps);
  const beta = randomShifted(ellPrimeEps);
  const r = randomZnStar(s.Nj);
  const ry = randomZnStar(s.Ni);
  const gamma = randomShifted(ellEps * R.N);
  const delta = randomShifted(ellEps * R.N);
  const m = randomShifted(ell * R.N);
  const mu = randomShifted(ell * R.N);
  // Steps 2–8.
  const A = (mulShifted(pkj, alpha, s.C) * encryptShifted(pkj, beta, r)) % pkj.N2;
  const Bx = mulG(scalarOf(alpha, scalarField()));
  const By = ski ? encryptCrtShifted(ski, beta, ry) : encryptShifted(pki, beta, ry);
  const E = commitSecret(R, alpha, gamma);
  const S = commitSecret(R, secret.x, m);
  const F = commitSecret(R, beta, delta);
  const T = commitSecret(R, secret.y, mu);
  const e = challengeAffG(level, ctx, R, s, { A, Bx, By, E, S, F, T });
  // Prove_aff-g.
  return {
    A,
    Bx,
    By,
    E,
    S,
    F,
    T,
    z1: affineResponse(alpha, e, secret.x),
    z2: affineResponse(beta, e, secret.y),
    z3: affineResponse(gamma, e, m),
    z4: affineResponse(delta, e, mu),
    w: (r * powSecretBase(secret.rho, e, s.Nj)) % s.Nj,
    wy: (ry * powSecretBase(secret.rhoY, e, s.Ni)) % s.Ni,
  };
}

/**
 * VerifyNI_aff-g: validates N_j, N_i (size), C, D, A ∈ Z*_{N_j²}, Y, B_y ∈ Z*_{N_i²},
 * E, S, F, T ∈ Z*_{N̂_j}, X, B_x on the curve, w ∈ Z*_{N_j}, w_y ∈ Z*_{N_i}, then Verify_aff-g.
 * `skj` is the verifier's own Paillier key when it has it (CRT, spec's [sk_j]).
 */
export function verifyAffG(
  level: SecurityLevel,
  ctx: ProofContext,
  R: RingPedersenParams,
  s: AffGStatement,
  proof: AffGProof,
  skj?: PaillierSecretKey,
): void {
  assertContext(ctx);
  assertRecord(s, 'statement');
  assertRecord(proof, 'proof');
  const pkj = paillierPublicKey(s.Nj, level, 'N_j');
  const pki = paillierPublicKey(s.Ni, level, 'N_i');
  if (skj && skj.N !== pkj.N) throw new InvalidInputError('skj', 'does not match N_j');
  assertInZnSquaredStar(s.C, pkj.N, 'C');
  assertInZnSquaredStar(s.D, pkj.N, 'D');
  assertInZnSquaredStar(s.Y, pki.N, 'Y');
  assertPoint(s.X, 'X');
  assertInZnSquaredStar(proof.A, pkj.N, 'A');
  assertPoint(proof.Bx, 'B_x');
  assertInZnSquaredStar(proof.By, pki.N, 'B_y');
  for (const k of ['E', 'S', 'F', 'T'] as const) assertInZnStar(proof[k], R.N, k);
  for (const k of ['z1', 'z2', 'z3', 'z4'] as const) assertBigint(proof[k], k);
  assertInZnStar(proof.w, pkj.N, 'w');
  assertInZnStar(proof.wy, pki.N, 'w_y');

  const e = challengeAffG(level, ctx, R, s, proof);
  // Steps 6–7 (range checks) first: they are cheap and keep the encryptions below in ±N.
  check(inPlusMinus(proof.z1, 1n << BigInt(level.ell + level.epsilon)), NAME, 'z1 ∈ ±2^(ℓ+ε)');
  check(inPlusMinus(proof.z2, 1n << BigInt(level.ellPrime + level.epsilon)), NAME, 'z2 ∈ ±2^(ℓ\'+ε)');
  // Step 1: A ⊕ (e ⊙ D) = (z1 ⊙ C) ⊕ enc_{N_j}(z2; w).
  const lhs1 = (proof.A * mulPublic(pkj, e, s.D)) % pkj.N2;
  const rhs1 = skj
    ? (skj.ops.pow(s.C, proof.z1) * encryptCrt(skj, proof.z2, proof.w)) % pkj.N2
    : (mulPublic(pkj, proof.z1, s.C) * encrypt(pkj, proof.z2, proof.w)) % pkj.N2;
  check(lhs1 === rhs1, NAME, 'A ⊕ (e ⊙ D) = (z1 ⊙ C) ⊕ enc(z2; w)');
  // Step 2: z1·G = B_x + e·X.
  check(mulGPublic(proof.z1).equals(proof.Bx.add(mulPointPublic(s.X, e))), NAME, 'z1·G = B_x + e·X');
  // Step 3: B_y ⊕ (e ⊙ Y) = enc_{N_i}(z2; w_y).
  check(
    (proof.By * mulPublic(pki, e, s.Y)) % pki.N2 === encrypt(pki, proof.z2, proof.wy),
    NAME,
    'B_y ⊕ (e ⊙ Y) = enc(z2; w_y)',
  );
  // Steps 4–5: ring-Pedersen equations.
  check(commitPublic(R, proof.z1, proof.z3) === (proof.E * powPublic(proof.S, e, R.N)) % R.N, NAME, 's^z1·t^z3 = E·S^e');
  check(commitPublic(R, proof.z2, proof.z4) === (proof.F * powPublic(proof.T, e, R.N)) % R.N, NAME, 's^z2·t^z4 = F·T^e');
}
