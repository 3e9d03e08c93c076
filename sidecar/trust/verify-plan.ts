/**
 * A party's own check of a plan and its approvals before it runs anything (DESIGN §4 "Plans and
 * approvals"): the operator only carries plans, so each node re-derives the plan hash, counts
 * the pinned approvers' valid signatures and checks the invariants against the key it holds.
 *
 * Pure: the party's state comes in through `ctx`; a refusal changes nothing anywhere.
 *
 * Order of checks: shape (E_PLAN_INVALID, also for every context-free invariant in api/plan.ts),
 * expiry, approvals (a single forged or foreign approval refuses the whole set, since it means
 * someone tampered with what the operator carried), then this party's own view: its identity in
 * the plan, the identity keys and epoch of the key it holds.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  approverSetHash,
  ApprovalSchema,
  ContractError,
  describeIssues,
  isApprover,
  parseApproverSet,
  parsePlan,
  planExpiry,
  planHash,
  verifyApproval,
  type ApproverSet,
  type Plan,
  type PlanParty,
} from '../../api/index.ts';
import { TrustError } from './errors.ts';

/** Far more entries than any quorum needs; a longer list is refused before any signature work. */
export const MAX_APPROVALS = 256;

/** A party of the key this node currently holds: its party number and identity key (66 hex). */
export interface HeldParty {
  readonly index: number;
  readonly identityKey: string;
}

/** The key this node holds now, as its last verified plan (or epoch switch) left it. */
export interface CurrentKey {
  readonly keyId: string;
  readonly epoch: number;
  readonly threshold: number;
  readonly parties: readonly HeldParty[];
}

export interface VerifyPlanContext {
  /** The approver set whose hash is pinned in this party's HSM token. */
  readonly approvers: ApproverSet;
  /** This party's identity public key (33-byte compressed P-256). */
  readonly self: { readonly identityKey: Uint8Array };
  readonly now: Date;
  /** The key this node holds for plan.keyId; absent when it holds none (keygen, reshare joiner). */
  readonly current?: CurrentKey;
  /**
   * Accept a plan past its expiry. Only for a leaving party retiring its share after a reshare
   * that others committed (proved by a signature under the new epoch): expiry limits when a plan
   * may start, not how late a party may learn that it finished.
   */
  readonly allowExpired?: boolean;
}

export interface VerifiedPlan {
  readonly plan: Plan;
  readonly hash: Uint8Array;
  readonly hashHex: string;
  /** Distinct pinned approvers whose signatures verified, ascending. */
  readonly approvers: readonly string[];
  /** This party's number in plan.parties; undefined for an old holder leaving in a reshare. */
  readonly selfIndex: number | undefined;
  /** This party's number in previous.parties (reshare only). */
  readonly previousIndex: number | undefined;
  /** True when this party is one of the reshare's dealers. */
  readonly dealer: boolean;
  /** Hash of the approver set the approvals were counted against. */
  readonly approverSetHash: Uint8Array;
}

function short(hex: string): string {
  return `${hex.slice(0, 16)}…`;
}

function parseOrRefuse(plan: unknown): Plan {
  try {
    return parsePlan(plan);
  } catch (e) {
    if (e instanceof ContractError) throw new TrustError('E_PLAN_INVALID', e.message.replace(/^E_PLAN_INVALID: /, ''));
    throw e;
  }
}

function checkExpiry(plan: Plan, now: Date): void {
  if (!Number.isFinite(now.getTime())) throw new TypeError('ctx.now is not a valid date');
  if (now.getTime() >= planExpiry(plan).getTime()) {
    throw new TrustError('E_PLAN_EXPIRED', `the plan expired at ${plan.expiresAt} (now ${now.toISOString()})`);
  }
}

/**
 * The distinct approvers with a valid signature over `hashHex` among `approvals`. Any bad entry
 * (malformed, by a key `isKnown` refuses, for another document, or forged) refuses the whole
 * list: it means someone tampered with what the operator carried.
 */
export function validApprovers(approvals: unknown, hashHex: string, isKnown: (approver: string) => boolean, names: { readonly set: string; readonly document: string }): Set<string> {
  if (!Array.isArray(approvals)) throw new TrustError('E_APPROVAL_INVALID', 'approvals must be a list');
  if (approvals.length > MAX_APPROVALS) throw new TrustError('E_APPROVAL_INVALID', `more than ${MAX_APPROVALS} approvals`);
  const valid = new Set<string>();
  approvals.forEach((raw: unknown, i) => {
    const r = ApprovalSchema.safeParse(raw);
    if (!r.success) throw new TrustError('E_APPROVAL_INVALID', `approvals[${i}]: ${describeIssues(r.error.issues)}`);
    const a = r.data;
    if (!isKnown(a.approver)) throw new TrustError('E_APPROVAL_INVALID', `approvals[${i}]: approver ${a.approver} is not in ${names.set}`);
    if (a.planHash !== hashHex) {
      throw new TrustError('E_APPROVAL_INVALID', `approvals[${i}]: approver ${a.approver} approved ${names.document} ${short(a.planHash)}, not this ${names.document} ${short(hashHex)}`);
    }
    if (!verifyApproval(a)) throw new TrustError('E_APPROVAL_INVALID', `approvals[${i}]: the signature of approver ${a.approver} does not verify`);
    valid.add(a.approver);
  });
  return valid;
}

/** Counts distinct pinned approvers with a valid signature over `hashHex`; refuses any bad entry. */
function countApprovals(approvals: unknown, hashHex: string, set: ApproverSet): string[] {
  const valid = validApprovers(approvals, hashHex, (k) => isApprover(set, k), { set: 'the pinned approver set', document: 'plan' });
  if (valid.size < set.quorum) {
    throw new TrustError('E_PLAN_UNAPPROVED', `${valid.size} distinct valid approval(s) of the ${set.quorum} needed (pinned set of ${set.keys.length})`);
  }
  return [...valid].sort();
}

