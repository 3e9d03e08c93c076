/**
 * A signer's own secret work in presigning (spec §"Non-Threshold Presigning", rounds 1–3), apart
 * from the session so that its constant-flow property can be tested on its own: the nonce
 * commitments with their Π^enc-elg proofs, the two MtA answers with their Π^aff-g proofs, and the
 * δ_i, χ_i sums.
 *
 * No secret here is ever a signed BigInt: the centred representatives of k_i, γ_i, x_i and the
 * masks β are Shifted (arith/shifted.ts), residues mod q come from the scalar field's Montgomery
 * reductions, and the MtA shares arrive already decrypted to Z_q.
 */
import { negateShifted, randomBelow, randomShifted, randomZnStar, scalarOf, type ModulusContext, type Shifted } from '../arith/index.ts';
import { CURVE_ORDER, mulG, mulPoint, scalarField, type Point } from '../curve/index.ts';
import { add, decryptCentredMod, encryptCrtShifted, encryptShifted, mulShifted, type PaillierPublicKey, type PaillierSecretKey } from '../paillier/index.ts';
import type { SecurityLevel } from '../params.ts';
import type { RingPedersenParams } from '../ring-pedersen/index.ts';
import { proveAffG, proveEncElg, type AffGProof, type EncElgProof, type ProofContext } from '../zk/index.ts';

const q = CURVE_ORDER;

/** What a signer broadcasts in round 1. */
export interface Round1 {
  readonly K: bigint;
  readonly Gc: bigint;
  readonly Y: Point;
  readonly A1: Point;
  readonly A2: Point;
  readonly B1: Point;
  readonly B2: Point;
}

/** The round-1 secrets, kept until the presignature is made (or opened when it dies). */
export interface NonceSecrets {
  /** k_i, γ_i: centred representatives, the plaintexts of K_i, G_i. */
  readonly k: Shifted;
  readonly gamma: Shifted;
  /** k_i, γ_i mod q. */
  readonly kq: bigint;
  readonly gq: bigint;
  /** Encryption randomness of K_i, G_i. */
  readonly rho: bigint;
  readonly v: bigint;
  /** El-Gamal randomness of A_i, B_i. */
  readonly a: bigint;
  readonly b: bigint;
}

const nonZeroScalar = (): bigint => randomBelow(q - 1n) + 1n;

/** Round 1's randomness: ρ_i, ν_i of K_i, G_i, the El-Gamal a_i, b_i, and Y_i. */
export function sampleNonces(sk: PaillierSecretKey, Fq: ModulusContext, k: Shifted, gamma: Shifted): { secrets: NonceSecrets; Y: Point } {
  const secrets = { k, gamma, kq: scalarOf(k, Fq), gq: scalarOf(gamma, Fq), rho: randomZnStar(sk.N), v: randomZnStar(sk.N), a: nonZeroScalar(), b: nonZeroScalar() };
  return { secrets, Y: mulG(nonZeroScalar()) };
}

/** K_i = enc_i(k_i; ρ_i) or G_i = enc_i(γ_i; ν_i), through the signer's own primes. */
export function commitNonce(sk: PaillierSecretKey, x: Shifted, r: bigint): bigint {
  return encryptCrtShifted(sk, x, r);
}

/** The round-1 broadcast: K_i, G_i with the El-Gamal commitments A_i = (a·G, a·Y + k·G), B_i = (b·G, b·Y + γ·G). */
export function round1Message(n: NonceSecrets, Y: Point, K: bigint, Gc: bigint): Round1 {
  return { K, Gc, Y, A1: mulG(n.a), A2: mulPoint(Y, n.a).add(mulG(n.kq)), B1: mulG(n.b), B2: mulPoint(Y, n.b).add(mulG(n.gq)) };
}

/** Round 1: K_i = enc(k_i), G_i = enc(γ_i) and the El-Gamal commitments A_i, B_i under Y_i. */
export function commitNonces(sk: PaillierSecretKey, Fq: ModulusContext, k: Shifted, gamma: Shifted): { mine: Round1; secrets: NonceSecrets } {
  const { secrets, Y } = sampleNonces(sk, Fq, k, gamma);
  return { mine: round1Message(secrets, Y, commitNonce(sk, k, secrets.rho), commitNonce(sk, gamma, secrets.v)), secrets };
}

/** α = dec_i(D) centred and reduced mod q: an MtA share, never a signed BigInt. */
export function decryptMtaShare(sk: PaillierSecretKey, D: bigint): bigint {
  return decryptCentredMod(sk, D, scalarField());
}

/** Round 1's Π^enc-elg proofs for one peer, against that peer's ring-Pedersen parameters. */
export function nonceProofs(
  level: SecurityLevel,
  ctx: ProofContext,
  Rj: RingPedersenParams,
  sk: PaillierSecretKey,
  mine: Round1,
  n: NonceSecrets,
): { psi0: EncElgProof; psi1: EncElgProof } {
  return {
    psi0: proveEncElg(level, ctx, Rj, { N0: sk.N, C: mine.K, A: mine.Y, B: mine.A1, X: mine.A2 }, { x: n.k, rho: n.rho, b: n.a }, sk),
    psi1: proveEncElg(level, ctx, Rj, { N0: sk.N, C: mine.Gc, A: mine.Y, B: mine.B1, X: mine.B2 }, { x: n.gamma, rho: n.v, b: n.b }, sk),
  };
}

