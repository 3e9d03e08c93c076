/**
 * Re-runnable checks behind refresh's and reshare's aborts (DESIGN §3 "Refresh", "Reshare"; the
 * rules are evidence.ts's): each re-reads the culprit's signed messages with the same reader and
 * re-runs the same check the protocol ran, taking the threshold, the holders, the old public
 * shares and the plan from the checker's own knowledge (`refresh`, `reshare`), never from the
 * evidence.
 */
import { mulG } from '../curve/index.ts';
import { verifySch } from '../zk/index.ts';
import type { AbortEvidence } from './abort.ts';
import { sameBytes, type Envelope, type PartyIndex } from './channel.ts';
import { xorAll } from './hash-commit.ts';
import { evaluateCommitment } from './polynomial.ts';
import {
  REFRESH_ROUNDS,
  readRefreshCommit,
  readRefreshDecommitment,
  readRefreshShare,
  refreshCommitment,
  refreshedPublicShares,
  refreshStateDigest,
  type RefreshState,
} from './refresh.ts';
import {
  RESHARE_ROUNDS,
  dealerConstant,
  readReshareCommit,
  readReshareConfirm,
  readReshareDeal,
  readReshareSubShare,
  reshareCommitment,
  resharedPublicShares,
  reshareParticipants,
  resharePlanDigest,
  reshareTranscriptHash,
  type ResharePlan,
} from './reshare.ts';
import { readSchResponse } from './keygen.ts';
import { decode, env, fails, isRound, participants } from './evidence-support.ts';

export interface RotationEvidenceContext {
  readonly identities: ReadonlyMap<PartyIndex, Uint8Array>;
  /** For refresh aborts: the key's public state before the refresh, as the checker holds it. */
  readonly refresh?: RefreshState;
  /** For reshare aborts: the reshare's plan, as the checker holds it. */
  readonly reshare?: ResharePlan;
}

type Check = (ev: AbortEvidence, ctx: RotationEvidenceContext) => boolean;


const sameList = (a: readonly PartyIndex[], b: readonly PartyIndex[]): boolean => a.length === b.length && a.every((p, k) => p === b[k]);

/** The round-`round` broadcasts of exactly `senders`, one each, in the order of `senders`. */
function broadcastsOf(ev: AbortEvidence, from: number, round: number, senders: readonly PartyIndex[]): Envelope[] {
  const list = ev.envelopes.slice(from);
  if (list.length !== senders.length) throw new Error('evidence: broadcasts missing');
  return senders.map((p) => {
    const e = list.find((x) => x.sender === p);
    if (!e || !isRound(e, round, true)) throw new Error('evidence: broadcast missing');
    return e;
  });
}

/** The checker's own refresh state, which must describe the session's participants. */
function refreshOf(ctx: RotationEvidenceContext): RefreshState {
  const state = ctx.refresh;
  if (!state || !sameList(state.parties, participants(ctx))) throw new Error('evidence: refresh state needed');
  return state;
}

/** The checker's own reshare plan, whose dealers and new holders must be the session's participants. */
function planOf(ctx: RotationEvidenceContext): ResharePlan {
  const plan = ctx.reshare;
  if (!plan || !sameList(reshareParticipants(plan), participants(ctx))) throw new Error('evidence: reshare plan needed');
  return plan;
}

/** The new public shares and transcript hash from every dealer's signed round-3 deal. */
function reshareResult(ev: AbortEvidence, plan: ResharePlan): { shares: ReturnType<typeof resharedPublicShares>; h: Uint8Array } {
  const deals = broadcastsOf(ev, 1, RESHARE_ROUNDS.deal, plan.dealers).map((e) => readReshareDeal(decode(e), plan.newThreshold));
  const shares = resharedPublicShares(plan, deals.map((d) => d.S));
  return { shares, h: reshareTranscriptHash(plan, shares) };
}

