/**
 * Collects the MpcApprovals of one plan (DESIGN §4 "Plans and approvals"): valid Ed25519
 * signatures over the plan hash, one per approver, by approvers in each party's configured set.
 * The operator starts a plan only when every party's quorum is met, so a forged or missing
 * approval stops it here; each party checks the approvals again against the set pinned in its
 * HSM token, so this check can only delay a plan, never let one through.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { verifyApproval, type Approval } from '../api/index.ts';
import { GROUP, MpcApprovalSpecSchema, PLURALS, VERSION } from '../api/crd.ts';

export interface ApprovalTally {
  /** Valid approvals by approvers of some party's set, one per approver. */
  readonly approvals: readonly Approval[];
  /** Approval objects for this plan whose signature does not verify or whose approver no party knows. */
  readonly rejected: number;
  readonly quorumMet: boolean;
  /** Why the quorum is not met (empty when it is). */
  readonly short: string;
}

export interface ApproverSetOfParty {
  readonly name: string;
  readonly keys: readonly string[];
  readonly quorum: number;
}

/** Lists the namespace's MpcApprovals and tallies those of `planHash` (see tallyOf). */
export async function tallyApprovals(objects: CustomObjectsApi, namespace: string, planHash: string, sets: readonly ApproverSetOfParty[]): Promise<ApprovalTally> {
  const list = (await objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcApproval, namespace })) as { items: { spec?: unknown }[] };
  return tallyOf(list.items, planHash, sets);
}

/** The approvals of `planHash` among `items` (MpcApproval objects), checked against every party's set. */
export function tallyOf(items: readonly { spec?: unknown }[], planHash: string, sets: readonly ApproverSetOfParty[]): ApprovalTally {
  const known = new Set(sets.flatMap((s) => s.keys));
  const byApprover = new Map<string, Approval>();
  let rejected = 0;
  for (const item of items) {
    const spec = MpcApprovalSpecSchema.safeParse(item.spec);
    if (!spec.success || spec.data.planHash !== planHash) continue;
    const a: Approval = spec.data;
    if (!known.has(a.approver) || !verifyApproval(a)) {
      rejected++;
      continue;
    }
    byApprover.set(a.approver, a);
  }
  const approvals = [...byApprover.values()].sort((x, y) => (x.approver < y.approver ? -1 : 1));
  const shortOf = sets
    .map((s) => ({ s, have: approvals.filter((a) => s.keys.includes(a.approver)).length }))
    .filter(({ s, have }) => have < s.quorum)
    .map(({ s, have }) => `${s.name} has ${have} of ${s.quorum}`);
  // No known set is no quorum: the operator never hands over a plan nobody's approvers were asked about.
  if (sets.length === 0) return { approvals, rejected, quorumMet: false, short: 'no party\'s approver set is known' };
  return { approvals, rejected, quorumMet: shortOf.length === 0, short: shortOf.join('; ') };
}
