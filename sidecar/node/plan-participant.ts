/**
 * This party's side of a plan (DESIGN §4 "Plans and approvals", "Epoch switch"): verify the
 * plan and its approvals, contribute a fresh nonce to the session id, run the protocol, seal the
 * new share as pending and vote `prepared` over the public transcript; then, on the
 * coordinator's (self-certifying) commit decision, promote pending → current; on retirement,
 * shred the old epoch. Every step is persisted before it is acknowledged, so a crash at any point
 * leaves this party with exactly one usable epoch and enough to learn the decision from a peer.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { arith, hd, protocols, SECURITY_LEVEL_128 } from '../../cggmp/index.ts';
import path from 'node:path';
import { readJson, writeJsonAtomic } from './atomic-json.ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { abortBytes, commitBytes, epochTestMessage, epochTestPublicKey, nonceBytes, startBytes, voteBytes } from './statements.ts';
import type { KeyState, KeyStateStore, PendingInfo } from './key-state.ts';
import { callPeer, type PeerRequester } from './peer-client.ts';
import type { ShardStore } from './shard-store.ts';
import { agreeOnOldPublic, OldPublicRefused, signOldPublic, type DealerAnswer, type OldPublic } from './old-public-state.ts';
import { PlanError } from './plan-error.ts';
import { planMembers, type PlanView, type PlanVerifier, type VerifiedPlan } from './plan-view.ts';
import { deriveSid, subSid, type SessionParty, type SessionRunner } from './session-runner.ts';
import type { RefusalSink } from '../audit/index.ts';

type KeyShare = protocols.KeyShare;

export interface AuditSink {
  append(kind: string, data: Record<string, unknown>): Promise<unknown>;
}

/** `dealt`: a dealer leaving in a reshare has done its part; it holds no new share and does not vote. */
export type PlanPhase = 'accepted' | 'running' | 'dealt' | 'prepared' | 'committed' | 'retired' | 'left' | 'aborted' | 'failed';

export interface PlanStatus {
  readonly planHash: string;
  readonly keyId: string;
  readonly phase: PlanPhase;
  /** While running: the sub-protocol this party is in (the operator shows KeyGen, then AuxInfo). */
  readonly step?: 'keygen' | 'refresh' | 'reshare' | 'aux-info';
  readonly vote?: Vote;
  readonly result?: { readonly publicKey: string; readonly xpub: string; readonly epoch: number };
  readonly error?: ErrorInfo;
}

/** A prepared vote: this party sealed the new share whose public transcript hashes to transcriptHash. */
export interface Vote {
  readonly party: number;
  readonly transcriptHash: string;
  readonly signature: string;
}

/**
 * The commit decision: every new holder's vote for the same transcript, and the signature of the
 * party that started the plan (the only one that may decide it, commit or abort, and never both).
 */
export interface CommitDecision {
  readonly planHash: string;
  readonly transcriptHash: string;
  readonly votes: readonly Vote[];
  readonly coordinator: { readonly party: number; readonly signature: string };
}