export const ROTATION_CHECKS: Record<string, Check> = {
  // Refresh.
  'refresh-commit-shape': (ev) => isRound(env(ev, 0), REFRESH_ROUNDS.commit, true) && fails(() => readRefreshCommit(decode(env(ev, 0)))),
  'refresh-state': (ev, ctx) =>
    isRound(env(ev, 0), REFRESH_ROUNDS.commit, true) && !sameBytes(readRefreshCommit(decode(env(ev, 0))).state, refreshStateDigest(refreshOf(ctx))),
  'refresh-decommit-shape': (ev, ctx) =>
    isRound(env(ev, 0), REFRESH_ROUNDS.decommit, true) && fails(() => readRefreshDecommitment(decode(env(ev, 0)), refreshOf(ctx).threshold)),
  'refresh-commitment': (ev, ctx) => {
    const [open, commit] = [env(ev, 0), env(ev, 1)];
    if (!isRound(open, REFRESH_ROUNDS.decommit, true) || !isRound(commit, REFRESH_ROUNDS.commit, true) || open.sender !== commit.sender) return false;
    const d = readRefreshDecommitment(decode(open), refreshOf(ctx).threshold);
    return !sameBytes(refreshCommitment(open.sid, open.sender, d), readRefreshCommit(decode(commit)).V);
  },
  'refresh-zero-constant': (ev, ctx) =>
    isRound(env(ev, 0), REFRESH_ROUNDS.decommit, true) && !readRefreshDecommitment(decode(env(ev, 0)), refreshOf(ctx).threshold).S[0]!.is0(),
  'refresh-share-shape': (ev) => isRound(env(ev, 0), REFRESH_ROUNDS.decommit, false) && fails(() => readRefreshShare(decode(env(ev, 0)))),
  'refresh-vss-share': (ev, ctx) => {
    const [share, open] = [env(ev, 0), env(ev, 1)];
    if (!isRound(share, REFRESH_ROUNDS.decommit, false) || !isRound(open, REFRESH_ROUNDS.decommit, true) || share.sender !== open.sender) return false;
    const d = readRefreshDecommitment(decode(open), refreshOf(ctx).threshold);
    return !mulG(readRefreshShare(decode(share))).equals(evaluateCommitment(d.S, BigInt(share.recipient)));
  },
  'refresh-sch': (ev, ctx) => {
    const proof = env(ev, 0);
    if (!isRound(proof, REFRESH_ROUNDS.prove, true)) return false;
    const state = refreshOf(ctx);
    const parties = participants(ctx);
    const decs = broadcastsOf(ev, 1, REFRESH_ROUNDS.decommit, parties).map((e) => readRefreshDecommitment(decode(e), state.threshold));
    const rid = xorAll(decs.map((d) => d.rid));
    const at = parties.indexOf(proof.sender);
    const X = refreshedPublicShares(parties, state.publicShares, decs.map((d) => d.S))[at]!;
    return fails(() => verifySch({ sessionId: proof.sid, prover: proof.sender, rid }, X, { A: decs[at]!.A, z: readSchResponse(decode(proof)) }));
  },

  // Reshare.
  'reshare-commit-shape': (ev, ctx) => {
    const e = env(ev, 0);
    return isRound(e, RESHARE_ROUNDS.commit, true) && fails(() => readReshareCommit(decode(e), planOf(ctx).dealers.includes(e.sender)));
  },
  'reshare-plan': (ev, ctx) => {
    const e = env(ev, 0);
    const plan = planOf(ctx);
    return isRound(e, RESHARE_ROUNDS.commit, true) && !sameBytes(readReshareCommit(decode(e), plan.dealers.includes(e.sender)).plan, resharePlanDigest(plan));
  },
  'reshare-deal-shape': (ev, ctx) => {
    const e = env(ev, 0);
    const plan = planOf(ctx);
    return isRound(e, RESHARE_ROUNDS.deal, true) && plan.dealers.includes(e.sender) && fails(() => readReshareDeal(decode(e), plan.newThreshold));
  },
  'reshare-commitment': (ev, ctx) => {
    const [open, commit] = [env(ev, 0), env(ev, 1)];
    const plan = planOf(ctx);
    if (!isRound(open, RESHARE_ROUNDS.deal, true) || !isRound(commit, RESHARE_ROUNDS.commit, true) || open.sender !== commit.sender) return false;
    if (!plan.dealers.includes(open.sender)) return false;
    const V = readReshareCommit(decode(commit), true).V!;
    return !sameBytes(reshareCommitment(open.sid, open.sender, readReshareDeal(decode(open), plan.newThreshold)), V);
  },
  'reshare-constant': (ev, ctx) => {
    const e = env(ev, 0);
    const plan = planOf(ctx);
    if (!isRound(e, RESHARE_ROUNDS.deal, true) || !plan.dealers.includes(e.sender)) return false;
    return !readReshareDeal(decode(e), plan.newThreshold).S[0]!.equals(dealerConstant(plan, e.sender));
  },
  'reshare-share-shape': (ev, ctx) => {
    const e = env(ev, 0);
    const plan = planOf(ctx);
    return (
      isRound(e, RESHARE_ROUNDS.deal, false) &&
      plan.dealers.includes(e.sender) &&
      plan.newParties.includes(e.recipient) &&
      fails(() => readReshareSubShare(decode(e)))
    );
  },
  'reshare-vss-share': (ev, ctx) => {
    const [share, open] = [env(ev, 0), env(ev, 1)];
    const plan = planOf(ctx);
    if (!isRound(share, RESHARE_ROUNDS.deal, false) || !isRound(open, RESHARE_ROUNDS.deal, true) || share.sender !== open.sender) return false;
    if (!plan.dealers.includes(share.sender) || !plan.newParties.includes(share.recipient)) return false;
    const d = readReshareDeal(decode(open), plan.newThreshold);
    return !mulG(readReshareSubShare(decode(share))).equals(evaluateCommitment(d.S, BigInt(share.recipient)));
  },
  'reshare-confirm-shape': (ev, ctx) => {
    const e = env(ev, 0);
    return isRound(e, RESHARE_ROUNDS.confirm, true) && planOf(ctx).newParties.includes(e.sender) && fails(() => readReshareConfirm(decode(e)));
  },
  'reshare-transcript': (ev, ctx) => {
    const e = env(ev, 0);
    const plan = planOf(ctx);
    if (!isRound(e, RESHARE_ROUNDS.confirm, true) || !plan.newParties.includes(e.sender)) return false;
    return !sameBytes(readReshareConfirm(decode(e)).h, reshareResult(ev, plan).h);
  },
  'reshare-sch': (ev, ctx) => {
    const e = env(ev, 0);
    const plan = planOf(ctx);
    if (!isRound(e, RESHARE_ROUNDS.confirm, true) || !plan.newParties.includes(e.sender)) return false;
    const { A, z } = readReshareConfirm(decode(e));
    const { shares, h } = reshareResult(ev, plan);
    const X = shares[plan.newParties.indexOf(e.sender)]!;
    return fails(() => verifySch({ sessionId: e.sid, prover: e.sender, rid: h }, X, { A, z }));
  },
};
