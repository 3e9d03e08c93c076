/**
 * Who may make a party's control calls (DESIGN §4 "Peer transport"): the caller's identity key,
 * proven by its TLS binding (sidecar/transport/peer-binding.ts), must belong to a party of the
 * key or plan the call concerns, as this node knows them — its own key states (current,
 * pending and aborted epochs), the plans it verified, the plans it coordinates, or a plan the
 * request carries that verifies here. A certificate from the peer CA alone is no longer enough
 * to start, commit, abort or retire an epoch, presign, sign, read a key's public state or a
 * decision, or anchor an audit head.
 *
 * A concern this node knows nothing of is answered as the handler would answer it (unknown key
 * or plan), without reaching the handler: there is nobody to compare the caller with.
 */
import { z } from 'zod';
import type { KeyState, KeyStateStore } from './key-state.ts';
import { PlanError } from './plan-error.ts';
import { planMembers, type PlanVerifier, type PlanView } from './plan-view.ts';

/** Why a call was refused (the `reason` label of vilna_mpc_peer_control_refusals_total). */
export type PeerRefusalReason = 'binding_missing' | 'binding_invalid' | 'not_a_party';

/** A control call refused for its caller: 403 with a stable code; the message names no secret. */
export class PeerRefused extends Error {
  override readonly name = 'PeerRefused';
  readonly code: 'E_PEER_BINDING_INVALID' | 'E_PEER_NOT_A_PARTY';
  readonly reason: PeerRefusalReason;
  constructor(reason: PeerRefusalReason, message: string) {
    super(message);
    this.reason = reason;
    this.code = reason === 'not_a_party' ? 'E_PEER_NOT_A_PARTY' : 'E_PEER_BINDING_INVALID';
  }
}

export interface PeerAuthorizerDeps {
  readonly keys: Pick<KeyStateStore, 'get' | 'list'>;
  /** A plan this node verified and accepted (PlanParticipant), by plan hash. */
  readonly acceptedPlan: (planHash: string) => PlanView | undefined;
  /** The plans of a key this node verified and accepted. */
  readonly acceptedPlansOf: (keyId: string) => readonly PlanView[];
  /** A plan this node coordinates (recorded only after its approvals verified here). */
  readonly coordinatedPlan: (planHash: string) => Promise<PlanView | undefined>;
  /** This node's own check of a plan and its approvals. */
  readonly verify: PlanVerifier;
}

/**
 * The identity keys a plan names, read leniently from a request body: the handler verifies the
 * plan itself, so membership is all that is asked here, and a plan the schema refuses still
 * reaches the handler, which refuses it with its own code and audits it.
 */
const PartyRef = z.object({ index: z.number(), identityKey: z.string() }).loose();
const PlanMembersSchema = z
  .object({
    protocol: z.string(),
    parties: z.array(PartyRef).max(64),
    previous: z.object({ parties: z.array(PartyRef).max(64), dealers: z.array(z.number()).max(64) }).loose().optional(),
  })
  .loose();

function epochsOf(state: KeyState): NonNullable<KeyState['current']>[] {
  return [...(state.current ? [state.current] : []), ...(state.pending ? [state.pending] : []), ...state.aborted];
}

const keysOfPlan = (plan: PlanView): string[] => planMembers(plan).map((p) => p.identityKey);

export class PeerAuthorizer {
  readonly #d: PeerAuthorizerDeps;

  constructor(deps: PeerAuthorizerDeps) {
    this.#d = deps;
  }

