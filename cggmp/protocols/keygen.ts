/**
 * Threshold (t-of-n) key generation, spec §"Threshold (i.e., t-out-of-n) Key Generation", with
 * the echo step for reliable broadcast and the HD chain code. Party p's share is f(p) of the
 * summed polynomial f = Σ f_j; the group key is Y = Σ S_{j,0}.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { CURVE_ORDER, IDENTITY, mulG, type Point } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';
import { commitSch, respondSch, verifySch } from '../zk/index.ts';
import { assertScalar } from '../validate.ts';
import { sameBytes, type PartyIndex } from './channel.ts';
import { bytes, exactRecord, int, point, points } from './fields.ts';
import { hashCommit, xorAll } from './hash-commit.ts';
import { KEY_SHARE_VERSION, type KeyShare } from './key-share.ts';
import { commitPolynomial, evaluate, evaluateCommitment, randomPolynomial, addScalars } from './polynomial.ts';
import type { Session } from './session.ts';
import { encode, type Decoded } from '../transcript/index.ts';

export function readSchResponse(value: Decoded): bigint {
  return int(exactRecord(value, 'proof', ['z']), 'z');
}

export const KEYGEN = 'keygen';
/** κ/8: bytes of rid_i and u_i. */
const KAPPA_BYTES = 32;
const CHAIN_CODE_BYTES = 32;

export const KEYGEN_ROUNDS = { commit: 1, echo: 2, decommit: 3, prove: 4 } as const;

export interface KeygenInput {
  readonly keyId: string;
  readonly threshold: number;
}

export function assertThreshold(t: number, n: number): void {
  if (!Number.isSafeInteger(t) || t < 2 || t > n) throw new InvalidInputError('threshold', `must satisfy 2 ≤ t ≤ n (t = ${t}, n = ${n})`);
  if (n > 16) throw new InvalidInputError('parties', 'at most 16 parties');
}

interface Decommitment {
  readonly rid: Uint8Array;
  readonly S: Point[];
  readonly A: Point;
  readonly u: Uint8Array;
  readonly c: Uint8Array;
}

export function keygenCommitment(sid: Uint8Array, party: PartyIndex, d: Decommitment): Uint8Array {
  return hashCommit(KEYGEN, sid, party, [d.rid, d.S, d.A, d.u, d.c]);
}

/**
 * Digest of what this keygen is for (session, key id, threshold, parties): broadcast with the
 * commitment and echoed, so parties configured differently stop before any share is dealt.
 */
export function keygenParamsDigest(sid: Uint8Array, keyId: string, t: number, parties: readonly PartyIndex[]): Uint8Array {
  return sha256(encode('vilna-mpc/cggmp24/keygen/params/v1', [sid, keyId, t, [...parties]]));
}

export function readCommit(value: Decoded): { V: Uint8Array; params: Uint8Array } {
  const r = exactRecord(value, 'commitment', ['V', 'params']);
  return { V: bytes(r, 'V', 32), params: bytes(r, 'params', 32) };
}

/** Reads σ_{j,i} ∈ Z_q from a round-3 point-to-point message. */
export function readShare(value: Decoded): bigint {
  const v = int(exactRecord(value, 'share', ['sigma']), 'sigma');
  assertScalar(v, CURVE_ORDER, 'sigma');
  return v;
}

/** X_p = Σ_j F_j(p) for every holder p, from every party's commitments. */
export function publicSharesOf(parties: readonly PartyIndex[], commitments: readonly (readonly Point[])[]): Point[] {
  return parties.map((p) => commitments.reduce((acc, S) => acc.add(evaluateCommitment(S, BigInt(p))), IDENTITY));
}

/** Reads a round-3 broadcast: (rid_j, S_j, A_j, u_j, c_j) ∈ (B^κ, E^t, E, B^κ, B^32). */
export function readDecommitment(value: Decoded, t: number): Decommitment {
  const r = exactRecord(value, 'decommitment', ['rid', 'S', 'A', 'u', 'c']);
  return { rid: bytes(r, 'rid', KAPPA_BYTES), S: points(r, 'S', t), A: point(r, 'A'), u: bytes(r, 'u', KAPPA_BYTES), c: bytes(r, 'c', CHAIN_CODE_BYTES) };
}