/** Hash of the public outcome every holder must agree on: public key, shares, t, parties, epoch, aux. */
export function publicTranscriptHash(pub: protocols.KeySharePublic): Uint8Array {
  return sha256(protocols.encodeKeySharePublic(pub));
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

interface Entry {
  verified: VerifiedPlan;
  coordinator?: number;
  nonce: Uint8Array;
  status: PlanStatus;
  self: number;
  done?: Promise<void>;
}

export interface PlanParticipantDeps {
  readonly identityKey: Uint8Array;
  readonly signer: protocols.Signer;
  readonly verify: PlanVerifier;
  readonly keys: KeyStateStore;
  readonly shards: ShardStore;
  readonly runner: SessionRunner;
  readonly primes: arith.PrimeSource;
  readonly audit: AuditSink;
  /** Refused plans, counted per caller and code (a flood of junk plans costs bounded lines). */
  readonly refusals: RefusalSink;
  /** Where committed decisions are kept, so that peers can learn them from this party. */
  readonly decisionsDir: string;
  readonly peers: PeerRequester;
  /** Called after an epoch change (the presignature pool of that key is dropped). */
  readonly epochChanged?: (keyId: string) => void;
  readonly policyChanged?: (keyId: string, policy: unknown) => void;
  /** Test-only crash points (a test entry point injects them; the sidecar binary never does). */
  readonly checkpoint?: (name: string) => void;
}

export class PlanParticipant {
  readonly #d: PlanParticipantDeps;
  readonly #plans = new Map<string, Entry>();
  /** One plan per key at a time: the epoch switch is serial. */
  readonly #busyKeys = new Set<string>();
  /** Commit, abort and retire of one key run one at a time (a decision may arrive twice). */
  readonly #keyLocks = new Map<string, Promise<unknown>>();

  #serial<T>(keyId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#keyLocks.get(keyId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#keyLocks.set(keyId, tail);
    void tail.then(() => {
      if (this.#keyLocks.get(keyId) === tail) this.#keyLocks.delete(keyId);
    });
    return next;
  }

  constructor(deps: PlanParticipantDeps) {
    this.#d = deps;
  }

  /** A plan this party verified and accepted, by plan hash (the peer authorizer's view of who its parties are). */
  acceptedPlan(planHash: string): PlanView | undefined {
    return this.#plans.get(planHash)?.verified.plan;
  }

  /** The plans of a key this party verified and accepted. */
  acceptedPlansOf(keyId: string): PlanView[] {
    return [...this.#plans.values()].filter((e) => e.verified.plan.keyId === keyId).map((e) => e.verified.plan);
  }

  /**
   * Step 0: verify the plan and approvals; answer with this party's signed nonce. `caller` is the
   * identity the request came with, which a refusal is counted under.
   */
  async prepare(plan: unknown, approvals: unknown, caller: string): Promise<{ planHash: string; party: number; nonce: string; signature: string }> {
    const keyId = typeof plan === 'object' && plan !== null ? (plan as { keyId?: unknown }).keyId : undefined;
    const current = typeof keyId === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(keyId) ? await this.#d.keys.get(keyId) : undefined;
    let verified: VerifiedPlan;
    try {
      verified = this.#d.verify(plan, approvals, current);
    } catch (e) {
      // Counted by code only: the key id is the caller's to choose, so it is detail.
      await this.#d.refusals.refused('plan.refused', caller, { code: (e as { code?: string }).code ?? 'E_PLAN_INVALID' }, { keyId: typeof keyId === 'string' ? keyId.slice(0, 64) : null });
      throw e;
    }
    const planHash = hex(verified.planHash);
    const existing = this.#plans.get(planHash);
    if (existing) return { planHash, party: existing.self, nonce: hex(existing.nonce), signature: await this.#signNonce(verified.planHash, existing.self, existing.nonce) };
    if (current?.pending && current.pending.planHash !== planHash) {
      throw new PlanError('E_EPOCH_PENDING', `key ${verified.plan.keyId} has an undecided epoch ${current.pending.epoch}; its decision must be learnt first`);
    }
    const self = planMembers(verified.plan).find((p) => p.identityKey === hex(this.#d.identityKey))?.index;
    // An old holder that neither deals nor stays has no part in the session (it retires at the end).
    if (self === undefined) throw new PlanError('E_IDENTITY_MISMATCH', 'this party has no part in the plan\'s session');
    const nonce = new Uint8Array(randomBytes(32));
    this.#plans.set(planHash, { verified, nonce, self, status: { planHash, keyId: verified.plan.keyId, phase: 'accepted' } });
    await this.#d.audit.append('plan.accepted', { planHash, keyId: verified.plan.keyId, protocol: verified.plan.protocol, epoch: verified.plan.epoch });
    return { planHash, party: self, nonce: hex(nonce), signature: await this.#signNonce(verified.planHash, self, nonce) };
  }

  async #signNonce(planHash: Uint8Array, party: number, nonce: Uint8Array): Promise<string> {
    return hex(await this.#d.signer.sign(nonceBytes(planHash, party, nonce)));
  }

  /** Step 1: every party's signed nonce is known; run the protocol in the background. */
  start(planHash: string, nonces: readonly { party: number; nonce: string; signature: string }[], coordinator: { party: number; signature: string }): PlanStatus {
    const entry = this.#plans.get(planHash);
    if (!entry) throw new PlanError('E_UNKNOWN_PLAN', 'plan was not prepared on this party');
    if (entry.done) return entry.status;
    const { plan } = entry.verified;
    const parsed = this.#checkNonces(entry, nonces);
    // The coordinator is a new holder: it proves the new epoch with a test signature at the end.
    const by = plan.parties.find((p) => p.index === coordinator.party);
    if (!by || !protocols.verifyIdentitySignature(unhex(by.identityKey), startBytes(entry.verified.planHash, by.index), unhex(coordinator.signature))) {
      throw new PlanError('E_BAD_SIGNATURE', 'the plan must be started by one of its parties, signed with its identity key');
    }
    entry.coordinator = by.index;
    if (this.#busyKeys.has(plan.keyId)) throw new PlanError('E_KEY_BUSY', `another plan for key ${plan.keyId} is running`);
    this.#busyKeys.add(plan.keyId);
    const sid = deriveSid(`plan:${plan.protocol}`, entry.verified.planHash, parsed);
    entry.status = { ...entry.status, phase: 'running' };
    entry.done = this.#run(entry, sid)
      .catch(async (e: unknown) => {
        entry.status = { ...entry.status, phase: 'failed', error: describeError(e) };
        await this.#d.audit.append('plan.failed', { planHash, keyId: plan.keyId, ...describeError(e) }).catch(() => undefined);
      })
      .finally(() => this.#busyKeys.delete(plan.keyId));
    return entry.status;
  }

  #checkNonces(entry: Entry, nonces: readonly { party: number; nonce: string; signature: string }[]): { party: number; nonce: Uint8Array }[] {
    const { plan, planHash } = entry.verified;
    const members = planMembers(plan);
    if (!Array.isArray(nonces) || nonces.length !== members.length) throw new PlanError('E_PLAN_INVALID', 'one nonce per session party is needed');
    const out: { party: number; nonce: Uint8Array }[] = [];
    for (const p of members) {
      const n = nonces.find((x) => x?.party === p.index);
      if (!n || typeof n.nonce !== 'string' || !/^[0-9a-f]{64}$/.test(n.nonce) || typeof n.signature !== 'string' || !/^[0-9a-f]{128}$/.test(n.signature)) {
        throw new PlanError('E_PLAN_INVALID', `nonce of party ${p.index} is missing or malformed`);
      }
      const nonce = unhex(n.nonce);
      if (!protocols.verifyIdentitySignature(unhex(p.identityKey), nonceBytes(planHash, p.index, nonce), unhex(n.signature))) {
        throw new PlanError('E_BAD_SIGNATURE', `nonce of party ${p.index} is not signed by its identity key`);
      }
      if (p.index === entry.self && hex(nonce) !== hex(entry.nonce)) throw new PlanError('E_PLAN_INVALID', 'own nonce differs from the one this party gave');
      out.push({ party: p.index, nonce });
    }
    return out;
  }

  async #run(entry: Entry, sid: Uint8Array): Promise<void> {
    const { plan, planHash } = entry.verified;
    const parties: SessionParty[] = plan.parties.map((p) => ({ index: p.index, identityKey: unhex(p.identityKey), endpoint: p.endpoint }));
    const self = entry.self;
    const level = SECURITY_LEVEL_128;
    const state = await this.#d.keys.get(plan.keyId);
    if (state?.pending && state.pending.planHash !== hex(planHash)) {
      throw new PlanError('E_EPOCH_PENDING', `key ${plan.keyId} has an undecided epoch ${state.pending.epoch} from another plan`);
    }
    if (plan.protocol === 'policy') {
      await this.#serial(plan.keyId, async () => {
        const now = await this.#d.keys.get(plan.keyId);
        const applied = now?.appliedPolicyPlans ?? [];
        // A policy plan is applied once: an older, still unexpired plan cannot be replayed.
        if (applied.includes(hex(planHash))) throw new PlanError('E_REPLAY', 'this policy plan was already applied');
        await this.#d.keys.put({ ...(now ?? { keyId: plan.keyId, retiredBelow: 0, aborted: [], appliedPolicyPlans: [] }), policy: plan.policy, appliedPolicyPlans: [...applied, hex(planHash)].slice(-64) });
      });
      this.#d.policyChanged?.(plan.keyId, plan.policy);
      entry.status = { ...entry.status, phase: 'committed' };
      await this.#d.audit.append('policy.changed', { planHash: hex(planHash), keyId: plan.keyId });
      return;
    }
    let base: KeyShare;
    entry.status = { ...entry.status, step: plan.protocol };
    if (plan.protocol === 'keygen') {
      base = (await this.#d.runner.run({ protocol: 'keygen', sid: subSid(sid, 'keygen'), self, parties, evidence: { threshold: plan.threshold } }, (s) =>
        protocols.keygen(s, { keyId: plan.keyId, threshold: plan.threshold }),
      )).value;
    } else if (plan.protocol === 'refresh') {
      if (!state?.current) throw new PlanError('E_EPOCH_DISCONTINUITY', `no current epoch of key ${plan.keyId} to refresh`);
      const old = await this.#d.shards.load(plan.keyId, state.current.epoch);
      base = (await this.#d.runner.run({ protocol: 'refresh', sid: subSid(sid, 'refresh'), self, parties, evidence: { refresh: old.public } }, (s) => protocols.refresh(s, old))).value;
    } else {
      const reshared = await this.#reshare(entry, sid, state);
      if (reshared === undefined) {
        // A dealer that leaves: its part is done; it keeps its old share until the new epoch signs.
        entry.status = { ...entry.status, phase: 'dealt' };
        await this.#d.audit.append('reshare.dealt', { planHash: hex(planHash), keyId: plan.keyId, epoch: plan.epoch });
        return;
      }
      base = reshared;
    }
    if (base.public.epoch !== plan.epoch) throw new PlanError('E_EPOCH_DISCONTINUITY', `protocol produced epoch ${base.public.epoch}, plan says ${plan.epoch}`);
    entry.status = { ...entry.status, step: 'aux-info' };
    const aux = (await this.#d.runner.run({ protocol: 'aux-info', sid: subSid(sid, 'aux-info'), self, parties }, async (s) =>
      protocols.auxInfo(s, { level, primes: this.#d.primes }, await protocols.generateAuxKeys(level, this.#d.primes)),
    )).value;
    const share = protocols.withAux(base, aux);
    await this.#d.shards.sealPending(share, hex(planHash));
    this.#d.checkpoint?.('participant.after-seal-pending');
    const transcriptHash = publicTranscriptHash(share.public);
    const vote: Vote = { party: self, transcriptHash: hex(transcriptHash), signature: hex(await this.#d.signer.sign(voteBytes(planHash, transcriptHash, self))) };
    const pending: PendingInfo = {
      ...epochInfo(share, hex(planHash), plan),
      transcriptHash: hex(transcriptHash),
      vote,
      ...(entry.coordinator !== undefined ? { coordinator: entry.coordinator } : {}),
      // A keygen or reshare may carry the policy its (new) holders enforce from the first epoch.
      ...((plan.protocol === 'reshare' || plan.protocol === 'keygen') && plan.policy !== undefined ? { policy: plan.policy } : {}),
    };
    await this.#serial(plan.keyId, async () => {
      const now = await this.#d.keys.get(plan.keyId);
      if (now?.pending && now.pending.planHash !== pending.planHash) throw new PlanError('E_EPOCH_PENDING', `key ${plan.keyId} has an undecided epoch from another plan`);
      await this.#d.keys.put({ ...(now ?? { keyId: plan.keyId, retiredBelow: 0, aborted: [], appliedPolicyPlans: [] }), pending });
    });
    this.#d.checkpoint?.('participant.after-vote');
    await this.#d.audit.append('epoch.prepared', { planHash: hex(planHash), keyId: plan.keyId, epoch: plan.epoch, transcriptHash: vote.transcriptHash });
    entry.status = { ...entry.status, phase: 'prepared', vote, result: { publicKey: pending.publicKey, xpub: pending.xpub, epoch: pending.epoch } };
  }

  /**
   * DESIGN §3 "Reshare": dealers deal from their share, new holders receive. Every participant
   * needs the old epoch's public state (public key, chain code, holders' public shares); an old
   * holder has it in its own share, a newcomer asks every dealer and requires them to agree.
   * Agreement of all participants on it is then checked again inside the protocol (plan digest,
   * echoed), and the public shares must interpolate to the public key over the dealers.
   */
  async #reshare(entry: Entry, sid: Uint8Array, state: KeyState | undefined): Promise<KeyShare | undefined> {
    const { plan } = entry.verified;
    const prev = plan.previous;
    if (!prev) throw new PlanError('E_PLAN_INVALID', 'a reshare plan names the previous holders');
    const held = state?.current ? await this.#d.shards.load(plan.keyId, state.current.epoch) : undefined;
    if (held && held.public.epoch !== prev.epoch) throw new PlanError('E_EPOCH_DISCONTINUITY', `the plan reshares epoch ${prev.epoch}, this party holds epoch ${held.public.epoch}`);
    const old = held?.public ?? (await this.#oldPublicFromDealers(plan, entry.verified.planHash));
    const publicPlan: protocols.ResharePlan = {
      keyId: plan.keyId,
      oldEpoch: prev.epoch,
      publicKey: old.publicKey,
      chainCode: old.chainCode,
      oldThreshold: old.threshold,
      oldParties: old.parties,
      oldPublicShares: old.publicShares,
      dealers: prev.dealers,
      newParties: plan.parties.map((p) => p.index),
      newThreshold: plan.threshold,
    };
    const input: protocols.ReshareInput = held && prev.dealers.includes(entry.self) ? { ...publicPlan, share: held } : publicPlan;
    const members: SessionParty[] = planMembers(plan).map((p) => ({ index: p.index, identityKey: unhex(p.identityKey), endpoint: p.endpoint }));
    return (await this.#d.runner.run({ protocol: 'reshare', sid: subSid(sid, 'reshare'), self: entry.self, parties: members, evidence: { reshare: publicPlan } }, (s) =>
      protocols.reshare(s, input),
    )).value;
  }

  /**
   * The old epoch's public state, as every dealer states it, signed for this plan: each answer
   * must be that dealer's signed statement (its identity key as the approved plan names it), and
   * all must agree (old-public-state.ts says who is named when not). A refusal is audited with
   * the signed statements it rests on, so that others can re-check it.
   */
  async #oldPublicFromDealers(plan: PlanView, planHash: Uint8Array): Promise<OldPublic> {
    const prev = plan.previous!;
    const answers: DealerAnswer[] = [];
    for (const d of prev.dealers) {
      const p = prev.parties.find((x) => x.index === d)!;
      const raw = await callPeer<unknown>(this.#d.peers, p.endpoint, `/v1/peer/control/keys/${plan.keyId}/public?epoch=${prev.epoch}&plan=${hex(planHash)}`, undefined, { method: 'GET', timeoutMs: 10_000 });
      answers.push({ dealer: d, identityKey: p.identityKey, raw });
    }
    try {
      return agreeOnOldPublic(answers, { keyId: plan.keyId, planHash: hex(planHash), previous: prev });
    } catch (e) {
      if (e instanceof OldPublicRefused) {
        const entry = { planHash: hex(planHash), keyId: plan.keyId, code: e.code, culprits: [...(e.culprits ?? [])] };
        // Many dealers' statements may not fit one audit entry: the refusal is recorded regardless.
        await this.#d.audit.append('reshare.state-refused', { ...entry, evidence: e.evidence })
          .catch(() => this.#d.audit.append('reshare.state-refused', { ...entry, evidence: 'omitted: larger than an audit entry' }))
          .catch(() => undefined);
      }
      throw e;
    }
  }

  /**
   * The public state of this party's current epoch of a key, signed for a reshare of it that
   * this party accepted (what a newcomer of that reshare asks for).
   */
  async publicState(keyId: string, epoch: number, planHash: string): Promise<Record<string, unknown>> {
    const state = await this.#d.keys.get(keyId);
    if (!state?.current || state.current.epoch !== epoch) throw new PlanError('E_UNKNOWN_KEY', `no current epoch ${epoch} of key ${keyId} here`);
    const plan = this.#plans.get(planHash)?.verified.plan;
    if (plan?.protocol !== 'reshare' || plan.keyId !== keyId || plan.previous?.epoch !== epoch) {
      throw new PlanError('E_UNKNOWN_PLAN', `no reshare of key ${keyId} from epoch ${epoch} was accepted here under that plan`);
    }
    return { ...(await signOldPublic((await this.#d.shards.load(keyId, epoch)).public, planHash, this.#d.signer)) };
  }

  /** The plan's status here; after a restart, a persisted prepared vote is reported again. */
  async status(planHash: string): Promise<PlanStatus | undefined> {
    const live = this.#plans.get(planHash)?.status;
    if (live) return live;
    for (const k of await this.#d.keys.list()) {
      const p = k.pending;
      if (p?.planHash === planHash && p.vote) {
        return { planHash, keyId: k.keyId, phase: 'prepared', vote: p.vote, result: { publicKey: p.publicKey, xpub: p.xpub, epoch: p.epoch } };
      }
      if (k.aborted.some((a) => a.planHash === planHash)) return { planHash, keyId: k.keyId, phase: 'aborted' };
      if (k.left?.planHash === planHash) return { planHash, keyId: k.keyId, phase: 'left' };
      if (k.current?.planHash === planHash) {
        return { planHash, keyId: k.keyId, phase: k.retiredBelow >= k.current.epoch ? 'retired' : 'committed', result: { publicKey: k.current.publicKey, xpub: k.current.xpub, epoch: k.current.epoch } };
      }
    }
    return undefined;
  }

  /**
   * Step 3: promote pending → current on a commit decision signed by every plan party.
   * Works after a restart too (the plan is found through the key's pending state).
   */
  commit(keyId: string, decision: CommitDecision): Promise<PlanStatus> {
    return this.#serial(keyId, () => this.#commit(keyId, decision));
  }

  async #commit(keyId: string, decision: CommitDecision): Promise<PlanStatus> {
    const state = await this.#d.keys.get(keyId);
    if (state?.current?.planHash === decision.planHash) return { planHash: decision.planHash, keyId, phase: 'committed' };
    // The share may be pending, or kept after an abort that came after this party voted.
    const pending = state?.pending?.planHash === decision.planHash ? state.pending : state?.aborted.find((a) => a.planHash === decision.planHash);
    if (!state || !pending) throw new PlanError('E_UNKNOWN_PLAN', `no pending epoch of ${keyId} for this plan`);
    // An aborted plan's commit is taken only while no other plan is under way here: this party
    // has voted for (or is running) that one, and must end where its other parties end.
    if (pending !== state.pending && (state.pending !== undefined || this.#busyKeys.has(keyId))) {
      throw new PlanError('E_EPOCH_PENDING', `key ${keyId} is in another plan; the aborted plan's decision is not taken`);
    }
    if (state.current && state.current.epoch >= pending.epoch) throw new PlanError('E_EPOCH_DISCONTINUITY', `key ${keyId} already committed epoch ${state.current.epoch} through another plan`);
    verifyDecision(decision, pending);
    await writeJsonAtomic(path.join(this.#d.decisionsDir, `${decision.planHash}.json`), { state: 'commit', decision });
    await this.#d.shards.promote(keyId, pending.epoch, pending.planHash);
    this.#d.checkpoint?.('participant.after-promote');
    const current = { epoch: pending.epoch, planHash: pending.planHash, publicKey: pending.publicKey, xpub: pending.xpub, threshold: pending.threshold, parties: pending.parties };
    // Any other undecided share of this epoch or before is moot now.
    const policy = pending.policy !== undefined ? pending.policy : state.policy;
    await this.#d.keys.put({ ...state, current, pending: undefined, aborted: state.aborted.filter((a) => a.epoch > pending.epoch), policy, left: undefined });
    await this.#d.shards.dropPendingBlobs(keyId, pending.epoch);
    await this.#d.audit.append('epoch.commit', { planHash: decision.planHash, keyId, epoch: pending.epoch, transcriptHash: decision.transcriptHash });
    if (pending.policy !== undefined) this.#d.policyChanged?.(keyId, pending.policy);
    this.#d.epochChanged?.(keyId);
    const entry = this.#plans.get(decision.planHash);
    const status: PlanStatus = { planHash: decision.planHash, keyId, phase: 'committed', result: { publicKey: current.publicKey, xpub: current.xpub, epoch: current.epoch } };
    if (entry) entry.status = status;
    return status;
  }

  /** A commit decision this party verified (and acted on), for peers recovering from a crash. */
  async decision(planHash: string): Promise<{ state: 'commit'; decision: CommitDecision } | undefined> {
    if (!/^[0-9a-f]{64}$/.test(planHash)) return undefined;
    return (await readJson(path.join(this.#d.decisionsDir, `${planHash}.json`))) as { state: 'commit'; decision: CommitDecision } | undefined;
  }

  /**
   * The coordinator decided to abort (a party failed before voting): drop the pending share. The
   * abort must be signed by the coordinator, a party of the plan: an unauthenticated abort could
   * make this party drop a share that the others committed.
   */
  abort(keyId: string, a: { planHash: string; coordinator: number; signature: string }): Promise<void> {
    return this.#serial(keyId, () => this.#abort(keyId, a));
  }

  async #abort(keyId: string, a: { planHash: string; coordinator: number; signature: string }): Promise<void> {
    const { planHash } = a;
    const state = await this.#d.keys.get(keyId);
    const entry = this.#plans.get(planHash);
    const pending = state?.pending?.planHash === planHash ? state.pending : undefined;
    // The signature is checked whatever the state: an unsigned abort changes nothing anywhere.
    const parties = pending?.parties ?? entry?.verified.plan.parties;
    const starter = pending?.coordinator ?? entry?.coordinator;
    if (!parties) return;
    // Only the party that started the plan may abort it: another party, even a corrupt one
    // holding its own identity key, cannot make this one give up on a plan the others commit.
    const by = starter === undefined || starter === a.coordinator ? parties.find((p) => p.index === a.coordinator) : undefined;
    if (!by || !/^[0-9a-f]{128}$/.test(a.signature) || !protocols.verifyIdentitySignature(unhex(by.identityKey), abortBytes(unhex(planHash), a.coordinator), unhex(a.signature))) {
      throw new PlanError('E_BAD_SIGNATURE', 'the abort is not signed by the party that started the plan');
    }
    if (state && pending) {
      // Voted shares are kept, not destroyed: see KeyState.aborted.
      await this.#d.keys.put({ ...state, pending: undefined, aborted: [...state.aborted, pending].slice(-16) });
      await this.#d.audit.append('epoch.abort', { planHash, keyId, epoch: pending.epoch });
    }
    if (entry && entry.status.phase !== 'failed') entry.status = { ...entry.status, phase: 'aborted' };
  }

  /**
   * After a restart: a pending epoch's decision is learnt from any party of the plan (a commit
   * decision carries every vote, so it does not matter who forwards it). Returns the keys
   * still undecided.
   */
  async recoverPending(): Promise<string[]> {
    const undecided: string[] = [];
    for (const state of await this.#d.keys.list()) {
      const candidates = [...(state.pending ? [state.pending] : []), ...state.aborted.filter((a) => !state.current || a.epoch > state.current.epoch)];
      for (const pending of candidates) {
        const isAborted = pending !== state.pending;
        let settled = false;
        for (const p of pending.parties) {
          try {
            const d = await callPeer<{ state: string; decision?: CommitDecision; abort?: { coordinator: number; signature: string } }>(
              this.#d.peers, p.endpoint, `/v1/peer/control/decisions/${pending.planHash}`, undefined, { method: 'GET', timeoutMs: 5000, retries: 0 },
            );
            if (d.state === 'commit' && d.decision) {
              await this.commit(state.keyId, d.decision);
              settled = true;
            } else if (d.state === 'abort' && d.abort && !isAborted) {
              await this.abort(state.keyId, { planHash: pending.planHash, ...d.abort });
              settled = true;
            }
          } catch {
            // that peer does not know (or is down): ask the next one
          }
          if (settled) break;
        }
        if (!settled && !isAborted) undecided.push(state.keyId);
      }
    }
    return undecided;
  }

  /**
   * Step 4, on this party's own evidence: the old epochs are shredded only when given a valid
   * signature under the current epoch's key over its epoch test message — proof that the new
   * epoch signs — so no peer can make this party destroy its fallback early.
   */
  retire(keyId: string, planHash: string, testSignature: { r: string; s: string }, reshare?: { plan: unknown; approvals: unknown }): Promise<void> {
    return this.#serial(keyId, () => this.#retire(keyId, planHash, testSignature, reshare));
  }

  async #retire(keyId: string, planHash: string, testSignature: { r: string; s: string }, reshare?: { plan: unknown; approvals: unknown }): Promise<void> {
    const state = await this.#d.keys.get(keyId);
    if (state?.left?.planHash === planHash) return;
    if (state?.current && state.current.planHash !== planHash && reshare !== undefined) return this.#leave(state, planHash, testSignature, reshare);
    if (!state?.current || state.current.planHash !== planHash) throw new PlanError('E_UNKNOWN_PLAN', `plan is not the current epoch of ${keyId}`);
    checkTestSignature(keyId, state.current.epoch, planHash, state.current.xpub, testSignature);
    if (state.retiredBelow >= state.current.epoch) return;
    this.#d.checkpoint?.('participant.before-retire');
    await this.#d.shards.retireBelow(keyId, state.current.epoch);
    await this.#d.keys.put({ ...state, retiredBelow: state.current.epoch });
    await this.#d.audit.append('epoch.retire', { planHash, keyId, below: state.current.epoch });
    const entry = this.#plans.get(planHash);
    if (entry) entry.status = { ...entry.status, phase: 'retired' };
  }

  /**
   * An old holder that a reshare left out shreds its share, on its own evidence: the approved
   * plan (it names this party among the previous holders and not among the new ones, and
   * reshares exactly the epoch held here) and a signature by the key under the new epoch.
   */
  async #leave(state: KeyState, planHash: string, testSignature: { r: string; s: string }, proof: { plan: unknown; approvals: unknown }): Promise<void> {
    const current = state.current!;
    const verified = this.#d.verify(proof.plan, proof.approvals, state, { allowExpired: true });
    const { plan } = verified;
    if (hex(verified.planHash) !== planHash) throw new PlanError('E_PLAN_INVALID', 'the plan given does not hash to the plan being retired');
    const me = hex(this.#d.identityKey);
    if (plan.protocol !== 'reshare' || plan.parties.some((p) => p.identityKey === me) || plan.previous?.epoch !== current.epoch) {
      throw new PlanError('E_PLAN_INVALID', `the plan does not move key ${state.keyId} away from this party's epoch ${current.epoch}`);
    }
    // A reshare keeps the public key and chain code: the new epoch's signature verifies under the key held here.
    checkTestSignature(state.keyId, plan.epoch, planHash, current.xpub, testSignature);
    this.#d.checkpoint?.('participant.before-leave');
    await this.#d.shards.retireBelow(state.keyId, plan.epoch);
    await this.#d.keys.put({ ...state, current: undefined, pending: undefined, aborted: [], retiredBelow: plan.epoch, left: { epoch: plan.epoch, planHash } });
    await this.#d.audit.append('key.left', { planHash, keyId: state.keyId, below: plan.epoch });
    this.#d.epochChanged?.(state.keyId);
    const entry = this.#plans.get(planHash);
    if (entry) entry.status = { ...entry.status, phase: 'left' };
  }
}

/** Refuses unless (r, s) is a valid signature over the epoch test message under the key's reserved epoch test path. */
function checkTestSignature(keyId: string, epoch: number, planHash: string, xpub: string, testSignature: { r: string; s: string }): void {
  const digest = sha256(new TextEncoder().encode(epochTestMessage(keyId, epoch, planHash)));
  const compact = new Uint8Array(Buffer.from(testSignature.r + testSignature.s, 'hex'));
  let valid = false;
  try {
    valid = compact.length === 64 && secp256k1.verify(compact, digest, epochTestPublicKey(xpub), { prehash: false });
  } catch {
    valid = false;
  }
  if (!valid) throw new PlanError('E_BAD_SIGNATURE', 'the epoch test signature does not verify under the key');
}

export function verifyDecision(decision: CommitDecision, pending: PendingInfo): void {
  if (decision.transcriptHash !== pending.transcriptHash) throw new PlanError('E_DECISION_INVALID', 'the decision is for another transcript than the one this party sealed');
  const planHash = unhex(decision.planHash);
  const th = unhex(decision.transcriptHash);
  const c = decision.coordinator;
  const by = pending.parties.find((p) => p.index === c?.party);
  if (!by || (pending.coordinator !== undefined && pending.coordinator !== c.party) || !/^[0-9a-f]{128}$/.test(c.signature)
    || !protocols.verifyIdentitySignature(unhex(by.identityKey), commitBytes(planHash, th, c.party), unhex(c.signature))) {
    throw new PlanError('E_DECISION_INVALID', 'the decision is not signed by the party that started the plan');
  }
  for (const p of pending.parties) {
    const v = decision.votes.find((x) => x.party === p.index);
    if (!v || v.transcriptHash !== decision.transcriptHash || !/^[0-9a-f]{128}$/.test(v.signature)) throw new PlanError('E_DECISION_INVALID', `vote of party ${p.index} is missing`);
    if (!protocols.verifyIdentitySignature(unhex(p.identityKey), voteBytes(planHash, th, p.index), unhex(v.signature))) {
      throw new PlanError('E_DECISION_INVALID', `vote of party ${p.index} is not signed by its identity key`);
    }
  }
}

function epochInfo(share: KeyShare, planHash: string, plan: PlanView) {
  const pub = share.public;
  return {
    epoch: pub.epoch,
    planHash,
    publicKey: hex(pub.publicKey.toBytes(true)),
    xpub: hd.xpub(pub.publicKey, pub.chainCode),
    threshold: pub.threshold,
    parties: plan.parties.map((p) => ({ index: p.index, identityKey: p.identityKey, endpoint: p.endpoint })),
  };
}

export interface ErrorInfo {
  readonly code: string;
  readonly message: string;
  readonly culprits?: readonly number[];
  readonly protocol?: string;
  readonly round?: number;
}

/** What an error may say to a peer or an API client: its code and message, never values. */
export function describeError(e: unknown): ErrorInfo {
  if (e instanceof protocols.ProtocolAbort) return { code: 'E_PROTOCOL_ABORT', message: `${e.protocol} round ${e.round}: ${e.reason}`, culprits: [...e.culprits], protocol: e.protocol, round: e.round };
  if (e instanceof protocols.RoundTimeout) return { code: 'E_ROUND_TIMEOUT', message: e.message };
  if (e instanceof PlanError && e.culprits !== undefined) return { code: e.code, message: e.message, culprits: [...e.culprits] };
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'E_INTERNAL';
  return { code, message: e instanceof Error ? e.message : 'failed' };
}
