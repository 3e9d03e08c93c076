/**
 * Reshare of a key to a new set of holders and/or a new threshold (DESIGN §3 "Reshare"; not in
 * the spec, built like its threshold keygen). The t_old dealers named in the plan each commit to,
 * then deal, a Feldman VSS with exactly t_new coefficients of w_i = λ_i·x_i (λ_i the Lagrange
 * coefficient at 0 over the dealer set), so Σ_i w_i is the key's secret. Every participant checks
 * each opening and each dealer's constant term S_{i,0} = λ_i·X_i against the old public shares
 * (a bad dealer is named); every new holder p checks its sub-shares and takes x'_p = Σ_i f_i(p),
 * with X'_p = Σ_i F_i(p). Finally every new holder proves knowledge of x'_p with Π^sch and
 * broadcasts the hash of the resulting public state, which all must share. The public key and
 * chain code do not change; the epoch goes up by one; the caller runs aux-info for the new set.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { assertPoint, CURVE_ORDER, IDENTITY, mulG, mulPointPublic, type Point } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';
import { encode, type Decoded } from '../transcript/index.ts';
import { assertScalar } from '../validate.ts';
import { proveSch, verifySch } from '../zk/index.ts';
import { assertAgreement } from './agreement.ts';
import { assertPartyList, sameBytes, type PartyIndex } from './channel.ts';
import { bytes, exactRecord, int, point, points } from './fields.ts';
import { hashCommit } from './hash-commit.ts';
import { KEY_SHARE_VERSION, type KeyShare } from './key-share.ts';
import { assertThreshold, publicSharesOf } from './keygen.ts';
import { commitPolynomial, evaluate, evaluateCommitment, lagrangeAtZero, randomPolynomial, addScalars } from './polynomial.ts';
import type { Session } from './session.ts';

export const RESHARE = 'reshare';
/** κ/8: bytes of u_i. */
const KAPPA_BYTES = 32;
const DIGEST_BYTES = 32;
const CHAIN_CODE_BYTES = 32;
const PLAN_TAG = 'vilna-mpc/cggmp24/reshare/plan/v1';
const TRANSCRIPT_TAG = 'vilna-mpc/cggmp24/reshare/transcript/v1';

export const RESHARE_ROUNDS = { commit: 1, echo: 2, deal: 3, confirm: 4 } as const;

/** The public description of a reshare, identical at every participant (it is the approved plan's). */
export interface ResharePlan {
  readonly keyId: string;
  readonly oldEpoch: number;
  readonly publicKey: Point;
  readonly chainCode: Uint8Array;
  readonly oldThreshold: number;
  /** Old holders, ascending. */
  readonly oldParties: readonly PartyIndex[];
  /** X_p of each old holder, aligned with `oldParties`. */
  readonly oldPublicShares: readonly Point[];
  /** Exactly t_old of the old holders, ascending: they deal. */
  readonly dealers: readonly PartyIndex[];
  /** New holders, ascending. */
  readonly newParties: readonly PartyIndex[];
  readonly newThreshold: number;
}

export interface ReshareInput extends ResharePlan {
  /** This party's current share: present iff this party is a dealer. */
  readonly share?: KeyShare;
}

const sameList = (a: readonly PartyIndex[], b: readonly PartyIndex[]): boolean => a.length === b.length && a.every((p, k) => p === b[k]);

/** Every participant of a reshare session: dealers ∪ new holders, ascending. */
export function reshareParticipants(plan: Pick<ResharePlan, 'dealers' | 'newParties'>): PartyIndex[] {
  return [...new Set([...plan.dealers, ...plan.newParties])].sort((a, b) => a - b);
}

/**
 * Validates a plan before anything is sent: 2 ≤ t_new ≤ |new set| ≤ 16, t_old dealers among the
 * old holders, old public shares that interpolate to the public key over the dealers, and a
 * change of the set or of the threshold (same set and threshold is a refresh).
 */
