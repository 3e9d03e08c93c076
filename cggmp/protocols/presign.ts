/**
 * Threshold presigning, spec §"Threshold (t-out-of-n) Presigning" mapped onto §"Non-Threshold
 * Presigning" (the 2024 revision with El-Gamal commitments, Π^enc-elg, Π^elog, Π^aff-g).
 * The signer set's Shamir shares become additive by Lagrange coefficients; the HD shift of the
 * requested path is added here, inside presigning (DESIGN §3, Groth–Shoup), to the lowest
 * signer's share. The presignature is bound to key id, epoch, ordered signers, this session's
 * id, the path and, on the digest-only path, the digest (DESIGN §3).
 *
 * Secret scalars and masks never exist as signed BigInts: the centred representatives of k_i,
 * γ_i, x_i and the MtA masks β are held shifted (arith/shifted.ts), their values mod q come from
 * Montgomery reductions (`scalarField`), and the MtA shares are decrypted straight to Z_q.
 */
import { centredScalar, randomCentredScalar, revealShifted } from '../arith/index.ts';
import { CURVE_ORDER, G, IDENTITY, mulG, mulPoint, mulPointPublic, scalarField, type Point } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';
import { deriveShift } from '../hd/index.ts';
import {
  paillierSecretKeyFromPrimes,
  type PaillierPublicKey,
  type PaillierSecretKey,
} from '../paillier/index.ts';
import type { SecurityLevel } from '../params.ts';
import type { Decoded } from '../transcript/index.ts';
import { assertScalar } from '../validate.ts';
import {
  proveElog,
  verifyElog,
  type AffGProof,
  type ElogProof,
  type EncElgProof,
  type ProofContext,
} from '../zk/index.ts';
import type { PartyIndex } from './channel.ts';
import { exactRecord, int, point, type Rec } from './fields.ts';
import type { AuxPublic, KeyShare, KeySharePublic } from './key-share.ts';
import { lagrangeAtZero, modInverseQ } from './polynomial.ts';
import type { RoundInbox, Session } from './session.ts';
import type { AbortEvidence } from './abort.ts';
import { joinMta, round1Message, sampleNonces, shareSums, type MtaMasks, type Round1 } from './presign-local.ts';
import { inlineWork, settledValue, type ProofWork } from '../parallel/work.ts';
import { deltaOpeningValue, identifyDeltaCulprit, readDeltaOpening, type DeltaOpening, type DeltaTranscript } from './presign-identify.ts';

export const PRESIGN = 'presign';
/**
 * Round 5 echoes round 4, so every honest signer checks the same δ_j, S_j, Δ_j and all succeed
 * or all open; round 6 identifies a δ culprit; round 7 is the online signing round (sign.ts).
 */
export const PRESIGN_ROUNDS = { commit: 1, echo: 2, mta: 3, reveal: 4, revealEcho: 5, identify: 6 } as const;

const q = CURVE_ORDER;

export interface PresignBinding {
  readonly keyId: string;
  readonly epoch: number;
  /** Signers in order (ascending party numbers). */
  readonly signers: readonly PartyIndex[];
  /** The presigning session id; the online signing round continues this session. */
  readonly sid: Uint8Array;
  /** Canonical derivation path ("m" for the root key). */
  readonly derivationPath: string;
  /** Public key the signature will verify under (the derived child for a path). */
  readonly publicKey: Point;
  /** Digest-only path: the digest this presignature may sign, fixed before presigning began. */
  readonly boundDigest?: Uint8Array;
}

export interface Presignature {
  readonly binding: PresignBinding;
  readonly self: PartyIndex;
  readonly Gamma: Point;
  /** k̃_i = k_i/δ and χ̃_i = χ_i/δ: secret. */
  readonly kTilde: bigint;
  readonly chiTilde: bigint;
  /** Δ̃_j = δ^-1·Δ_j and S̃_j = δ^-1·S_j, aligned with binding.signers: check partial signatures. */
  readonly DeltaTilde: readonly Point[];
  readonly STilde: readonly Point[];
}

export interface PresignInput {
  readonly level: SecurityLevel;
  readonly share: KeyShare;
  readonly derivationPath?: string;
  readonly boundDigest?: Uint8Array;
  /** Where the per-peer proofs run (parallel/): this thread when absent. */
  readonly work?: ProofWork;
}