  /** A party of the key: a holder of one of its epochs here, or a member of one of its plans accepted here. */
  async keyParty(caller: string, keyId: string): Promise<void> {
    const allowed = new Set<string>();
    const state = await this.#d.keys.get(keyId);
    for (const e of state ? epochsOf(state) : []) for (const p of e.parties) allowed.add(p.identityKey);
    for (const plan of this.#d.acceptedPlansOf(keyId)) for (const k of keysOfPlan(plan)) allowed.add(k);
    if (allowed.size === 0) throw new PlanError('E_UNKNOWN_KEY', `key ${keyId} is not known here`);
    this.#require(allowed, caller, `a party of key ${keyId}`);
  }

  /** One of `signers` of the key's current epoch (presigning and signing). */
  async signer(caller: string, keyId: string, signers: readonly number[]): Promise<void> {
    const current = (await this.#d.keys.get(keyId))?.current;
    if (!current) throw new PlanError('E_UNKNOWN_KEY', `no current epoch of key ${keyId}`);
    const allowed = new Set(current.parties.filter((p) => signers.includes(p.index)).map((p) => p.identityKey));
    this.#require(allowed, caller, `one of the signers of key ${keyId}`);
  }

  /** A member of a plan this node accepted (its start is sent by the coordinator, a member). */
  acceptedPlanMember(caller: string, planHash: string): void {
    const plan = this.#d.acceptedPlan(planHash);
    if (!plan) throw new PlanError('E_UNKNOWN_PLAN', 'plan was not prepared on this party');
    this.#require(new Set(keysOfPlan(plan)), caller, 'a party of the plan');
  }

  /** A member of the plan the request hands in (the handler verifies that plan before acting on it). */
  planBodyMember(caller: string, plan: unknown): void {
    const r = PlanMembersSchema.safeParse(plan);
    const members = r.success ? keysOfPlan(r.data as unknown as PlanView) : [];
    this.#require(new Set(members), caller, 'a party of the plan it hands in');
  }

  /**
   * Retiring: a party of the key, or — for an old holder a reshare leaves out, which may never
   * have seen the coordinator — a new holder of the reshare plan the request carries, once that
   * plan verifies here and hashes to the plan being retired.
   */
  async retirer(caller: string, keyId: string, planHash: string, proof?: { plan: unknown; approvals: unknown }): Promise<void> {
    const allowed = new Set<string>();
    const state = await this.#d.keys.get(keyId);
    for (const e of state ? epochsOf(state) : []) for (const p of e.parties) allowed.add(p.identityKey);
    for (const plan of this.#d.acceptedPlansOf(keyId)) for (const k of keysOfPlan(plan)) allowed.add(k);
    if (proof !== undefined && !allowed.has(caller)) {
      try {
        const v = this.#d.verify(proof.plan, proof.approvals, state, { allowExpired: true });
        if (Buffer.from(v.planHash).toString('hex') === planHash && v.plan.keyId === keyId) for (const p of v.plan.parties) allowed.add(p.identityKey);
      } catch {
        // A plan that does not verify here names nobody; the handler refuses it with its own code.
      }
    }
    if (allowed.size === 0) throw new PlanError('E_UNKNOWN_KEY', `key ${keyId} is not known here`);
    this.#require(allowed, caller, `a party of key ${keyId}`);
  }

  /** A party of the plan whose decision is asked for: of the epoch it made, or of the plan as accepted or coordinated here. */
  async decisionReader(caller: string, planHash: string): Promise<void> {
    const allowed = new Set<string>();
    for (const state of await this.#d.keys.list()) {
      for (const e of epochsOf(state)) if (e.planHash === planHash) for (const p of e.parties) allowed.add(p.identityKey);
    }
    const accepted = this.#d.acceptedPlan(planHash);
    if (accepted) for (const k of keysOfPlan(accepted)) allowed.add(k);
    const coordinated = await this.#d.coordinatedPlan(planHash);
    if (coordinated) for (const k of keysOfPlan(coordinated)) allowed.add(k);
    if (allowed.size === 0) throw new PlanError('E_UNKNOWN_PLAN', 'no decision known here');
    this.#require(allowed, caller, 'a party of the plan');
  }

  /** Audit heads: a holder of some key held here, sending its own head (never another party's). */
  async headSender(caller: string, claimed: unknown): Promise<void> {
    if (claimed !== caller) throw new PeerRefused('not_a_party', 'an audit head is accepted only from the party it names');
    const holders = new Set<string>();
    for (const state of await this.#d.keys.list()) for (const p of state.current?.parties ?? []) holders.add(p.identityKey);
    this.#require(holders, caller, 'a party of a key held here');
  }

  #require(allowed: ReadonlySet<string>, caller: string, what: string): void {
    if (!allowed.has(caller)) throw new PeerRefused('not_a_party', `the caller is not ${what}`);
  }
}
