/**
 * The plan an MpcCeremony publishes for its approvers (DESIGN §4 "Plans and approvals", §5):
 * built from the ceremony's spec and what each referenced MpcParty reports in its status (the
 * identity key held in its HSM, the endpoint other parties reach). The operator only carries
 * plans: every party checks the approvals and the plan itself, so a mistake here can stop a
 * ceremony but never move a key.
 */
import { parsePlan, type Plan } from '../api/index.ts';
import type { MpcCeremonySpec, PartyRef } from '../api/crd.ts';

/** An MpcParty as the ceremony controller found it (in whichever cluster it lives). */
export interface ResolvedParty {
  readonly ref: PartyRef;
  readonly region: string;
  /** From the party's status; absent until its node has started. */
  readonly identityKey?: string;
  readonly endpoint?: string;
  readonly ready: boolean;
}

export type PlanOutcome =
  | { readonly plan: Plan }
  /** Parties are still starting: the ceremony stays in Provisioning. */
  | { readonly waiting: string }
  /** The ceremony can never run as specified: it ends Failed with this reason. */
  | { readonly refused: string };

const refName = (r: PartyRef): string => `${r.cluster}/${r.namespace}/${r.name}`;

/** The keygen plan of `spec` over `resolved` (aligned with spec.parties), or why there is none yet. */
export function keygenPlan(spec: MpcCeremonySpec, resolved: readonly ResolvedParty[], opts: { readonly expiresAt: string; readonly nonce: string }): PlanOutcome {
  if (resolved.length !== spec.parties.length) throw new Error('one resolved party per ceremony party expected');
  const regions = new Set(resolved.map((p) => p.region));
  if (spec.minRegions !== undefined && regions.size < spec.minRegions) {
    return { refused: `the parties span ${regions.size} region(s) (${[...regions].sort().join(', ')}), fewer than minRegions ${spec.minRegions}` };
  }
  const notReady = resolved.filter((p) => !p.ready || p.identityKey === undefined || p.endpoint === undefined);
  if (notReady.length > 0) return { waiting: `waiting for ${notReady.map((p) => refName(p.ref)).join(', ')} to report an identity key and endpoint` };
  const candidate = {
    version: 1,
    protocol: 'keygen',
    keyId: spec.keyName,
    epoch: 0,
    threshold: spec.threshold,
    // Numbered 1..n in the ceremony's order: the numbers every later plan of this key keeps.
    parties: resolved.map((p, i) => ({ index: i + 1, name: refName(p.ref), identityKey: p.identityKey!, endpoint: p.endpoint! })),
    presignPool: spec.presignaturePool,
    expiresAt: opts.expiresAt,
    nonce: opts.nonce,
  };
  try {
    return { plan: parsePlan(candidate) };
  } catch (e) {
    // E.g. two references resolving to one node (same identity key or endpoint).
    return { refused: (e as Error).message };
  }
}
