/**
 * A party's own check of an approver change (api/approver-change.ts) before it re-pins its
 * trust anchor: the change replaces exactly the set pinned here, is unexpired, and carries a
 * quorum of valid signatures from the current set and a quorum from the new one. Any approval
 * that is malformed, by a key in neither set, for another document or forged refuses the whole
 * change, as for plans. Pure: nothing changes anywhere on a refusal.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { approverChangeHash, approverSetHash, ContractError, isApprover, parseApproverChange, type ApproverChange } from '../../api/index.ts';
import { TrustError } from './errors.ts';
import { validApprovers } from './verify-plan.ts';

export interface VerifiedApproverChange {
  readonly change: ApproverChange;
  readonly hash: Uint8Array;
  readonly hashHex: string;
  readonly fromHash: Uint8Array;
  readonly toHash: Uint8Array;
}

export interface VerifyApproverChangeContext {
  /** Hash of the approver set that must be replaced: the token's pin (or, resuming, the change's own `from`). */
  readonly pinned: Uint8Array;
  readonly now: Date;
  /** Resuming a change this party already accepted before a restart: its expiry no longer matters. */
  readonly allowExpired?: boolean;
}

export function verifyApproverChange(change: unknown, approvals: unknown, ctx: VerifyApproverChangeContext): VerifiedApproverChange {
  let parsed: ApproverChange;
  try {
    parsed = parseApproverChange(change);
  } catch (e) {
    if (e instanceof ContractError) throw new TrustError('E_PLAN_INVALID', e.message.replace(/^E_PLAN_INVALID: /, ''));
    throw e;
  }
  if (ctx.allowExpired !== true && ctx.now.getTime() >= new Date(parsed.expiresAt).getTime()) {
    throw new TrustError('E_PLAN_EXPIRED', `the approver change expired at ${parsed.expiresAt} (now ${ctx.now.toISOString()})`);
  }
  const fromHash = approverSetHash(parsed.from);
  if (bytesToHex(fromHash) !== bytesToHex(ctx.pinned)) {
    throw new TrustError('E_TRUST_ANCHOR_MISMATCH', `the change replaces approver set ${bytesToHex(fromHash).slice(0, 16)}…, this party pins ${bytesToHex(ctx.pinned).slice(0, 16)}…`);
  }
  const hash = approverChangeHash(parsed);
  const hashHex = bytesToHex(hash);
  const valid = validApprovers(approvals, hashHex, (k) => isApprover(parsed.from, k) || isApprover(parsed.to, k), { set: 'the current or the new approver set', document: 'change' });
  const from = [...valid].filter((k) => isApprover(parsed.from, k)).length;
  const to = [...valid].filter((k) => isApprover(parsed.to, k)).length;
  if (from < parsed.from.quorum) throw new TrustError('E_PLAN_UNAPPROVED', `${from} valid approval(s) of the current approvers, ${parsed.from.quorum} needed`);
  if (to < parsed.to.quorum) throw new TrustError('E_PLAN_UNAPPROVED', `${to} valid approval(s) of the new approvers, ${parsed.to.quorum} needed (the new set must show it can approve)`);
  return { change: parsed, hash, hashHex, fromHash, toHash: approverSetHash(parsed.to) };
}