/** Refuses unless `planParties` are exactly the holders of the key held here: same numbers, same identity keys. */
function checkSameHolders(planParties: readonly PlanParty[], held: readonly HeldParty[], where: string): void {
  const byIndex = new Map(held.map((p) => [p.index, p.identityKey]));
  for (const p of planParties) {
    const mine = byIndex.get(p.index);
    if (mine === undefined) throw new TrustError('E_IDENTITY_MISMATCH', `${where}: party ${p.index} holds no share of the key held here (holders ${held.map((h) => h.index).join(',')})`);
    if (mine !== p.identityKey) {
      throw new TrustError('E_IDENTITY_MISMATCH', `${where}: party ${p.index} has identity key ${short(p.identityKey)} in the plan but ${short(mine)} in the key this party holds`);
    }
  }
  if (planParties.length !== held.length) {
    throw new TrustError('E_IDENTITY_MISMATCH', `${where}: names ${planParties.length} holders, the key held here has ${held.length}`);
  }
}

function checkContinuity(plan: Plan, current: CurrentKey | undefined, previousIndex: number | undefined): void {
  if (current !== undefined && current.keyId !== plan.keyId) {
    throw new TrustError('E_PLAN_INVALID', `the plan is for key ${plan.keyId}, the key given for comparison is ${current.keyId}`);
  }
  switch (plan.protocol) {
    case 'keygen':
      if (current !== undefined) throw new TrustError('E_EPOCH_DISCONTINUITY', `key ${plan.keyId} already exists here at epoch ${current.epoch}; keygen would replace it`);
      return;
    case 'refresh':
    case 'policy': {
      if (current === undefined) throw new TrustError('E_EPOCH_DISCONTINUITY', `this party holds no key ${plan.keyId} to ${plan.protocol}`);
      const expected = plan.protocol === 'refresh' ? current.epoch + 1 : current.epoch;
      if (plan.epoch !== expected) {
        throw new TrustError('E_EPOCH_DISCONTINUITY', `a ${plan.protocol} of key ${plan.keyId} at epoch ${current.epoch} must name epoch ${expected}, not ${plan.epoch}`);
      }
      if (plan.threshold !== current.threshold || plan.parties.length !== current.parties.length) {
        throw new TrustError(
          'E_PLAN_INVALID',
          `a ${plan.protocol} keeps the key's ${current.threshold}-of-${current.parties.length} parties; the plan says ${plan.threshold}-of-${plan.parties.length} (use reshare)`,
        );
      }
      checkSameHolders(plan.parties, current.parties, 'parties');
      return;
    }
    case 'reshare': {
      const prev = plan.previous!; // the schema requires it for reshare
      if (current === undefined) {
        // A joiner holds nothing to compare with and trusts the approvers; an old holder must.
        if (previousIndex !== undefined) throw new TrustError('E_EPOCH_DISCONTINUITY', `this party is previous party ${previousIndex} but holds no key ${plan.keyId}`);
        return;
      }
      if (prev.epoch !== current.epoch) {
        throw new TrustError('E_EPOCH_DISCONTINUITY', `the plan reshares epoch ${prev.epoch}, this party holds key ${plan.keyId} at epoch ${current.epoch}`);
      }
      if (prev.threshold !== current.threshold || prev.parties.length !== current.parties.length) {
        throw new TrustError(
          'E_EPOCH_DISCONTINUITY',
          `previous says ${prev.threshold}-of-${prev.parties.length}, the key held here is ${current.threshold}-of-${current.parties.length}`,
        );
      }
      checkSameHolders(prev.parties, current.parties, 'previous.parties');
      return;
    }
  }
}

/**
 * Verifies a plan and its approvals against this party's pinned approvers and the key it holds.
 * Throws TrustError (E_PLAN_INVALID, E_PLAN_EXPIRED, E_APPROVAL_INVALID, E_PLAN_UNAPPROVED,
 * E_IDENTITY_MISMATCH, E_EPOCH_DISCONTINUITY); returns the parsed plan and what it means here.
 */
export function verifyPlan(plan: unknown, approvals: unknown, ctx: VerifyPlanContext): VerifiedPlan {
  const set = parseApproverSet(ctx.approvers);
  const parsed = parseOrRefuse(plan);
  if (ctx.allowExpired !== true) checkExpiry(parsed, ctx.now);

  const hash = planHash(parsed);
  const hashHex = bytesToHex(hash);
  const approvers = countApprovals(approvals, hashHex, set);

  const self = ctx.self.identityKey;
  if (!(self instanceof Uint8Array) || self.length !== 33) throw new TypeError('ctx.self.identityKey must be a 33-byte compressed P-256 key');
  const selfHex = bytesToHex(self);
  const selfIndex = parsed.parties.find((p) => p.identityKey === selfHex)?.index;
  const previousIndex = parsed.previous?.parties.find((p) => p.identityKey === selfHex)?.index;
  if (selfIndex === undefined && previousIndex === undefined) {
    throw new TrustError('E_IDENTITY_MISMATCH', `this party's identity key ${short(selfHex)} is not in the plan`);
  }
  checkContinuity(parsed, ctx.current, previousIndex);

  return {
    plan: parsed,
    hash,
    hashHex,
    approvers,
    selfIndex,
    previousIndex,
    dealer: previousIndex !== undefined && (parsed.previous?.dealers.includes(previousIndex) ?? false),
    approverSetHash: approverSetHash(set),
  };
}
