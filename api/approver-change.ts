/**
 * Changing a party's approvers (DESIGN §4 "Trust anchors": "changing them needs a quorum of the
 * current approvers"). An approver change names the set it replaces in full, the set that takes
 * over, an expiry and a nonce. Each party applies it on its own after checking:
 *   - `from` hashes to the set pinned in its HSM token;
 *   - a quorum of `from` signed it (the current approvers agree);
 *   - a quorum of `to` signed it too, so a mistyped or unheld key set, which could never approve
 *     anything again, cannot be pinned.
 * Approvals are the plan approvals of api/approval.ts over this document's hash; its own domain
 * tag keeps an approval of a change from being taken for an approval of a plan.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { ApproverSetSchema, approverSetHash } from './approver-set.ts';
import { canonicalHash, ContractError, describeIssues, HASH_HEX_RE } from './canonical.ts';
import { UtcTimestampSchema } from './plan.ts';

/** Domain tag of the approver-change hash. */
export const APPROVER_CHANGE_TAG = 'vilna-mpc/approver-change/v1';

export const ApproverChangeSchema = z
  .object({
    version: z.literal(1),
    kind: z.literal('approver-change'),
    from: ApproverSetSchema,
    to: ApproverSetSchema,
    expiresAt: UtcTimestampSchema,
    nonce: z.string().regex(HASH_HEX_RE, 'must be 32 random bytes as 64 lowercase hex characters'),
  })
  .strict()
  .superRefine((c, ctx) => {
    let same = false;
    try {
      same = bytesToHex(approverSetHash(c.from)) === bytesToHex(approverSetHash(c.to));
    } catch {
      return; // the sets' own schema reported why
    }
    if (same) ctx.addIssue({ code: 'custom', path: ['to'], message: 'is the same approver set as from' });
  });

export type ApproverChange = z.infer<typeof ApproverChangeSchema>;

/** True for a document that says it is an approver change (as opposed to a plan). */
export function isApproverChangeDocument(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'approver-change';
}

/** Validates an approver change; throws ContractError E_PLAN_INVALID naming the field and the rule. */
export function parseApproverChange(value: unknown): ApproverChange {
  const r = ApproverChangeSchema.safeParse(value);
  if (!r.success) throw new ContractError('E_PLAN_INVALID', describeIssues(r.error.issues));
  return r.data;
}

/** SHA-256 over the canonical change under APPROVER_CHANGE_TAG: what both sets' approvers sign. */
export function approverChangeHash(change: ApproverChange): Uint8Array {
  return canonicalHash(APPROVER_CHANGE_TAG, parseApproverChange(change));
}

export function approverChangeHashHex(change: ApproverChange): string {
  return bytesToHex(approverChangeHash(change));
}