export function assertResharePlan(plan: ResharePlan): void {
  if (typeof plan.keyId !== 'string' || plan.keyId.length === 0) throw new InvalidInputError('keyId', 'missing');
  if (!Number.isSafeInteger(plan.oldEpoch) || plan.oldEpoch < 0) throw new InvalidInputError('oldEpoch', 'not an epoch');
  if (!(plan.chainCode instanceof Uint8Array) || plan.chainCode.length !== CHAIN_CODE_BYTES) throw new InvalidInputError('chainCode', 'expected 32 bytes');
  assertPoint(plan.publicKey, 'publicKey');
  assertPartyList(plan.oldParties, 'oldParties');
  assertPartyList(plan.dealers, 'dealers');
  assertPartyList(plan.newParties, 'newParties');
  assertThreshold(plan.oldThreshold, plan.oldParties.length);
  assertThreshold(plan.newThreshold, plan.newParties.length);
  if (plan.oldPublicShares.length !== plan.oldParties.length) throw new InvalidInputError('oldPublicShares', 'one per old holder expected');
  plan.oldPublicShares.forEach((X, k) => assertPoint(X, `oldPublicShares[${k}]`));
  if (plan.dealers.length !== plan.oldThreshold) throw new InvalidInputError('dealers', `exactly t_old = ${plan.oldThreshold} dealers expected`);
  if (plan.dealers.some((i) => !plan.oldParties.includes(i))) throw new InvalidInputError('dealers', 'every dealer must be an old holder');
  if (plan.newThreshold === plan.oldThreshold && sameList(plan.newParties, plan.oldParties)) {
    throw new InvalidInputError('newParties', 'a reshare must change the set of holders or the threshold (otherwise refresh)');
  }
  const Y = plan.dealers.reduce((acc, i) => acc.add(dealerConstant(plan, i)), IDENTITY);
  if (!Y.equals(plan.publicKey)) throw new InvalidInputError('oldPublicShares', 'do not interpolate to the public key over the dealers');
}

/** λ_i·X_i: the constant-term commitment dealer i must publish. */
export function dealerConstant(plan: Pick<ResharePlan, 'dealers' | 'oldParties' | 'oldPublicShares'>, i: PartyIndex): Point {
  const X = plan.oldPublicShares[plan.oldParties.indexOf(i)];
  if (!X || !plan.dealers.includes(i)) throw new InvalidInputError('dealer', `party ${i} is not a dealer`);
  return mulPointPublic(X, lagrangeAtZero(plan.dealers.map(BigInt), BigInt(i)));
}

/** SHA-256 of the plan: every participant must run the same one. */
export function resharePlanDigest(plan: ResharePlan): Uint8Array {
  return sha256(
    encode(PLAN_TAG, [
      plan.keyId,
      plan.oldEpoch,
      plan.publicKey,
      plan.chainCode,
      plan.oldThreshold,
      plan.oldParties,
      plan.oldPublicShares,
      plan.dealers,
      plan.newParties,
      plan.newThreshold,
    ]),
  );
}

/** SHA-256 of the resulting public state (key id, new epoch, public key, chain code, t_new, new holders, X'). */
export function reshareTranscriptHash(plan: ResharePlan, newPublicShares: readonly Point[]): Uint8Array {
  return sha256(
    encode(TRANSCRIPT_TAG, [plan.keyId, plan.oldEpoch + 1, plan.publicKey, plan.chainCode, plan.newThreshold, plan.newParties, newPublicShares]),
  );
}

interface Deal {
  /** S_i: commitments to f_i's t_new coefficients; S_i[0] = λ_i·X_i. */
  readonly S: Point[];
  readonly u: Uint8Array;
}

export function reshareCommitment(sid: Uint8Array, party: PartyIndex, d: Deal): Uint8Array {
  return hashCommit(RESHARE, sid, party, [d.S, d.u]);
}

/** Reads a round-1 broadcast: a dealer's commitment V_j (dealers only) and j's plan digest. */
export function readReshareCommit(value: Decoded, dealer: boolean): { V?: Uint8Array; plan: Uint8Array } {
  if (!dealer) return { plan: bytes(exactRecord(value, 'commitment', ['plan']), 'plan', DIGEST_BYTES) };
  const r = exactRecord(value, 'commitment', ['V', 'plan']);
  return { V: bytes(r, 'V', DIGEST_BYTES), plan: bytes(r, 'plan', DIGEST_BYTES) };
}

/** Reads a dealer's round-3 broadcast: (S_j, u_j) ∈ (E^{t_new}, B^κ), no identity point. */
export function readReshareDeal(value: Decoded, tNew: number): Deal {
  const r = exactRecord(value, 'deal', ['S', 'u']);
  return { S: points(r, 'S', tNew), u: bytes(r, 'u', KAPPA_BYTES) };
}

/** Reads σ_{j,p} ∈ Z_q from a dealer's round-3 point-to-point message. */
export function readReshareSubShare(value: Decoded): bigint {
  const v = int(exactRecord(value, 'share', ['sigma']), 'sigma');
  assertScalar(v, CURVE_ORDER, 'sigma');
  return v;
}

/** Reads a new holder's round-4 broadcast: its transcript hash h and Π^sch (A, z). */
export function readReshareConfirm(value: Decoded): { h: Uint8Array; A: Point; z: bigint } {
  const r = exactRecord(value, 'confirm', ['h', 'A', 'z']);
  return { h: bytes(r, 'h', DIGEST_BYTES), A: point(r, 'A'), z: int(r, 'z') };
}

