/**
 * Key refresh of a t-of-n key (DESIGN §3 "Refresh"; not in the spec, so it follows the spec's
 * threshold keygen round for round): every holder deals a Feldman VSS of zero with exactly t
 * coefficients; every party checks that each dealer's constant-term commitment is the identity
 * and each sub-share against its dealer's commitments; holder i's new share is
 * x'_i = x_i + Σ_j f_j(i), the new public shares are X'_p = X_p + Σ_j F_j(p), and each holder
 * proves knowledge of x'_i with Π^sch. The public key and chain code do not change; the epoch
 * goes up by one; the output carries no aux data: the caller runs aux-info next.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { CURVE_ORDER, mulG, type Point } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';
import { encode, type Decoded } from '../transcript/index.ts';
import { assertScalar } from '../validate.ts';
import { commitSch, respondSch, verifySch } from '../zk/index.ts';
import { assertAgreement } from './agreement.ts';
import { sameBytes, type PartyIndex } from './channel.ts';
import { bytes, exactRecord, int, point, points } from './fields.ts';
import { hashCommit, xorAll } from './hash-commit.ts';
import { KEY_SHARE_VERSION, type KeyShare, type KeySharePublic } from './key-share.ts';
import { assertThreshold, publicSharesOf, readSchResponse } from './keygen.ts';
import { commitPolynomial, evaluate, evaluateCommitment, randomPolynomial, addScalars } from './polynomial.ts';
import type { Session } from './session.ts';

export const REFRESH = 'refresh';
/** κ/8: bytes of rid_i and u_i. */
const KAPPA_BYTES = 32;
const DIGEST_BYTES = 32;
const STATE_TAG = 'vilna-mpc/cggmp24/refresh/state/v1';

export const REFRESH_ROUNDS = { commit: 1, echo: 2, decommit: 3, prove: 4 } as const;

/** The public state a refresh starts from, as every holder must know it identically. */
export type RefreshState = Pick<KeySharePublic, 'keyId' | 'epoch' | 'threshold' | 'parties' | 'publicKey' | 'publicShares' | 'chainCode'>;

interface Decommitment {
  readonly rid: Uint8Array;
  /** S_i: commitments to f_i's t coefficients; S_i[0] must be the identity (f_i(0) = 0). */
  readonly S: Point[];
  readonly A: Point;
  readonly u: Uint8Array;
}

export function refreshCommitment(sid: Uint8Array, party: PartyIndex, d: Decommitment): Uint8Array {
  return hashCommit(REFRESH, sid, party, [d.rid, d.S, d.A, d.u]);
}

/** SHA-256 of the key's public state: holders that start from different states must not refresh. */
export function refreshStateDigest(state: RefreshState): Uint8Array {
  return sha256(encode(STATE_TAG, [state.keyId, state.epoch, state.threshold, state.parties, state.publicKey, state.publicShares, state.chainCode]));
}

/** Reads a round-1 broadcast: the commitment V_j and j's digest of the key state. */
export function readRefreshCommit(value: Decoded): { V: Uint8Array; state: Uint8Array } {
  const r = exactRecord(value, 'commitment', ['V', 'state']);
  return { V: bytes(r, 'V', DIGEST_BYTES), state: bytes(r, 'state', DIGEST_BYTES) };
}

/** Reads a round-3 broadcast: (rid_j, S_j, A_j, u_j) ∈ (B^κ, E^t, E, B^κ); only S_j[0] may be the identity. */
export function readRefreshDecommitment(value: Decoded, t: number): Decommitment {
  const r = exactRecord(value, 'decommitment', ['rid', 'S', 'A', 'u']);
  return {
    rid: bytes(r, 'rid', KAPPA_BYTES),
    S: points(r, 'S', t, (k) => k === 0),
    A: point(r, 'A'),
    u: bytes(r, 'u', KAPPA_BYTES),
  };
}

/** Reads δ_{j,i} ∈ Z_q from a round-3 point-to-point message. */
export function readRefreshShare(value: Decoded): bigint {
  const v = int(exactRecord(value, 'share', ['delta']), 'delta');
  assertScalar(v, CURVE_ORDER, 'delta');
  return v;
}

/** X'_p = X_p + Σ_j F_j(p) for every holder p. */
export function refreshedPublicShares(
  parties: readonly PartyIndex[],
  publicShares: readonly Point[],
  commitments: readonly (readonly Point[])[],
): Point[] {
  const shifts = publicSharesOf(parties, commitments);
  return publicShares.map((X, k) => X.add(shifts[k]!));
}

function assertRefreshInput(share: KeyShare, self: PartyIndex, parties: readonly PartyIndex[]): void {
  const pub = share.public;
  if (parties.length !== pub.parties.length || parties.some((p, k) => p !== pub.parties[k])) {
    throw new InvalidInputError('parties', "the session's parties must be exactly the key's holders");
  }
  assertThreshold(pub.threshold, parties.length);
  if (share.secret.index !== self) throw new InvalidInputError('share.secret.index', 'not this party');
  if (pub.publicShares.length !== parties.length) throw new InvalidInputError('share.public.publicShares', 'one per holder expected');
  if (!mulG(share.secret.x).equals(pub.publicShares[parties.indexOf(self)]!)) {
    throw new InvalidInputError('share.secret.x', 'does not match its public share');
  }
}

