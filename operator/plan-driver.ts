/**
 * One step of a published plan (DESIGN §4–§5), shared by MpcCeremony and ShardRotation: until a
 * quorum of valid MpcApprovals exists, nothing is sent; then the plan and its approvals go to
 * the coordinating node (the plan's first party, always a new holder), which every party checks
 * for itself; afterwards the coordinator is asked how it stands. Starting is idempotent on the
 * node (its record of the plan), so a new leader, a restarted API server or a lost status write
 * only repeats a harmless call.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { planExpiry, type Plan } from '../api/index.ts';
import { tallyApprovals, type ApproverSetOfParty } from './approvals.ts';
import type { ConditionUpdate } from './conditions.ts';
import type { EventType } from './events.ts';
import { SidecarError, type CeremonyStatus, type SidecarClient } from './sidecar-client.ts';

export type DriveOutcome =
  | { readonly state: 'expired' }
  | { readonly state: 'awaiting'; readonly approvals: number; readonly message: string }
  /** The coordinator refused the plan or its approvals (e.g. an approver not pinned in its token). */
  | { readonly state: 'refused'; readonly approvals: number; readonly message: string }
  | { readonly state: 'unreachable'; readonly message: string }
  | { readonly state: 'running'; readonly approvals: number; readonly status: CeremonyStatus }
  | { readonly state: 'done'; readonly approvals: number; readonly status: CeremonyStatus }
  | { readonly state: 'aborted'; readonly approvals: number; readonly status: CeremonyStatus };

/** The outcomes in which the plan is not progressing; ceremonies and rotations treat them alike. */
export type StalledOutcome = Extract<DriveOutcome, { state: 'expired' | 'awaiting' | 'refused' | 'unreachable' }>;

export const isStalled = (o: DriveOutcome): o is StalledOutcome => o.state === 'expired' || o.state === 'awaiting' || o.state === 'refused' || o.state === 'unreachable';

/** What a controller records for a stalled plan: an Event if any, the approvals seen, a condition, when to look again. */
export interface StalledStep {
  readonly event?: { readonly type: EventType; readonly reason: string; readonly message: string };
  readonly approvals?: number;
  readonly condition: ConditionUpdate;
  readonly requeueAfterMs: number;
  /** The plan expired unapproved: the controller drops it and publishes a fresh one. */
  readonly republish: boolean;
}

/** Approvers get time to act; a refusal needs a person (approver set, token), so it is retried slowly. */
const WAIT_MS = 5_000;
const REFUSED_RETRY_MS = 30_000;

export function stalledStep(out: StalledOutcome, planHash: string): StalledStep {
  switch (out.state) {
    case 'expired':
      return {
        event: { type: 'Normal', reason: 'PlanExpired', message: `plan ${planHash.slice(0, 16)}… expired before a quorum approved it; publishing a fresh one` },
        approvals: 0,
        condition: { type: 'Progressing', status: 'True', reason: 'PlanExpired', message: 'the plan expired unapproved; a fresh one follows' },
        requeueAfterMs: 0,
        republish: true,
      };
    case 'awaiting':
      return { approvals: out.approvals, condition: { type: 'Progressing', status: 'True', reason: 'AwaitingApproval', message: out.message }, requeueAfterMs: WAIT_MS, republish: false };
    case 'refused':
      return {
        event: { type: 'Warning', reason: 'PlanRefused', message: out.message },
        approvals: out.approvals,
        condition: { type: 'Degraded', status: 'True', reason: 'PlanRefused', message: out.message },
        requeueAfterMs: REFUSED_RETRY_MS,
        republish: false,
      };
    case 'unreachable':
      return { condition: { type: 'Degraded', status: 'True', reason: 'CoordinatorUnreachable', message: out.message }, requeueAfterMs: WAIT_MS, republish: false };
  }
}

/** What a controller records when its plan ends without a result: a Warning Event, the failure and culprits in status, Ready False. */
export interface FailedStep {
  readonly event: { readonly type: EventType; readonly reason: string; readonly message: string };
  readonly patch: { phase: 'Failed'; failure: string; culprits: number[] };
  readonly ready: ConditionUpdate;
  readonly progressing: ConditionUpdate;
}

/** `kind` prefixes the Event reason (CeremonyAborted, RotationFailed, …); `outcome` says what the failure leaves behind. */
export function failedStep(kind: 'Ceremony' | 'Rotation', failure: string, culprits: readonly number[], names: readonly string[], outcome: string): FailedStep {
  const blame = culprits.length > 0 ? ` (culprits: ${names.join(', ')})` : '';
  return {
    event: { type: 'Warning', reason: `${kind}${culprits.length > 0 ? 'Aborted' : 'Failed'}`, message: `${failure}${blame}` },
    patch: { phase: 'Failed', failure: failure.slice(0, 4096), culprits: [...culprits] },
    ready: { type: 'Ready', status: 'False', reason: culprits.length > 0 ? 'AbortedWithCulprits' : 'Failed', message: `${failure}${blame}`.slice(0, 4096) },
    progressing: { type: 'Progressing', status: 'False', reason: 'Failed', message: outcome },
  };
}

export interface DriveInput {
  readonly objects: CustomObjectsApi;
  readonly sidecars: SidecarClient;
  readonly namespace: string;
  readonly plan: Plan;
  readonly planHash: string;
  /** True once the coordinator accepted the plan (recorded in status). */
  readonly started: boolean;
  /** Each party's approver set as its MpcParty spec names it. */
  readonly sets: readonly ApproverSetOfParty[];
  readonly now?: Date;
}

export async function drivePlan(d: DriveInput): Promise<DriveOutcome> {
  const coordinator = d.plan.parties[0]!;
  if (d.started) {
    try {
      const s = await d.sidecars.ceremony(coordinator.endpoint, d.planHash);
      if (s) return interpret(s, -1);
      // Not known (the coordinator restarted): hand it the plan again; its record answers.
    } catch (e) {
      return { state: 'unreachable', message: `coordinator ${coordinator.name}: ${(e as Error).message}` };
    }
  } else if (planExpiry(d.plan).getTime() <= (d.now ?? new Date()).getTime()) {
    return { state: 'expired' };
  }
  const tally = await tallyApprovals(d.objects, d.namespace, d.planHash, d.sets);
  if (!tally.quorumMet) {
    const rejected = tally.rejected > 0 ? `; ${tally.rejected} approval(s) for this plan rejected (bad signature or unknown approver)` : '';
    return { state: 'awaiting', approvals: tally.approvals.length, message: `waiting for approvals: ${tally.short}${rejected}` };
  }
  try {
    return interpret(await d.sidecars.startCeremony(coordinator.endpoint, d.plan, tally.approvals), tally.approvals.length);
  } catch (e) {
    if (e instanceof SidecarError && e.status >= 400 && e.status < 500) return { state: 'refused', approvals: tally.approvals.length, message: `coordinator ${coordinator.name} refused the plan: ${e.message}` };
    return { state: 'unreachable', message: `coordinator ${coordinator.name}: ${(e as Error).message}` };
  }
}

function interpret(s: CeremonyStatus, approvals: number): DriveOutcome {
  if (s.phase === 'done') return { state: 'done', approvals, status: s };
  if (s.phase === 'aborted') return { state: 'aborted', approvals, status: s };
  return { state: 'running', approvals, status: s };
}