/** X'_p = Σ_i F_i(p) for every new holder p, from the dealers' commitments in dealer order. */
export function resharedPublicShares(plan: ResharePlan, commitments: readonly (readonly Point[])[]): Point[] {
  return publicSharesOf(plan.newParties, commitments);
}

function assertReshareInput(input: ReshareInput, self: PartyIndex, parties: readonly PartyIndex[]): void {
  assertResharePlan(input);
  if (!sameList(parties, reshareParticipants(input))) throw new InvalidInputError('parties', "the session's parties must be the dealers and the new holders");
  const dealer = input.dealers.includes(self);
  const share = input.share;
  if (!share) {
    if (dealer) throw new InvalidInputError('share', 'a dealer must bring its share');
    return;
  }
  if (!dealer) throw new InvalidInputError('share', 'only a dealer brings a share');
  const pub = share.public;
  const matches =
    pub.keyId === input.keyId &&
    pub.epoch === input.oldEpoch &&
    pub.threshold === input.oldThreshold &&
    sameList(pub.parties, input.oldParties) &&
    pub.publicKey.equals(input.publicKey) &&
    sameBytes(pub.chainCode, input.chainCode) &&
    pub.publicShares.length === input.oldPublicShares.length &&
    pub.publicShares.every((X, k) => X.equals(input.oldPublicShares[k]!));
  if (!matches) throw new InvalidInputError('share', 'is not a share of the key and epoch the plan reshares');
  if (share.secret.index !== self) throw new InvalidInputError('share.secret.index', 'not this party');
  if (!mulG(share.secret.x).equals(input.oldPublicShares[input.oldParties.indexOf(self)]!)) {
    throw new InvalidInputError('share.secret.x', 'does not match its public share');
  }
}

