/**
 * The plan an MpcCeremony publishes for its approvers (DESIGN §4 "Plans and approvals", §5):
 * built from the ceremony's spec and what each referenced MpcParty reports in its status (the
 * identity key held in its HSM, the endpoint other parties reach). The operator only carries
 * plans: every party checks the approvals and the plan itself, so a mistake here can stop a
 * ceremony but never move a key.
 */
import { parsePlan, type Plan } from '../api/index.ts';
import type { MpcCeremonySpec, PartyRef, ShardRotationSpec } from '../api/crd.ts';

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

export const refName = (r: PartyRef): string => `${r.cluster}/${r.namespace}/${r.name}`;

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
    ...(spec.policy ? { policy: spec.policy } : {}),
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

/** A key's holders as the ceremony's status records them: party number and MpcParty reference. */
export interface Holder {
  readonly index: number;
  readonly ref: PartyRef;
}

/** A holder as MpcCeremony and ShardRotation status list it. */
export interface StatusHolder { index: number; cluster: string; namespace: string; name: string }
export const toStatusHolder = (h: Holder): StatusHolder => ({ index: h.index, ...h.ref });
export const fromStatusHolder = (h: StatusHolder): Holder => ({ index: h.index, ref: { cluster: h.cluster, namespace: h.namespace, name: h.name } });

/** The key as it stands (ceremony status): its epoch, threshold and holders, and every number ever used. */
export interface KeyStanding {
  readonly keyId: string;
  readonly epoch: number;
  readonly threshold: number;
  readonly holders: readonly Holder[];
  readonly lastIndex: number;
  /** The policy in force (carried to newcomers by a reshare that names none). */
  readonly policy?: unknown;
  readonly presignPool?: number;
}

export type RotationPlanOutcome = (PlanOutcome & { readonly plan?: never }) | { readonly plan: Plan; readonly holders: readonly Holder[]; readonly lastIndex: number };

/**
 * The refresh or reshare plan of a ShardRotation (DESIGN §4): a refresh keeps the holders and
 * their numbers; a reshare keeps each staying party's number, gives each newcomer a number no
 * holder ever had, and lets the first `threshold` ready old holders deal. `resolve` finds an
 * MpcParty by reference (new and old parties).
 */
export function rotationPlan(
  spec: ShardRotationSpec,
  key: KeyStanding,
  resolve: (ref: PartyRef) => ResolvedParty | undefined,
  opts: { readonly expiresAt: string; readonly nonce: string },
): RotationPlanOutcome {
  /** The plan entry of a holder, or its name when its MpcParty has not reported what a plan needs. */
  const entry = (h: Holder, needReady: boolean): { index: number; name: string; identityKey: string; endpoint: string } | string => {
    const p = resolve(h.ref);
    if (!p || (needReady && !p.ready) || p.identityKey === undefined || p.endpoint === undefined) return refName(h.ref);
    return { index: h.index, name: refName(h.ref), identityKey: p.identityKey, endpoint: p.endpoint };
  };
  const isEntry = <T,>(e: T | string): e is T => typeof e !== 'string';
  const sameRef = (a: PartyRef, b: PartyRef): boolean => refName(a) === refName(b);
  let holders: Holder[] = [...key.holders];
  let lastIndex = key.lastIndex;
  if (spec.protocol === 'reshare' && spec.parties) {
    holders = spec.parties.map((ref) => key.holders.find((h) => sameRef(h.ref, ref)) ?? { index: ++lastIndex, ref });
    holders.sort((a, b) => a.index - b.index);
  }
  const threshold = spec.threshold ?? key.threshold;
  if (threshold > holders.length) return { refused: `threshold ${threshold} exceeds the ${holders.length} new parties` };
  const news = holders.map((h) => entry(h, true));
  const missing = news.filter((e) => !isEntry(e));
  if (missing.length > 0) return { waiting: `waiting for ${missing.join(', ')} to be ready and report an identity key and endpoint` };
  let previous: Record<string, unknown> | undefined;
  if (spec.protocol === 'reshare') {
    // Every old holder is named (a lost one too, by its last reported facts); only ready ones deal.
    const olds = key.holders.map((h) => entry(h, false));
    const unknown = olds.filter((e) => !isEntry(e));
    if (unknown.length > 0) return { waiting: `waiting for old holders ${unknown.join(', ')} to report an identity key and endpoint` };
    const dealers = key.holders.filter((h) => isEntry(entry(h, true))).slice(0, key.threshold).map((h) => h.index);
    if (dealers.length < key.threshold) return { waiting: `a reshare needs ${key.threshold} ready old holders to deal; ${dealers.length} are ready` };
    previous = { epoch: key.epoch, threshold: key.threshold, parties: olds, dealers };
  }
  const policy = spec.protocol === 'reshare' ? (spec.policy ?? key.policy) : undefined;
  const candidate = {
    version: 1,
    protocol: spec.protocol,
    keyId: key.keyId,
    epoch: key.epoch + 1,
    threshold,
    parties: news,
    ...(previous ? { previous } : {}),
    ...(policy !== undefined ? { policy } : {}),
    ...(key.presignPool !== undefined ? { presignPool: key.presignPool } : {}),
    expiresAt: opts.expiresAt,
    nonce: opts.nonce,
  };
  try {
    return { plan: parsePlan(candidate), holders, lastIndex };
  } catch (e) {
    return { refused: (e as Error).message };
  }
}