export async function keygen(s: Session, input: KeygenInput): Promise<KeyShare> {
  const { sid, self, parties } = s.params;
  const n = parties.length;
  const t = input.threshold;
  assertThreshold(t, n);
  const R = KEYGEN_ROUNDS;

  // Round 1: polynomial f_i, commitments S_i, σ_{i,j} = f_i(j), rid_i, Schnorr commitment, chain code share.
  const f = randomPolynomial(t);
  const sch = commitSch();
  const mine: Decommitment = {
    rid: randomBytes(KAPPA_BYTES),
    S: commitPolynomial(f),
    A: sch.commitment.A,
    u: randomBytes(KAPPA_BYTES),
    c: randomBytes(CHAIN_CODE_BYTES),
  };
  const params = keygenParamsDigest(sid, input.keyId, t, parties);
  await s.send(R.commit, { V: keygenCommitment(sid, self, mine), params });
  const r1 = await s.collect(R.commit);
  const V = new Map<PartyIndex, Uint8Array>();
  for (const [j, m] of r1.broadcast) {
    const c = s.blame(R.commit, j, () => ({ check: 'keygen-commit-shape', envelopes: [m.envelope] }), () => readCommit(m.value));
    // A different configuration is not provably anyone's fault (ours may be the odd one out).
    if (!sameBytes(c.params, params)) {
      s.abort({ round: R.commit, culprits: [], reason: 'unattributed', detail: `party ${j} runs keygen with another key id, threshold or party set` });
    }
    V.set(j, c.V);
  }

  // Round 2: echo of the commitments (reliability check).
  await s.echo(r1, R.echo);

  // Round 3: open the commitment; send σ_{i,j} privately.
  await s.send(
    R.decommit,
    { rid: mine.rid, S: mine.S, A: mine.A, u: mine.u, c: mine.c },
    (j) => ({ sigma: evaluate(f, BigInt(j)) }),
  );
  const r3 = await s.collect(R.decommit);
  const dec = new Map<PartyIndex, Decommitment>([[self, mine]]);
  let xi = evaluate(f, BigInt(self));
  for (const j of s.others) {
    const b = r3.broadcast.get(j)!;
    const p = r3.p2p.get(j)!;
    const c1 = r1.broadcast.get(j)!.envelope;
    const d = s.blame(R.decommit, j, () => ({ check: 'keygen-decommit-shape', envelopes: [b.envelope], detail: t }), () =>
      readDecommitment(b.value, t),
    );
    if (!sameBytes(keygenCommitment(sid, j, d), V.get(j)!)) {
      s.abort({
        round: R.decommit,
        culprits: [j],
        reason: 'commitment-mismatch',
        detail: `party ${j}'s decommitment does not open its round-1 commitment`,
        evidence: { check: 'keygen-commitment', envelopes: [b.envelope, c1], detail: t },
      });
    }
    const sigma = s.blame(R.decommit, j, () => ({ check: 'keygen-share-shape', envelopes: [p.envelope] }), () => readShare(p.value));
    if (!mulG(sigma).equals(evaluateCommitment(d.S, BigInt(self)))) {
      s.abort({
        round: R.decommit,
        culprits: [j],
        reason: 'vss-share',
        detail: `party ${j}'s share for party ${self} does not match its commitments`,
        evidence: { check: 'keygen-vss-share', envelopes: [p.envelope, b.envelope], detail: t },
      });
    }
    dec.set(j, d);
    xi = addScalars(xi, sigma);
  }
  const ordered = parties.map((j) => dec.get(j)!);
  const rid = xorAll(ordered.map((d) => d.rid));
  const chainCode = xorAll(ordered.map((d) => d.c));
  const publicShares = publicSharesOf(parties, ordered.map((d) => d.S));
  const Xi = publicShares[parties.indexOf(self)]!;
  if (!mulG(xi).equals(Xi)) throw new Error('keygen: own share inconsistent'); // unreachable: every share was checked

  // Round 4: Schnorr proof of knowledge of x_i for X_i, under (sid, i, rid).
  const proof = respondSch({ sessionId: sid, prover: self, rid }, Xi, sch.commitment, sch.nonce, xi);
  await s.send(R.prove, { z: proof.z });
  const r4 = await s.collect(R.prove);
  for (const j of s.others) {
    const m = r4.broadcast.get(j)!;
    const Xj = publicShares[parties.indexOf(j)]!;
    s.blame(
      R.prove,
      j,
      () => ({ check: 'keygen-sch', envelopes: [m.envelope, ...parties.map((p) => r3.broadcast.get(p)!.envelope)], detail: t }),
      () => verifySch({ sessionId: sid, prover: j, rid }, Xj, { A: dec.get(j)!.A, z: readSchResponse(m.value) }),
    );
  }

  // Output: Y = Σ S_{j,0}.
  const publicKey = ordered.reduce((acc, d) => acc.add(d.S[0]!), IDENTITY);
  if (publicKey.is0()) s.abort({ round: R.prove, culprits: [], reason: 'unattributed', detail: 'group key is the identity' });
  return {
    public: { version: KEY_SHARE_VERSION, curve: 'secp256k1', keyId: input.keyId, epoch: 0, threshold: t, parties: [...parties], publicKey, publicShares, chainCode },
    secret: { index: self, x: xi },
  };
}

