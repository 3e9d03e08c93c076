/**
 * Re-checks the evidence of a ProtocolAbort without trusting the accuser (DESIGN §3): every
 * envelope must carry a valid signature of its sender for one session, the first envelope is the
 * culprit's own, and the named check, re-run on those signed messages and on the checker's own
 * public data, must fail exactly as claimed. Returns false for anything else.
 */
import { mulG } from '../curve/index.ts';
import type { SecurityLevel } from '../params.ts';
import { verifyFac, verifyMod, verifyPrm, verifySch } from '../zk/index.ts';
import type { ProtocolAbort, AbortEvidence } from './abort.ts';
import {
  BROADCAST,
  envelopeSignatureValid,
  envelopeSigningBytes,
  payloadDigest,
  sameBytes,
  type Envelope,
  type PartyIndex,
} from './channel.ts';
import { verifyIdentitySignature } from './identity.ts';
import { bytes, exactRecord } from './fields.ts';
import { xorAll } from './hash-commit.ts';
import { KEYGEN_ROUNDS, keygenCommitment, publicSharesOf, readCommit, readDecommitment, readSchResponse, readShare } from './keygen.ts';
import { AUX_INFO_ROUNDS, auxCommitment, auxProofContext, readFac, readMod, readOpening } from './aux-info.ts';
import { evaluateCommitment } from './polynomial.ts';
import { readEcho } from './session.ts';
import { PRESIGN_CHECKS, type PresignEvidenceContext } from './evidence-presign.ts';
import { ROTATION_CHECKS, type RotationEvidenceContext } from './evidence-rotation.ts';
import { decode, env, fails, isRound, participants } from './evidence-support.ts';

export interface EvidenceContext extends PresignEvidenceContext, RotationEvidenceContext {
  /** Identity keys of the session's participants, as the checker knows them. */
  readonly identities: ReadonlyMap<PartyIndex, Uint8Array>;
  /** Security level, for checks of Paillier-side messages. */
  readonly level?: SecurityLevel;
  /** The threshold of the key being made (keygen checks). */
  readonly threshold?: number;
  /** The session the abort is claimed for: evidence from any other session is refused. */
  readonly sid?: Uint8Array;
}

type Check = (ev: AbortEvidence, ctx: EvidenceContext) => boolean;


const num = (d: unknown): number => {
  if (typeof d !== 'number') throw new Error('evidence: detail missing');
  return d;
};

/** The round-r broadcasts of every participant, one each, ordered by party. */
function everyBroadcast(ev: AbortEvidence, from: number, round: number, ctx: EvidenceContext): Envelope[] {
  const parties = participants(ctx);
  const list = ev.envelopes.slice(from);
  if (list.length !== parties.length) throw new Error('evidence: broadcasts missing');
  return parties.map((p) => {
    const e = list.find((x) => x.sender === p);
    if (!e || !isRound(e, round, true)) throw new Error('evidence: broadcast missing');
    return e;
  });
}

/** The key's threshold as the checker knows it (never from the accuser's detail). */
const threshold = (ctx: EvidenceContext): number => {
  if (ctx.threshold === undefined) throw new Error('evidence: threshold needed');
  return ctx.threshold;
};

const level = (ctx: EvidenceContext): SecurityLevel => {
  if (!ctx.level) throw new Error('evidence: security level needed');
  return ctx.level;
};