interface SignerData {
  readonly N: bigint;
  readonly pk: PaillierPublicKey;
  readonly R: AuxPublic['R'];
  /** Additive public share X_j = λ_j·X'_j (+ shift·G for the lowest signer). */
  readonly X: Point;
}


export const presignProofContext = (sid: Uint8Array, prover: PartyIndex): ProofContext => ({ sessionId: sid, prover, rid: new Uint8Array(0) });

export function readRound1(v: Decoded): Round1 {
  const r = exactRecord(v, 'presign r1', ['K', 'G', 'Y', 'A1', 'A2', 'B1', 'B2']);
  return { K: int(r, 'K'), Gc: int(r, 'G'), Y: point(r, 'Y'), A1: point(r, 'A1'), A2: point(r, 'A2'), B1: point(r, 'B1'), B2: point(r, 'B2') };
}

function encElgValue(p: EncElgProof): Rec {
  return { S: p.S, T: p.T, D: p.D, Y: p.Y, Z: p.Z, z1: p.z1, z2: p.z2, z3: p.z3, w: p.w };
}
export function readEncElg(v: Decoded | undefined): EncElgProof {
  const r = exactRecord(v, 'enc-elg', ['S', 'T', 'D', 'Y', 'Z', 'z1', 'z2', 'z3', 'w']);
  return { S: int(r, 'S'), T: int(r, 'T'), D: int(r, 'D'), Y: point(r, 'Y'), Z: point(r, 'Z'), z1: int(r, 'z1'), z2: int(r, 'z2'), z3: int(r, 'z3'), w: int(r, 'w') };
}
function affGValue(p: AffGProof): Rec {
  return { A: p.A, Bx: p.Bx, By: p.By, E: p.E, S: p.S, F: p.F, T: p.T, z1: p.z1, z2: p.z2, z3: p.z3, z4: p.z4, w: p.w, wy: p.wy };
}
export function readAffG(v: Decoded | undefined): AffGProof {
  const r = exactRecord(v, 'aff-g', ['A', 'Bx', 'By', 'E', 'S', 'F', 'T', 'z1', 'z2', 'z3', 'z4', 'w', 'wy']);
  return {
    A: int(r, 'A'), Bx: point(r, 'Bx'), By: int(r, 'By'), E: int(r, 'E'), S: int(r, 'S'), F: int(r, 'F'), T: int(r, 'T'),
    z1: int(r, 'z1'), z2: int(r, 'z2'), z3: int(r, 'z3'), z4: int(r, 'z4'), w: int(r, 'w'), wy: int(r, 'wy'),
  };
}
function elogValue(p: ElogProof): Rec {
  return { A: p.A, N: p.N, B: p.B, z: p.z, u: p.u };
}
export function readElog(v: Decoded | undefined): ElogProof {
  const r = exactRecord(v, 'elog', ['A', 'N', 'B', 'z', 'u']);
  return { A: point(r, 'A'), N: point(r, 'N'), B: point(r, 'B'), z: int(r, 'z'), u: int(r, 'u') };
}

/** The signer set's additive view of the key (spec: "Map threshold signing protocol to non-threshold"). */
export function signerView(pub: KeySharePublic, signers: readonly PartyIndex[], shift: bigint): Map<PartyIndex, SignerData> {
  if (!pub.aux) throw new InvalidInputError('share', 'has no aux-info yet');
  const points = signers.map(BigInt);
  const first = signers[0];
  const out = new Map<PartyIndex, SignerData>();
  for (const j of signers) {
    const at = pub.parties.indexOf(j);
    if (at < 0) throw new InvalidInputError('signers', `party ${j} holds no share`);
    const aux = pub.aux[at]!;
    let X = mulPointPublic(pub.publicShares[at]!, lagrangeAtZero(points, BigInt(j)));
    if (j === first) X = X.add(mulPointPublic(G, shift));
    out.set(j, { N: aux.N, pk: { N: aux.N, N2: aux.N * aux.N }, R: aux.R, X });
  }
  return out;
}

