/**
 * The plan as the party node uses it (api/plan.ts has the full schema), and who takes part in
 * it: the session's members, and the old holders a reshare leaves out.
 */
import type { KeyState } from './key-state.ts';

export interface PlanPartyView {
  readonly index: number;
  readonly name: string;
  readonly identityKey: string;
  readonly endpoint: string;
}

/** The plan fields this module uses (api/plan.ts has the full schema). */
export interface PlanView {
  readonly protocol: 'keygen' | 'refresh' | 'reshare' | 'policy';
  readonly keyId: string;
  readonly epoch: number;
  readonly threshold: number;
  readonly parties: readonly PlanPartyView[];
  /** Reshare only: the holders of the epoch being reshared and the dealers among them. */
  readonly previous?: { readonly epoch: number; readonly threshold: number; readonly parties: readonly PlanPartyView[]; readonly dealers: readonly number[] };
  readonly policy?: unknown;
}

export interface VerifiedPlan {
  readonly plan: PlanView;
  readonly planHash: Uint8Array;
}

/**
 * Verifies a plan with its approvals against the pinned approvers and this party's state.
 * `allowExpired` only for a leaving party retiring after a reshare others committed.
 */
export type PlanVerifier = (plan: unknown, approvals: unknown, current: KeyState | undefined, options?: { allowExpired?: boolean }) => VerifiedPlan;

/**
 * The parties that run a plan's session: the new holders, and for a reshare also the dealers
 * (who may be leaving), by party number. Old holders that neither deal nor stay take no part;
 * they only learn at the end that they can shred their share.
 */
export function planMembers(plan: PlanView): PlanPartyView[] {
  if (plan.protocol !== 'reshare' || !plan.previous) return [...plan.parties];
  const byIndex = new Map(plan.parties.map((p) => [p.index, p] as const));
  for (const d of plan.previous.dealers) {
    const dealer = plan.previous.parties.find((p) => p.index === d);
    if (dealer && !byIndex.has(d)) byIndex.set(d, dealer);
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

/** Old holders a reshare leaves out (dealers among them): they shred their share once the new epoch signs. */
export function leavingParties(plan: PlanView): PlanPartyView[] {
  if (plan.protocol !== 'reshare' || !plan.previous) return [];
  const staying = new Set(plan.parties.map((p) => p.identityKey));
  return plan.previous.parties.filter((p) => !staying.has(p.identityKey));
}