const CHECKS: Record<string, Check> = {
  decodable: (ev) => fails(() => decode(env(ev, 0))),

  // Echo step (session.ts).
  // An echo always follows the round it echoes.
  'echo-shape': (ev, ctx) => fails(() => readEcho(decode(env(ev, 0)), env(ev, 0).round - 1, participants(ctx))),
  'echo-signatures': (ev, ctx) => {
    const e = env(ev, 0);
    const value = decode(e);
    const round = e.round - 1;
    const j = num(ev.detail);
    const entry = readEcho(value, round, participants(ctx)).find((x) => x.j === j);
    const key = ctx.identities.get(j);
    return !!entry && !!key && !verifyIdentitySignature(key, envelopeSigningBytes(e.sid, round, j, BROADCAST, entry.digest), entry.signature);
  },
  equivocation: (ev, ctx) => {
    const original = env(ev, 0);
    const echo = env(ev, 1);
    if (original.recipient !== BROADCAST) return false;
    const entry = readEcho(decode(echo), original.round, participants(ctx)).find((x) => x.j === original.sender);
    const key = ctx.identities.get(original.sender);
    return (
      !!entry &&
      !!key &&
      verifyIdentitySignature(key, envelopeSigningBytes(original.sid, original.round, original.sender, BROADCAST, entry.digest), entry.signature) &&
      !sameBytes(entry.digest, payloadDigest(original.payload))
    );
  },

  // Keygen.
  'keygen-commit-shape': (ev) => isRound(env(ev, 0), KEYGEN_ROUNDS.commit, true) && fails(() => readCommit(decode(env(ev, 0)))),
  'keygen-decommit-shape': (ev, ctx) =>
    isRound(env(ev, 0), KEYGEN_ROUNDS.decommit, true) && fails(() => readDecommitment(decode(env(ev, 0)), threshold(ctx))),
  'keygen-share-shape': (ev) => isRound(env(ev, 0), KEYGEN_ROUNDS.decommit, false) && fails(() => readShare(decode(env(ev, 0)))),
  'keygen-commitment': (ev, ctx) => {
    const [open, commit] = [env(ev, 0), env(ev, 1)];
    if (!isRound(open, KEYGEN_ROUNDS.decommit, true) || !isRound(commit, KEYGEN_ROUNDS.commit, true) || open.sender !== commit.sender) return false;
    const d = readDecommitment(decode(open), threshold(ctx));
    return !sameBytes(keygenCommitment(open.sid, open.sender, d), readCommit(decode(commit)).V);
  },
  'keygen-vss-share': (ev, ctx) => {
    const [share, open] = [env(ev, 0), env(ev, 1)];
    if (!isRound(share, KEYGEN_ROUNDS.decommit, false) || !isRound(open, KEYGEN_ROUNDS.decommit, true) || share.sender !== open.sender) return false;
    const d = readDecommitment(decode(open), threshold(ctx));
    return !mulG(readShare(decode(share))).equals(evaluateCommitment(d.S, BigInt(share.recipient)));
  },
  'keygen-sch': (ev, ctx) => {
    const proof = env(ev, 0);
    if (!isRound(proof, KEYGEN_ROUNDS.prove, true)) return false;
    const parties = participants(ctx);
    const decs = everyBroadcast(ev, 1, KEYGEN_ROUNDS.decommit, ctx).map((e) => readDecommitment(decode(e), threshold(ctx)));
    const rid = xorAll(decs.map((d) => d.rid));
    const X = publicSharesOf(parties, decs.map((d) => d.S))[parties.indexOf(proof.sender)]!;
    const A = decs[parties.indexOf(proof.sender)]!.A;
    return fails(() => verifySch({ sessionId: proof.sid, prover: proof.sender, rid }, X, { A, z: readSchResponse(decode(proof)) }));
  },

  // Aux-info.
  'aux-commit-shape': (ev) => isRound(env(ev, 0), AUX_INFO_ROUNDS.commit, true) && fails(() => bytes(exactRecord(decode(env(ev, 0)), 'r1', ['V']), 'V', 32)),
  'aux-opening': (ev, ctx) => isRound(env(ev, 0), AUX_INFO_ROUNDS.decommit, true) && fails(() => readOpening(decode(env(ev, 0)), level(ctx))),
  'aux-commitment': (ev, ctx) => {
    const [open, commit] = [env(ev, 0), env(ev, 1)];
    if (!isRound(open, AUX_INFO_ROUNDS.decommit, true) || !isRound(commit, AUX_INFO_ROUNDS.commit, true) || open.sender !== commit.sender) return false;
    const o = readOpening(decode(open), level(ctx));
    return !sameBytes(auxCommitment(open.sid, open.sender, o), bytes(exactRecord(decode(commit), 'r1', ['V']), 'V', 32));
  },
  'aux-prm': (ev, ctx) => {
    const open = env(ev, 0);
    if (!isRound(open, AUX_INFO_ROUNDS.decommit, true)) return false;
    const o = readOpening(decode(open), level(ctx));
    return fails(() => verifyPrm(level(ctx), auxProofContext(open.sid, open.sender), o.R, o.prm));
  },
  'aux-mod': (ev, ctx) => {
    const proof = env(ev, 0);
    if (!isRound(proof, AUX_INFO_ROUNDS.prove, true)) return false;
    const openings = everyBroadcast(ev, 1, AUX_INFO_ROUNDS.decommit, ctx).map((e) => readOpening(decode(e), level(ctx)));
    const rho = xorAll(openings.map((o) => o.rho));
    const N = openings[participants(ctx).indexOf(proof.sender)]!.N;
    return fails(() => verifyMod(level(ctx), auxProofContext(proof.sid, proof.sender, rho), N, readMod(decode(proof), level(ctx))));
  },
  'aux-fac': (ev, ctx) => {
    const proof = env(ev, 0);
    if (!isRound(proof, AUX_INFO_ROUNDS.prove, false)) return false;
    const parties = participants(ctx);
    const openings = everyBroadcast(ev, 1, AUX_INFO_ROUNDS.decommit, ctx).map((e) => readOpening(decode(e), level(ctx)));
    const rho = xorAll(openings.map((o) => o.rho));
    const N = openings[parties.indexOf(proof.sender)]!.N;
    const accuserR = openings[parties.indexOf(proof.recipient)]?.R;
    if (!accuserR) return false;
    return fails(() => verifyFac(level(ctx), auxProofContext(proof.sid, proof.sender, rho), accuserR, N, readFac(decode(proof))));
  },
};

Object.assign(CHECKS, PRESIGN_CHECKS);
Object.assign(CHECKS, ROTATION_CHECKS);

/** Names of the checks this module can re-run. */
export const EVIDENCE_CHECKS: readonly string[] = Object.keys(CHECKS);

export function verifyAbortEvidence(abort: ProtocolAbort, ctx: EvidenceContext): boolean {
  const ev = abort.evidence;
  if (!ev || abort.culprits.length !== 1) return false;
  const first = ev.envelopes[0];
  if (!first || first.sender !== abort.culprits[0]) return false;
  if (!ev.envelopes.every((e) => envelopeSignatureValid(e, ctx.identities) && sameBytes(e.sid, first.sid))) return false;
  if (ctx.sid && !sameBytes(first.sid, ctx.sid)) return false;
  const check = CHECKS[ev.check];
  if (!check) return false;
  try {
    return check(ev, ctx);
  } catch {
    return false;
  }
}