// The Paillier secret key of a share, built (and its primes checked) once rather than on every
// presignature: the safe-prime checks cost tens of milliseconds each time.
const paillierKeys = new WeakMap<object, PaillierSecretKey>();
function paillierKeyOf(primes: { readonly p: bigint; readonly q: bigint }, level: SecurityLevel): PaillierSecretKey {
  let sk = paillierKeys.get(primes);
  if (!sk || sk.N.toString(2).length !== level.modulusBits) {
    sk = paillierSecretKeyFromPrimes(primes.p, primes.q, level);
    paillierKeys.set(primes, sk);
  }
  return sk;
}

export async function presign(s: Session, input: PresignInput): Promise<Presignature> {
  const { sid, self, parties: signers } = s.params;
  const { level, share } = input;
  const pub = share.public;
  if (signers.length < pub.threshold) throw new InvalidInputError('signers', `need ${pub.threshold} signers`);
  if (share.secret.index !== self || !share.secret.paillier) throw new InvalidInputError('share', 'not this party’s complete share');
  const derived = deriveShift(pub.publicKey, pub.chainCode, input.derivationPath ?? 'm');
  const view = signerView(pub, signers, derived.shift);
  const me = view.get(self)!;
  const sk = paillierKeyOf(share.secret.paillier, level);
  if (sk.N !== me.N) throw new InvalidInputError('share', 'Paillier key does not match the aux data');
  const Fq = scalarField();
  // Additive secret share x_i = λ_i·x'_i (+ shift for the lowest signer), in [0, q).
  const xi = Fq.mulAdd(self === signers[0] ? derived.shift : 0n, lagrangeAtZero(signers.map(BigInt), BigInt(self)), share.secret.x);
  const P = PRESIGN_ROUNDS;

  // Round 1 (spec Round 1): k_i, γ_i; K_i, G_i; El-Gamal commitments A_i, B_i under Y_i; Π^enc-elg to each peer.
  const work = input.work ?? inlineWork;
  const ctxSelf = presignProofContext(sid, self);
  const { secrets: nonces, Y } = sampleNonces(sk, Fq, randomCentredScalar(Fq), randomCentredScalar(Fq));
  const [K, Gc] = await Promise.all([work.run('commitNonce', sk, nonces.k, nonces.rho), work.run('commitNonce', sk, nonces.gamma, nonces.v)]);
  const mine = round1Message(nonces, Y, K, Gc);
  const { kq, gq, b } = nonces;
  // Every peer's two Π^enc-elg proofs at once: they share nothing but the secrets.
  const encElg = await Promise.all(s.others.map((j) => {
    const Rj = view.get(j)!.R;
    return Promise.all([
      work.run('proveEncElg', level, ctxSelf, Rj, { N0: sk.N, C: K, A: Y, B: mine.A1, X: mine.A2 }, { x: nonces.k, rho: nonces.rho, b: nonces.a }, sk),
      work.run('proveEncElg', level, ctxSelf, Rj, { N0: sk.N, C: Gc, A: Y, B: mine.B1, X: mine.B2 }, { x: nonces.gamma, rho: nonces.v, b: nonces.b }, sk),
    ]);
  }));
  const proofsFor = new Map(s.others.map((j, i) => [j, encElg[i]!] as const));
  await s.send(P.commit, { K, G: Gc, Y, A1: mine.A1, A2: mine.A2, B1: mine.B1, B2: mine.B2 }, (j) => {
    const [psi0, psi1] = proofsFor.get(j)!;
    return { psi0: encElgValue(psi0), psi1: encElgValue(psi1) };
  });
  const r1 = await s.collect(P.commit);
  const peers = new Map<PartyIndex, Round1>([[self, mine]]);
  for (const j of s.others) {
    const m = r1.broadcast.get(j)!;
    peers.set(j, s.blame(P.commit, j, () => ({ check: 'presign-r1-shape', envelopes: [m.envelope] }), () => readRound1(m.value)));
  }

  // Round 2: echo of the round-1 broadcasts, then (spec Round 2) verify the Π^enc-elg proofs.
  await s.echo(r1, P.echo);
  const encElgEvidence = (j: PartyIndex) => () => ({ check: 'presign-enc-elg', envelopes: [r1.p2p.get(j)!.envelope, r1.broadcast.get(j)!.envelope] });
  const encElgChecks = s.others.map((j) => {
    const d = peers.get(j)!;
    const Nj = view.get(j)!.N;
    const ctx = presignProofContext(sid, j);
    const [psi0, psi1] = s.blame(P.commit, j, encElgEvidence(j), () => {
      const r = exactRecord(r1.p2p.get(j)!.value, 'presign r1 p2p', ['psi0', 'psi1']);
      return [readEncElg(r.psi0), readEncElg(r.psi1)] as const;
    });
    return Promise.allSettled([
      work.run('verifyEncElg', level, ctx, me.R, { N0: Nj, C: d.K, A: d.Y, B: d.A1, X: d.A2 }, psi0),
      work.run('verifyEncElg', level, ctx, me.R, { N0: Nj, C: d.Gc, A: d.Y, B: d.B1, X: d.B2 }, psi1),
    ]);
  });
  // Settled together, then judged in party order: the first failing peer is named.
  const encElgVerdicts = await Promise.all(encElgChecks);
  s.others.forEach((j, i) => s.blame(P.commit, j, encElgEvidence(j), () => encElgVerdicts[i]!.forEach(settledValue)));

  // Round 3 (spec Round 2, second half): Γ_i with Π^elog; the two MtA's per peer with Π^aff-g.
  const Gamma_i = mulG(gq);
  const xiC = centredScalar(xi, Fq);
  // The two MtA answers to every peer at once; Π^elog meanwhile in this thread.
  const mtaRuns = s.others.map((j) => {
    const peer = view.get(j)!;
    const Kj = peers.get(j)!.K;
    return Promise.all([
      work.run('mtaHalf', level, ctxSelf, sk, peer, Kj, nonces.gamma, Gamma_i),
      work.run('mtaHalf', level, ctxSelf, sk, peer, Kj, xiC, me.X),
    ]);
  });
  const psiTilde = proveElog(ctxSelf, { L: mine.B1, M: mine.B2, X: Y, Y: Gamma_i, H: G }, gq, b);
  const mtas = new Map((await Promise.all(mtaRuns)).map(([g, x], i) => [s.others[i]!, joinMta(g, x)] as const));
  const masks = new Map<PartyIndex, MtaMasks>([...mtas].map(([j, m]) => [j, m.masks] as const));
  await s.send(P.mta, { Gamma: Gamma_i, psi: elogValue(psiTilde) }, (j) => {
    const { answer } = mtas.get(j)!;
    return { D: answer.D, F: answer.F, DHat: answer.DHat, FHat: answer.FHat, psi: affGValue(answer.psi), psiHat: affGValue(answer.psiHat) };
  });
  const r3 = await s.collect(P.mta);
  const Gammas = new Map<PartyIndex, Point>([[self, Gamma_i]]);
  const affGEvidence = (j: PartyIndex) => () => ({ check: 'presign-aff-g', envelopes: [r3.p2p.get(j)!.envelope, r3.broadcast.get(j)!.envelope, r1.broadcast.get(self)!.envelope] });
  const affGChecks = s.others.map((j) => {
    const b3 = r3.broadcast.get(j)!;
    const d = peers.get(j)!;
    const pj = view.get(j)!;
    const Gj = s.blame(P.mta, j, () => ({ check: 'presign-elog', envelopes: [b3.envelope, r1.broadcast.get(j)!.envelope] }), () => {
      const r = exactRecord(b3.value, 'presign r3', ['Gamma', 'psi']);
      const Gamma = point(r, 'Gamma');
      verifyElog(presignProofContext(sid, j), { L: d.B1, M: d.B2, X: d.Y, Y: Gamma, H: G }, readElog(r.psi));
      return Gamma;
    });
    Gammas.set(j, Gj);
    const m = s.blame(P.mta, j, affGEvidence(j), () => {
      const r = exactRecord(r3.p2p.get(j)!.value, 'presign r3 p2p', ['D', 'F', 'DHat', 'FHat', 'psi', 'psiHat']);
      return { D: int(r, 'D'), F: int(r, 'F'), DHat: int(r, 'DHat'), FHat: int(r, 'FHat'), psi: readAffG(r.psi), psiHat: readAffG(r.psiHat) };
    });
    const ctx = presignProofContext(sid, j);
    const verdicts = Promise.allSettled([
      work.run('verifyAffG', level, ctx, me.R, { Nj: sk.N, Ni: pj.N, C: K, D: m.D, Y: m.F, X: Gj }, m.psi, sk),
      work.run('verifyAffG', level, ctx, me.R, { Nj: sk.N, Ni: pj.N, C: K, D: m.DHat, Y: m.FHat, X: pj.X }, m.psiHat, sk),
    ]);
    return { m, verdicts };
  });
  // Decrypted beside the checks, used only once they pass.
  const shares = affGChecks.map(({ m }) => Promise.allSettled([work.run('decryptMtaShare', sk, m.D), work.run('decryptMtaShare', sk, m.DHat)]));
  const alphas = new Map<PartyIndex, { alpha: bigint; alphaHat: bigint }>();
  for (const [i, j] of s.others.entries()) {
    const [verdicts, decrypted] = await Promise.all([affGChecks[i]!.verdicts, shares[i]!]);
    const [alpha, alphaHat] = s.blame(P.mta, j, affGEvidence(j), () => {
      verdicts.forEach(settledValue);
      return decrypted.map(settledValue) as [bigint, bigint];
    });
    alphas.set(j, { alpha, alphaHat });
  }

  // Round 4 (spec Round 3): Γ, Δ_i with Π^elog, δ_i, χ_i, S_i.
  const Gamma = signers.reduce((acc, j) => acc.add(Gammas.get(j)!), IDENTITY);
  const Delta_i = mulPoint(Gamma, kq);
  const psiPrime = proveElog(ctxSelf, { L: mine.A1, M: mine.A2, X: Y, Y: Delta_i, H: Gamma }, kq, nonces.a);
  const { delta_i, chi_i } = shareSums(Fq, { gq, kq, xi }, s.others.map((j) => ({ ...alphas.get(j)!, masks: masks.get(j)! })));
  const S_i = mulPoint(Gamma, chi_i);
  await s.send(P.reveal, { delta: delta_i, S: S_i, Delta: Delta_i, psi: elogValue(psiPrime) });
  const r4 = await s.collect(P.reveal);
  await s.echo(r4, P.revealEcho);
  // Own values as broadcast (what everyone else sees), not as computed: all signers check the same sums.
  const ownReveal = exactRecord(r4.broadcast.get(self)!.value, 'presign r4', ['delta', 'S', 'Delta', 'psi']);
  const reveals = new Map<PartyIndex, { delta: bigint; S: Point; Delta: Point }>([
    [self, { delta: int(ownReveal, 'delta'), S: point(ownReveal, 'S'), Delta: point(ownReveal, 'Delta') }],
  ]);
  for (const j of s.others) {
    const m = r4.broadcast.get(j)!;
    const d = peers.get(j)!;
    const evidence = () => ({
      check: 'presign-reveal',
      envelopes: [m.envelope, r1.broadcast.get(j)!.envelope, ...signers.map((p) => r3.broadcast.get(p)!.envelope)],
    });
    reveals.set(j, s.blame(P.reveal, j, evidence, () => {
      const r = exactRecord(m.value, 'presign r4', ['delta', 'S', 'Delta', 'psi']);
      const delta = int(r, 'delta');
      assertScalar(delta, q, 'delta');
      const Delta = point(r, 'Delta');
      verifyElog(presignProofContext(sid, j), { L: d.A1, M: d.A2, X: d.Y, Y: Delta, H: Gamma }, readElog(r.psi));
      return { delta, S: point(r, 'S'), Delta };
    }));
  }

  // Output: δ = Σδ_j; δ·G = ΣΔ_j and δ·X = ΣS_j, else abort.
  const delta = signers.reduce((acc, j) => (acc + reveals.get(j)!.delta) % q, 0n);
  const sumDelta = signers.reduce((acc, j) => acc.add(reveals.get(j)!.Delta), IDENTITY);
  const sumS = signers.reduce((acc, j) => acc.add(reveals.get(j)!.S), IDENTITY);
  if (delta === 0n || !mulG(delta).equals(sumDelta)) {
    // The presignature is dead: open the δ multiplication so everyone can name who broke it.
    // The dead presignature's δ side becomes public: its centred values are opened as integers.
    const opening: DeltaOpening = {
      k: revealShifted(nonces.k),
      rho: nonces.rho,
      gamma: revealShifted(nonces.gamma),
      v: nonces.v,
      masks: new Map(s.others.map((j) => [j, { beta: revealShifted(masks.get(j)!.beta), s: masks.get(j)!.s }] as const)),
      received: new Map(s.others.map((j) => [j, r3.p2p.get(j)!.envelope] as const)),
    };
    await s.send(P.identify, deltaOpeningValue(opening));
    const r6 = await s.collect(P.identify);
    const transcript = deltaTranscript(s, level, view, r1, r4, r6, P.mta);
    const verdict = identifyDeltaCulprit(transcript);
    s.abort({
      round: P.reveal,
      culprits: verdict ? [verdict.culprit] : [],
      reason: verdict ? 'delta-share' : 'unattributed',
      detail: verdict?.detail ?? 'δ·G ≠ ΣΔ_j and every opening adds up',
      ...(verdict ? { evidence: deltaEvidence(verdict.culprit, signers, r1, r4, r6) } : {}),
    });
  }
  if (!mulPointPublic(derived.publicKey, delta).equals(sumS)) {
    // The χ side involves the key shares and is never opened: this failure stays unattributed.
    s.abort({ round: P.reveal, culprits: [], reason: 'unattributed', detail: 'δ·X ≠ ΣS_j; the culprit is not identified' });
  }
  const deltaInv = modInverseQ(delta);
  return {
    binding: {
      keyId: pub.keyId,
      epoch: pub.epoch,
      signers: [...signers],
      sid,
      derivationPath: derived.path,
      publicKey: derived.publicKey,
      ...(input.boundDigest ? { boundDigest: Uint8Array.from(input.boundDigest) } : {}),
    },
    self,
    Gamma,
    kTilde: Fq.mulAdd(0n, kq, deltaInv),
    chiTilde: Fq.mulAdd(0n, chi_i, deltaInv),
    DeltaTilde: signers.map((j) => mulPointPublic(reveals.get(j)!.Delta, deltaInv)),
    STilde: signers.map((j) => mulPointPublic(reveals.get(j)!.S, deltaInv)),
  };
}