export async function refresh(s: Session, share: KeyShare): Promise<KeyShare> {
  const { sid, self, parties } = s.params;
  assertRefreshInput(share, self, parties);
  const old = share.public;
  const t = old.threshold;
  const R = REFRESH_ROUNDS;

  // Round 1 (DESIGN §3 "Refresh"; spec keygen round 1 with f_i(0) = 0): f_i, S_i, rid_i, Schnorr commitment, u_i; V_i.
  const f = randomPolynomial(t, 0n);
  const sch = commitSch();
  const mine: Decommitment = { rid: randomBytes(KAPPA_BYTES), S: commitPolynomial(f), A: sch.commitment.A, u: randomBytes(KAPPA_BYTES) };
  await s.send(R.commit, { V: refreshCommitment(sid, self, mine), state: refreshStateDigest(old) });
  const r1 = await s.collect(R.commit);
  const V = new Map<PartyIndex, Uint8Array>();
  const states = new Map<PartyIndex, Uint8Array>();
  for (const [j, m] of r1.broadcast) {
    const c = s.blame(R.commit, j, () => ({ check: 'refresh-commit-shape', envelopes: [m.envelope] }), () => readRefreshCommit(m.value));
    V.set(j, c.V);
    states.set(j, c.state);
  }
  assertAgreement(s, {
    round: R.commit,
    what: 'the key being refreshed',
    mine: refreshStateDigest(old),
    announced: states,
    evidence: (j) => ({ check: 'refresh-state', envelopes: [r1.broadcast.get(j)!.envelope] }),
  });

  // Round 2 (DESIGN §3 "Refresh"; spec keygen echo): echo of the commitments.
  await s.echo(r1, R.echo);

  // Round 3 (DESIGN §3 "Refresh"): open V_i, send δ_{i,j} = f_i(j); check S_j[0] = O and δ_{j,i}·G = F_j(i).
  await s.send(R.decommit, { rid: mine.rid, S: mine.S, A: mine.A, u: mine.u }, (j) => ({ delta: evaluate(f, BigInt(j)) }));
  const r3 = await s.collect(R.decommit);
  const dec = new Map<PartyIndex, Decommitment>([[self, mine]]);
  let xi = addScalars(share.secret.x, evaluate(f, BigInt(self)));
  for (const j of s.others) {
    const b = r3.broadcast.get(j)!;
    const p = r3.p2p.get(j)!;
    const d = s.blame(R.decommit, j, () => ({ check: 'refresh-decommit-shape', envelopes: [b.envelope] }), () => readRefreshDecommitment(b.value, t));
    if (!sameBytes(refreshCommitment(sid, j, d), V.get(j)!)) {
      s.abort({
        round: R.decommit,
        culprits: [j],
        reason: 'commitment-mismatch',
        detail: `party ${j}'s decommitment does not open its round-1 commitment`,
        evidence: { check: 'refresh-commitment', envelopes: [b.envelope, r1.broadcast.get(j)!.envelope] },
      });
    }
    if (!d.S[0]!.is0()) {
      s.abort({
        round: R.decommit,
        culprits: [j],
        reason: 'vss-share',
        detail: `party ${j} dealt a polynomial whose constant term is not zero`,
        evidence: { check: 'refresh-zero-constant', envelopes: [b.envelope] },
      });
    }
    const delta = s.blame(R.decommit, j, () => ({ check: 'refresh-share-shape', envelopes: [p.envelope] }), () => readRefreshShare(p.value));
    if (!mulG(delta).equals(evaluateCommitment(d.S, BigInt(self)))) {
      s.abort({
        round: R.decommit,
        culprits: [j],
        reason: 'vss-share',
        detail: `party ${j}'s sub-share for party ${self} does not match its commitments`,
        evidence: { check: 'refresh-vss-share', envelopes: [p.envelope, b.envelope] },
      });
    }
    dec.set(j, d);
    xi = addScalars(xi, delta);
  }
  const ordered = parties.map((j) => dec.get(j)!);
  const rid = xorAll(ordered.map((d) => d.rid));
  const publicShares = refreshedPublicShares(parties, old.publicShares, ordered.map((d) => d.S));
  const Xi = publicShares[parties.indexOf(self)]!;
  if (!mulG(xi).equals(Xi)) throw new Error('refresh: own share inconsistent'); // unreachable: every sub-share was checked

  // Round 4 (DESIGN §3 "Refresh"; spec keygen round 4): Π^sch of x'_i for X'_i under (sid, i, rid).
  const proof = respondSch({ sessionId: sid, prover: self, rid }, Xi, sch.commitment, sch.nonce, xi);
  await s.send(R.prove, { z: proof.z });
  const r4 = await s.collect(R.prove);
  for (const j of s.others) {
    const m = r4.broadcast.get(j)!;
    s.blame(
      R.prove,
      j,
      () => ({ check: 'refresh-sch', envelopes: [m.envelope, ...parties.map((k) => r3.broadcast.get(k)!.envelope)] }),
      () => verifySch({ sessionId: sid, prover: j, rid }, publicShares[parties.indexOf(j)]!, { A: dec.get(j)!.A, z: readSchResponse(m.value) }),
    );
  }

  // Output: same key, chain code, threshold and holders; epoch + 1; aux-info follows.
  return {
    public: {
      version: KEY_SHARE_VERSION,
      curve: 'secp256k1',
      keyId: old.keyId,
      epoch: old.epoch + 1,
      threshold: t,
      parties: [...parties],
      publicKey: old.publicKey,
      publicShares,
      chainCode: old.chainCode.slice(),
    },
    secret: { index: self, x: xi },
  };
}