/** The peer an MtA answer goes to: its Paillier key and ring-Pedersen parameters. */
export interface MtaPeer {
  readonly pk: PaillierPublicKey;
  readonly R: RingPedersenParams;
}

export interface MtaAnswer {
  readonly D: bigint;
  readonly F: bigint;
  readonly DHat: bigint;
  readonly FHat: bigint;
  readonly psi: AffGProof;
  readonly psiHat: AffGProof;
}

/** This signer's masks for one peer: β, β̂ and the randomness of enc_j(−β). */
export interface MtaMasks {
  readonly beta: Shifted;
  readonly betaHat: Shifted;
  readonly s: bigint;
}

/** One of the two MtA answers to peer j: D = (x ⊙ K_j) ⊕ enc_j(−β), F = enc_i(−β), Π^aff-g for X = x·G. */
export interface MtaHalf {
  readonly D: bigint;
  readonly F: bigint;
  readonly psi: AffGProof;
  /** β, secret. */
  readonly beta: Shifted;
  /** The randomness of enc_j(−β) in D (opened if the presignature dies). */
  readonly s: bigint;
}

/** One MtA answer for peer j over the secret x (γ_i or x_i) with X = x·G: independent of the other half. */
export function mtaHalf(level: SecurityLevel, ctx: ProofContext, sk: PaillierSecretKey, peer: MtaPeer, Kj: bigint, x: Shifted, X: Point): MtaHalf {
  const beta = randomShifted(1n << BigInt(level.ellPrime));
  const Nj = peer.pk.N;
  const [sij, rij] = [randomZnStar(Nj), randomZnStar(sk.N)];
  const negBeta = negateShifted(beta);
  const D = add(peer.pk, mulShifted(peer.pk, x, Kj), encryptShifted(peer.pk, negBeta, sij));
  const F = encryptCrtShifted(sk, negBeta, rij);
  const psi = proveAffG(level, ctx, peer.R, { Nj, Ni: sk.N, C: Kj, D, Y: F, X }, { x, y: negBeta, rho: sij, rhoY: rij }, sk);
  return { D, F, psi, beta, s: sij };
}

/**
 * Round 2 of the spec (our round 3), for one peer j: D = (γ_i ⊙ K_j) ⊕ enc_j(−β), F = enc_i(−β)
 * and the same for x_i with β̂, each with its Π^aff-g proof.
 */
export function mtaAnswer(
  level: SecurityLevel,
  ctx: ProofContext,
  sk: PaillierSecretKey,
  peer: MtaPeer,
  Kj: bigint,
  secrets: { readonly gamma: Shifted; readonly xi: Shifted },
  publics: { readonly Gamma_i: Point; readonly X_i: Point },
): { answer: MtaAnswer; masks: MtaMasks } {
  return joinMta(mtaHalf(level, ctx, sk, peer, Kj, secrets.gamma, publics.Gamma_i), mtaHalf(level, ctx, sk, peer, Kj, secrets.xi, publics.X_i));
}

/** The two halves (γ_i first, then x_i) as the answer sent and the masks kept. */
export function joinMta(g: MtaHalf, x: MtaHalf): { answer: MtaAnswer; masks: MtaMasks } {
  return { answer: { D: g.D, F: g.F, DHat: x.D, FHat: x.F, psi: g.psi, psiHat: x.psi }, masks: { beta: g.beta, betaHat: x.beta, s: g.s } };
}

/**
 * Round 3 of the spec: δ_i = γ_i·k_i + Σ_j (α_{i,j} + β_{i,j}) and χ_i = x_i·k_i + Σ_j (α̂_{i,j} +
 * β̂_{i,j}) mod q, with the α's already in Z_q (decryptCentredMod). Every term added is
 * non-negative: β = value − offset enters as value + (q − offset mod q).
 */
export function shareSums(
  Fq: ModulusContext,
  own: { readonly gq: bigint; readonly kq: bigint; readonly xi: bigint },
  perPeer: readonly { readonly alpha: bigint; readonly alphaHat: bigint; readonly masks: MtaMasks }[],
): { delta_i: bigint; chi_i: bigint } {
  const negOffset = (m: Shifted): bigint => q - (m.offset % q);
  let deltaSum = 0n;
  let chiSum = 0n;
  for (const { alpha, alphaHat, masks } of perPeer) {
    deltaSum += alpha + masks.beta.value + negOffset(masks.beta);
    chiSum += alphaHat + masks.betaHat.value + negOffset(masks.betaHat);
  }
  return { delta_i: Fq.mulAdd(deltaSum, own.gq, own.kq), chi_i: Fq.mulAdd(chiSum, own.xi, own.kq) };
}