/** The δ-identification inputs, all from signed broadcasts of this session. */
export function deltaTranscript(
  s: Session,
  level: SecurityLevel,
  view: ReadonlyMap<PartyIndex, SignerData>,
  r1: RoundInbox,
  r4: RoundInbox,
  r6: RoundInbox,
  mtaRound: number,
): DeltaTranscript {
  const { sid, parties: signers, identities } = s.params;
  const read = <T>(inbox: RoundInbox, j: PartyIndex, f: (v: Decoded) => T): T => f(inbox.broadcast.get(j)!.value);
  return {
    level,
    sid,
    signers,
    identities,
    mtaRound,
    paillier: new Map(signers.map((j) => [j, view.get(j)!.pk] as const)),
    K: new Map(signers.map((j) => [j, read(r1, j, readRound1).K] as const)),
    G: new Map(signers.map((j) => [j, read(r1, j, readRound1).Gc] as const)),
    delta: new Map(signers.map((j) => [j, read(r4, j, (v) => int(exactRecord(v, 'presign r4', ['delta', 'S', 'Delta', 'psi']), 'delta'))] as const)),
    openings: new Map<PartyIndex, DeltaOpening | Error>(
      signers.map((j): readonly [PartyIndex, DeltaOpening | Error] => {
        try {
          return [j, readDeltaOpening(r6.broadcast.get(j)!.value, signers.filter((p) => p !== j))] as const;
        } catch (e) {
          return [j, e as Error] as const;
        }
      }),
    ),
  };
}

function deltaEvidence(culprit: PartyIndex, signers: readonly PartyIndex[], r1: RoundInbox, r4: RoundInbox, r6: RoundInbox): AbortEvidence {
  const all = (inbox: RoundInbox) => signers.map((p) => inbox.broadcast.get(p)!.envelope);
  const first = r6.broadcast.get(culprit)!.envelope;
  return { check: 'presign-delta', envelopes: [first, ...all(r1), ...all(r4), ...all(r6).filter((e) => e !== first)] };
}