/** Runs a reshare: a new holder gets its new share; a dealer that leaves gets `undefined`. */
export async function reshare(s: Session, input: ReshareInput): Promise<KeyShare | undefined> {
  const { sid, self, parties } = s.params;
  assertReshareInput(input, self, parties);
  const { dealers, newParties, newThreshold: tNew, share } = input;
  const holder = newParties.includes(self);
  const R = RESHARE_ROUNDS;
  const planDigest = resharePlanDigest(input);

  // Round 1 (DESIGN §3 "Reshare"; spec keygen round 1): dealer i: f_i of t_new coefficients with f_i(0) = λ_i·x_i, S_i, u_i; V_i. Everyone: the plan digest.
  let f: bigint[] | undefined;
  let mine: Deal | undefined;
  if (share) {
    f = randomPolynomial(tNew, lagrangeAtZero(dealers.map(BigInt), BigInt(self)) * share.secret.x);
    mine = { S: commitPolynomial(f), u: randomBytes(KAPPA_BYTES) };
  }
  await s.send(R.commit, mine ? { V: reshareCommitment(sid, self, mine), plan: planDigest } : { plan: planDigest });
  const r1 = await s.collect(R.commit);
  const V = new Map<PartyIndex, Uint8Array>();
  const plans = new Map<PartyIndex, Uint8Array>();
  for (const [j, m] of r1.broadcast) {
    const c = s.blame(R.commit, j, () => ({ check: 'reshare-commit-shape', envelopes: [m.envelope] }), () =>
      readReshareCommit(m.value, dealers.includes(j)),
    );
    if (c.V) V.set(j, c.V);
    plans.set(j, c.plan);
  }
  assertAgreement(s, {
    round: R.commit,
    what: 'the reshare plan',
    mine: planDigest,
    announced: plans,
    evidence: (j) => ({ check: 'reshare-plan', envelopes: [r1.broadcast.get(j)!.envelope] }),
  });

  // Round 2 (DESIGN §3 "Reshare"; spec keygen echo): echo of every round-1 broadcast, all dealer commitments among them.
  await s.echo(r1, R.echo);

  // Round 3 (DESIGN §3 "Reshare"): dealers open V_i and send σ_{i,p} = f_i(p) to each new holder; check openings, S_{i,0} = λ_i·X_i, σ_{i,p}·G = F_i(p).
  await s.send(R.deal, mine ? { S: mine.S, u: mine.u } : {}, (p) => (f && newParties.includes(p) ? { sigma: evaluate(f, BigInt(p)) } : {}));
  const r3 = await s.collect(R.deal);
  const deals = new Map<PartyIndex, Deal>();
  if (mine) deals.set(self, mine);
  let x = f && holder ? evaluate(f, BigInt(self)) : 0n;
  for (const j of dealers) {
    if (j === self) continue;
    const b = r3.broadcast.get(j)!;
    const d = s.blame(R.deal, j, () => ({ check: 'reshare-deal-shape', envelopes: [b.envelope] }), () => readReshareDeal(b.value, tNew));
    if (!sameBytes(reshareCommitment(sid, j, d), V.get(j)!)) {
      s.abort({
        round: R.deal,
        culprits: [j],
        reason: 'commitment-mismatch',
        detail: `dealer ${j}'s deal does not open its round-1 commitment`,
        evidence: { check: 'reshare-commitment', envelopes: [b.envelope, r1.broadcast.get(j)!.envelope] },
      });
    }
    if (!d.S[0]!.equals(dealerConstant(input, j))) {
      s.abort({
        round: R.deal,
        culprits: [j],
        reason: 'reshare-constant',
        detail: `dealer ${j}'s constant-term commitment is not λ_${j}·X_${j}`,
        evidence: { check: 'reshare-constant', envelopes: [b.envelope] },
      });
    }
    if (holder) {
      const p = r3.p2p.get(j)!;
      const sigma = s.blame(R.deal, j, () => ({ check: 'reshare-share-shape', envelopes: [p.envelope] }), () => readReshareSubShare(p.value));
      if (!mulG(sigma).equals(evaluateCommitment(d.S, BigInt(self)))) {
        s.abort({
          round: R.deal,
          culprits: [j],
          reason: 'vss-share',
          detail: `dealer ${j}'s sub-share for party ${self} does not match its commitments`,
          evidence: { check: 'reshare-vss-share', envelopes: [p.envelope, b.envelope] },
        });
      }
      x = addScalars(x, sigma);
    }
    deals.set(j, d);
  }
  const ordered = dealers.map((j) => deals.get(j)!);
  // Σ_i S_{i,0} = Σ_i λ_i·X_i = Y for a plan that passed assertResharePlan and deals that passed the checks above.
  if (!ordered.reduce((acc, d) => acc.add(d.S[0]!), IDENTITY).equals(input.publicKey)) {
    s.abort({ round: R.deal, culprits: [], reason: 'unattributed', detail: 'the dealt constant terms do not sum to the public key' });
  }
  const publicShares = resharedPublicShares(input, ordered.map((d) => d.S));
  const h = reshareTranscriptHash(input, publicShares);

  // Round 4 (DESIGN §3 "Reshare"; spec keygen round 4): each new holder p: h and Π^sch of x'_p for X'_p under (sid, p, h).
  if (holder) {
    const Xp = publicShares[newParties.indexOf(self)]!;
    if (!mulG(x).equals(Xp)) throw new Error('reshare: own share inconsistent'); // unreachable: every sub-share was checked
    const proof = proveSch({ sessionId: sid, prover: self, rid: h }, Xp, x);
    await s.send(R.confirm, { h, A: proof.A, z: proof.z });
  } else {
    await s.send(R.confirm, {});
  }
  const r4 = await s.collect(R.confirm);
  const confirms = new Map<PartyIndex, { h: Uint8Array; A: Point; z: bigint }>();
  for (const j of newParties) {
    if (j === self) continue;
    const m = r4.broadcast.get(j)!;
    confirms.set(j, s.blame(R.confirm, j, () => ({ check: 'reshare-confirm-shape', envelopes: [m.envelope] }), () => readReshareConfirm(m.value)));
  }
  const announced = new Map<PartyIndex, Uint8Array>([...confirms].map(([j, c]) => [j, c.h]));
  if (holder) announced.set(self, h);
  const dealEnvelopes = () => dealers.map((j) => r3.broadcast.get(j)!.envelope);
  assertAgreement(s, {
    round: R.confirm,
    what: 'the reshared key',
    mine: h,
    announced,
    evidence: (j) => ({ check: 'reshare-transcript', envelopes: [r4.broadcast.get(j)!.envelope, ...dealEnvelopes()] }),
  });
  for (const [j, c] of confirms) {
    s.blame(
      R.confirm,
      j,
      () => ({ check: 'reshare-sch', envelopes: [r4.broadcast.get(j)!.envelope, ...dealEnvelopes()] }),
      () => verifySch({ sessionId: sid, prover: j, rid: h }, publicShares[newParties.indexOf(j)]!, { A: c.A, z: c.z }),
    );
  }

  // Output: new holders get epoch + 1, t_new, the new set; a dealer that leaves keeps nothing from here.
  if (!holder) return undefined;
  return {
    public: {
      version: KEY_SHARE_VERSION,
      curve: 'secp256k1',
      keyId: input.keyId,
      epoch: input.oldEpoch + 1,
      threshold: tNew,
      parties: [...newParties],
      publicKey: input.publicKey,
      publicShares,
      chainCode: input.chainCode.slice(),
    },
    secret: { index: self, x },
  };
}
