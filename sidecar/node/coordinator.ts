/**
 * The coordinator of a plan (DESIGN §4 "Epoch switch"): any node can coordinate a plan it is a
 * party of. It gathers every party's signed nonce, starts the protocol everywhere, collects the
 * prepared votes, records the decision durably *before* sending it, sends it until every party
 * acknowledged, checks a test signature under the new epoch, and only then retires the old
 * epoch everywhere. Restarted, it resumes every recorded decision (commit → resend, undecided →
 * abort), so a crash at any step ends in one agreed epoch.
 */
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { protocols } from '../../cggmp/index.ts';
import { abortBytes, commitBytes, startBytes, voteBytes } from './statements.ts';
import { readJson, writeJsonAtomic } from './atomic-json.ts';
import { callPeer, PeerCallError, type PeerRequester } from './peer-client.ts';
import { describeError, type ErrorInfo, type CommitDecision, type PlanStatus, type Vote } from './plan-participant.ts';
import { PlanError } from './plan-error.ts';
import { leavingParties, planMembers, type PlanView } from './plan-view.ts';

const POLL_MS = 300;
/** Retries of the test signature under a new epoch before the coordinator reports failure. */
const TEST_SIGNATURE_ATTEMPTS = 12;
/** After a party failed, how long the others may take to stop before the failure is reported. */
const FAILURE_SETTLE_MS = 5000;
/**
 * As long, when no failure so far names a culprit: the party that caught the culprit may still be
 * announcing its abort (slow under load) while the others have already adopted it unattributed.
 */
const UNATTRIBUTED_SETTLE_MS = 60_000;
/** How long a plan's protocol may take before the coordinator gives up and aborts it. */
const RUN_DEADLINE_MS = 20 * 60_000;
/**
 * Attempts to tell an old holder that a reshare left out to shred its share. Bounded: a reshare
 * is also how a lost party is removed, and the new epoch must not wait for it.
 */
const LEAVER_RETIRE_ATTEMPTS = 8;

/** A signature (r, s hex) under the new epoch over its epoch test message. */
export interface TestSignature {
  readonly r: string;
  readonly s: string;
}

export type CeremonyPhase = 'preparing' | 'running' | 'committing' | 'verifying' | 'retiring' | 'done' | 'aborted';

export interface DecisionRecord {
  readonly planHash: string;
  readonly plan: PlanView;
  readonly approvals: unknown;
  readonly state: 'undecided' | 'commit' | 'abort' | 'done';
  readonly decision?: CommitDecision;
  readonly abort?: { readonly coordinator: number; readonly signature: string };
  readonly error?: ErrorInfo;
  readonly result?: PlanStatus['result'];
  readonly epochBefore?: number;
  /** Reshare: the proof leavers need, and the leavers not yet told (retried at every start). */
  readonly testSignature?: TestSignature;
  readonly notRetired?: readonly number[];
}

export interface CeremonyStatus {
  readonly planHash: string;
  readonly keyId: string;
  readonly protocol: string;
  readonly phase: CeremonyPhase;
  /** While running: the sub-protocol every new holder has reached (the operator shows it). */
  readonly step?: PlanStatus['step'];
  readonly result?: PlanStatus['result'];
  readonly error?: ErrorInfo;
  readonly timingsMs: Record<string, number>;
  /** Reshare: old holders left out that could not be told to shred their share (they still hold it). */
  readonly notRetired?: readonly number[];
}

export interface CoordinatorDeps {
  readonly dir: string;
  readonly identityKey: Uint8Array;
  readonly sign: (message: Uint8Array) => Promise<Uint8Array>;
  readonly peers: PeerRequester;
  readonly planHash: (plan: unknown) => string;
  /** This node's own check of the plan and its approvals (sidecar/trust), before anything is recorded or sent. */
  readonly verify: (plan: unknown, approvals: unknown) => Promise<void>;
  readonly audit: (kind: string, data: Record<string, unknown>) => Promise<unknown>;
  /** Signs a test message under the key's new epoch through the signing path; throws if it fails. */
  readonly testSignature: (keyId: string, epoch: number) => Promise<TestSignature>;
  /** Test-only crash points (a test entry point injects them; the sidecar binary never does). */
  readonly checkpoint?: (name: string) => void;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

export class Coordinator {
  readonly #d: CoordinatorDeps;
  readonly #status = new Map<string, CeremonyStatus>();
  readonly #running = new Map<string, Promise<void>>();

  constructor(deps: CoordinatorDeps) {
    this.#d = deps;
  }

  #file(planHash: string): string {
    return path.join(this.#d.dir, `${planHash}.json`);
  }

  async record(planHash: string): Promise<DecisionRecord | undefined> {
    if (!/^[0-9a-f]{64}$/.test(planHash)) return undefined;
    return (await readJson(this.#file(planHash))) as DecisionRecord | undefined;
  }

  /** How a plan stands: in memory while this process drives it, else from its record (after a restart). */
  async status(planHash: string): Promise<CeremonyStatus | undefined> {
    const live = this.#status.get(planHash);
    if (live) return live;
    const r = await this.record(planHash);
    return r ? { ...this.#fromRecord(r), ...(r.notRetired?.length ? { notRetired: r.notRetired } : {}) } : undefined;
  }

  /** Starts driving a plan in the background; the plan is verified by every party, this one included. */
  async start(plan: PlanView, approvals: unknown): Promise<CeremonyStatus> {
    const planHash = this.#d.planHash(plan);
    const self = plan.parties.find((p) => p.identityKey === hex(this.#d.identityKey));
    // A new holder: the coordinator proves the new epoch by signing with it before anything is retired.
    if (!self) throw new PlanError('E_IDENTITY_MISMATCH', 'a coordinator must be one of the plan\'s (new) parties');
    // A plan this node already took on (its record is written only after the approvals verified)
    // answers how it stands, even once it has expired: asking again starts nothing.
    const known = await this.status(planHash);
    if (known) return known;
    // Unapproved or expired plans are refused here, before anything is written or any peer called.
    await this.#d.verify(plan, approvals);
    if (this.#status.has(planHash)) return this.#status.get(planHash)!; // a concurrent start won
    const status: CeremonyStatus = { planHash, keyId: plan.keyId, protocol: plan.protocol, phase: 'preparing', timingsMs: {} };
    this.#status.set(planHash, status);
    await writeJsonAtomic(this.#file(planHash), { planHash, plan, approvals, state: 'undecided' } satisfies DecisionRecord);
    this.#launch(planHash, () => this.#drive(planHash, plan, approvals));
    return status;
  }

  #fromRecord(r: DecisionRecord): CeremonyStatus {
    const phase: CeremonyPhase = r.state === 'done' ? 'done' : r.state === 'abort' ? 'aborted' : r.state === 'commit' ? 'committing' : 'running';
    return { planHash: r.planHash, keyId: r.plan.keyId, protocol: r.plan.protocol, phase, ...(r.result ? { result: r.result } : {}), ...(r.error ? { error: r.error } : {}), timingsMs: {} };
  }

  #launch(planHash: string, fn: () => Promise<void>): void {
    const p = fn()
      .catch(async (e: unknown) => {
        this.#set(planHash, { phase: 'aborted', error: describeError(e) });
      })
      .finally(() => this.#running.delete(planHash));
    this.#running.set(planHash, p);
  }

  /** Resumes every recorded plan that is not finished (after a restart). */
  async resume(): Promise<void> {
    let files: string[];
    try {
      files = await readdir(this.#d.dir);
    } catch {
      return;
    }
    for (const f of files) {
      const m = /^([0-9a-f]{64})\.json$/.exec(f);
      if (!m) continue;
      const r = await this.record(m[1]!);
      if (r?.state === 'done' && r.notRetired?.length && r.testSignature) {
        this.#status.set(r.planHash, { ...this.#fromRecord(r), notRetired: r.notRetired });
        const { testSignature } = r;
        // The ceremony is done; a failed retry changes nothing and is tried again at the next start.
        void this.#retireLeavers(r, testSignature).catch(() => undefined);
      }
      if (!r || r.state === 'done') continue;
      this.#status.set(r.planHash, this.#fromRecord(r));
      if (r.state === 'commit') this.#launch(r.planHash, () => this.#finish(r));
      else this.#launch(r.planHash, () => this.#abortEverywhere(r.planHash, r.plan, r.approvals, { code: 'E_COORDINATOR_RESTARTED', message: 'the coordinator restarted before deciding' }));
    }
  }

  #set(planHash: string, patch: Partial<CeremonyStatus>): void {
    const s = this.#status.get(planHash);
    if (s) this.#status.set(planHash, { ...s, ...patch });
  }

  #time(planHash: string, step: string, ms: number): void {
    const s = this.#status.get(planHash);
    if (s) this.#status.set(planHash, { ...s, timingsMs: { ...s.timingsMs, [step]: Math.round(ms) } });
  }

  async #drive(planHash: string, plan: PlanView, approvals: unknown): Promise<void> {
    let t0 = performance.now();
    let nonces: { party: number; nonce: string; signature: string; planHash: string }[];
    try {
      nonces = await Promise.all(planMembers(plan).map((p) => callPeer<{ party: number; nonce: string; signature: string; planHash: string }>(this.#d.peers, p.endpoint, '/v1/peer/control/plans', { plan, approvals })));
    } catch (e) {
      // A party refused the plan: nothing was started anywhere.
      const error = describeError(e);
      await writeJsonAtomic(this.#file(planHash), { planHash, plan, approvals, state: 'abort', error } satisfies DecisionRecord);
      this.#set(planHash, { phase: 'aborted', error });
      return;
    }
    if (nonces.some((n) => n.planHash !== planHash)) throw new PlanError('E_PLAN_INVALID', 'parties disagree on the plan hash');
    this.#time(planHash, 'prepare', performance.now() - t0);
    t0 = performance.now();
    this.#set(planHash, { phase: 'running' });
    const self = plan.parties.find((p) => p.identityKey === hex(this.#d.identityKey))!.index;
    const coordinator = { party: self, signature: hex(await this.#d.sign(startBytes(new Uint8Array(Buffer.from(planHash, 'hex')), self))) };
    const body = { nonces: nonces.map(({ party, nonce, signature }) => ({ party, nonce, signature })), coordinator };
    await Promise.all(planMembers(plan).map((p) => callPeer(this.#d.peers, p.endpoint, `/v1/peer/control/plans/${planHash}/start`, body)));
    const votes = await this.#collectVotes(planHash, plan);
    this.#time(planHash, 'protocol', performance.now() - t0);
    if (plan.protocol === 'policy' && !('error' in votes)) {
      // A policy plan changes no shares: every party applied it on start; nothing to vote on.
      await writeJsonAtomic(this.#file(planHash), { planHash, plan, approvals, state: 'done' } satisfies DecisionRecord);
      await this.#d.audit('policy.decision', { planHash, keyId: plan.keyId });
      this.#set(planHash, { phase: 'done' });
      return;
    }
    if ('error' in votes) {
      await this.#abortEverywhere(planHash, plan, approvals, votes.error);
      return;
    }
    const transcriptHash = votes.votes[0]!.transcriptHash;
    if (votes.votes.some((v) => v.transcriptHash !== transcriptHash)) {
      await this.#abortEverywhere(planHash, plan, approvals, { code: 'E_TRANSCRIPT_MISMATCH', message: 'parties voted for different public transcripts' });
      return;
    }
    const signature = hex(await this.#d.sign(commitBytes(new Uint8Array(Buffer.from(planHash, 'hex')), new Uint8Array(Buffer.from(transcriptHash, 'hex')), self)));
    const decision: CommitDecision = { planHash, transcriptHash, votes: votes.votes, coordinator: { party: self, signature } };
    const record: DecisionRecord = { planHash, plan, approvals, state: 'commit', decision, result: votes.result, ...(plan.protocol !== 'keygen' ? { epochBefore: plan.epoch - 1 } : {}) };
    // Step 2: the decision is durable before anyone hears of it.
    await writeJsonAtomic(this.#file(planHash), record);
    this.#d.checkpoint?.('coordinator.after-decision');
    await this.#d.audit('epoch.decision', { planHash, keyId: plan.keyId, epoch: plan.epoch, decision: 'commit', transcriptHash });
    await this.#finish(record);
  }

  /** Sends `body` to every party until each acknowledged (parties may be restarting). */
  async #everyone(plan: PlanView, path: string, body: unknown, acknowledged?: (remaining: number) => void): Promise<void> {
    const pending = new Set(plan.parties.map((p) => p.index));
    for (let attempt = 0; pending.size > 0; attempt++) {
      await Promise.all(
        plan.parties.filter((p) => pending.has(p.index)).map((p) =>
          callPeer(this.#d.peers, p.endpoint, path, body)
            .then(() => {
              pending.delete(p.index);
              acknowledged?.(pending.size);
            })
            .catch(() => undefined),
        ),
      );
      if (pending.size > 0) await new Promise((res) => setTimeout(res, Math.min(5000, 200 * 2 ** attempt)));
    }
  }

  /** Best effort, bounded: returns the leavers that never acknowledged. */
  async #tellLeavers(leavers: readonly { index: number; endpoint: string }[], path: string, body: unknown): Promise<number[]> {
    const pending = new Set(leavers.map((p) => p.index));
    for (let attempt = 0; pending.size > 0 && attempt < LEAVER_RETIRE_ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((res) => setTimeout(res, Math.min(5000, 250 * 2 ** attempt)));
      await Promise.all(
        leavers.filter((p) => pending.has(p.index)).map((p) =>
          callPeer(this.#d.peers, p.endpoint, path, body).then(() => pending.delete(p.index)).catch(() => undefined),
        ),
      );
    }
    return [...pending];
  }

  async #collectVotes(planHash: string, plan: PlanView): Promise<{ votes: Vote[]; result: PlanStatus['result'] } | { error: ErrorInfo }> {
    const deadline = Date.now() + RUN_DEADLINE_MS;
    const holders = new Set(plan.parties.map((p) => p.index));
    const members = planMembers(plan);
    let failedSince: number | undefined;
    for (;;) {
      const statuses = await Promise.all(
        members.map((p) =>
          callPeer<PlanStatus>(this.#d.peers, p.endpoint, `/v1/peer/control/plans/${planHash}`, undefined, { method: 'GET' }).catch((e: unknown) => {
            // A new holder that answers but no longer knows the plan restarted before voting:
            // it will never vote, so the plan cannot commit. A leaving dealer has no vote to
            // give: its restart only matters if it had not dealt, and then the holders fail.
            const lost = e instanceof PeerCallError && e.code === 'E_UNKNOWN_PLAN' && holders.has(p.index);
            return { phase: lost ? 'failed' : 'unreachable', error: lost ? { code: 'E_PARTY_RESTARTED', message: `party ${p.index} restarted before voting` } : describeError(e) } as const;
          }),
        ),
      );
      const ofHolders = statuses.filter((_, i) => holders.has(members[i]!.index));
      if (plan.protocol !== 'policy') {
        const inAux = ofHolders.every((s) => ('step' in s && s.step === 'aux-info') || s.phase === 'prepared' || s.phase === 'committed');
        this.#set(planHash, { step: inAux ? 'aux-info' : plan.protocol });
      }
      if (ofHolders.every((s) => s.phase === 'prepared' || s.phase === 'committed')) {
        const ok = ofHolders as PlanStatus[];
        if (plan.protocol === 'policy') return { votes: [], result: ok[0]!.result };
        // Every vote is checked here before a decision is recorded: a decision that the
        // parties would refuse could never be completed, nor replaced by an abort.
        const votes: Vote[] = [];
        for (const [i, p] of plan.parties.entries()) {
          const v = ok[i]!.vote;
          const sound = v !== undefined && v.party === p.index && /^[0-9a-f]{64}$/.test(v.transcriptHash) && /^[0-9a-f]{128}$/.test(v.signature)
            && protocols.verifyIdentitySignature(unhex(p.identityKey), voteBytes(unhex(planHash), unhex(v.transcriptHash), p.index), unhex(v.signature));
          if (!sound) return { error: { code: 'E_VOTE_INVALID', message: `party ${p.index} gave no valid prepared vote`, culprits: [p.index] } };
          votes.push(v);
        }
        return { votes, result: ok[0]!.result };
      }
      const failures = statuses.filter((s) => s.phase === 'failed' || s.phase === 'aborted');
      if (failures.length > 0) {
        // Parties that received another's abort announcement before checking for themselves
        // report it unattributed; wait briefly for every party to stop, and report an error that
        // names culprits when some party attributed the failure itself. A party whose status did
        // not come back (slow under load) may be the one that attributed it: not settled either.
        const running = statuses.some((s) => s.phase === 'running' || s.phase === 'accepted' || s.phase === 'unreachable');
        const attributed = failures.find((s) => (s.error?.culprits?.length ?? 0) > 0);
        failedSince ??= Date.now();
        if (running && Date.now() < failedSince + (attributed ? FAILURE_SETTLE_MS : UNATTRIBUTED_SETTLE_MS)) {
          await new Promise((r) => setTimeout(r, POLL_MS));
          continue;
        }
        return { error: (attributed ?? failures[0]!).error ?? { code: 'E_PLAN_FAILED', message: 'a party failed' } };
      }
      if (Date.now() > deadline) return { error: { code: 'E_ROUND_TIMEOUT', message: 'the plan did not finish in time' } };
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async #abortEverywhere(planHash: string, plan: PlanView, approvals: unknown, error: ErrorInfo): Promise<void> {
    const self = plan.parties.find((p) => p.identityKey === hex(this.#d.identityKey))!.index;
    const signature = hex(await this.#d.sign(abortBytes(new Uint8Array(Buffer.from(planHash, 'hex')), self)));
    await writeJsonAtomic(this.#file(planHash), { planHash, plan, approvals, state: 'abort', error, abort: { coordinator: self, signature } } satisfies DecisionRecord);
    await this.#d.audit('epoch.decision', { planHash, keyId: plan.keyId, decision: 'abort', code: error.code });
    this.#set(planHash, { phase: 'aborted', error });
    await Promise.all(
      planMembers(plan).map((p) => callPeer(this.#d.peers, p.endpoint, `/v1/peer/control/keys/${plan.keyId}/abort`, { planHash, coordinator: self, signature }).catch(() => undefined)),
    );
  }

  /** Steps 3–4 from a recorded commit: send until all acknowledged, test-sign, retire. */
  async #finish(r: DecisionRecord): Promise<void> {
    const { plan, planHash } = r;
    let t0 = performance.now();
    this.#set(planHash, { phase: 'committing', ...(r.result ? { result: r.result } : {}) });
    await this.#everyone(plan, `/v1/peer/control/keys/${plan.keyId}/commit`, r.decision, (remaining) => {
      if (remaining === plan.parties.length - 1) this.#d.checkpoint?.('coordinator.after-first-commit');
    });
    this.#time(planHash, 'commit', performance.now() - t0);
    if (plan.protocol !== 'policy') {
      t0 = performance.now();
      this.#set(planHash, { phase: 'verifying' });
      // The old epoch stays until the new one has signed; a party may be restarting meanwhile.
      let testSignature: TestSignature;
      for (let attempt = 0; ; attempt++) {
        try {
          testSignature = await this.#d.testSignature(plan.keyId, plan.epoch);
          break;
        } catch (e) {
          if (attempt >= TEST_SIGNATURE_ATTEMPTS) throw e;
          await new Promise((res) => setTimeout(res, Math.min(5000, 250 * 2 ** attempt)));
        }
      }
      this.#time(planHash, 'testSignature', performance.now() - t0);
      t0 = performance.now();
      this.#set(planHash, { phase: 'retiring' });
      // Each party checks the test signature itself before it destroys anything.
      if (plan.protocol !== 'keygen') await this.#everyone(plan, `/v1/peer/control/keys/${plan.keyId}/retire`, { planHash, testSignature });
      this.#time(planHash, 'retire', performance.now() - t0);
      if (leavingParties(plan).length > 0) {
        await this.#retireLeavers({ ...r, state: 'done', testSignature, notRetired: leavingParties(plan).map((p) => p.index) }, testSignature);
        this.#set(planHash, { phase: 'done' });
        return;
      }
    }
    await writeJsonAtomic(this.#file(planHash), { ...r, state: 'done' } satisfies DecisionRecord);
    this.#set(planHash, { phase: 'done' });
  }

  /**
   * Tells the old holders a reshare left out (those in r.notRetired) to shred their share; each
   * request carries the plan and approvals, since a leaver that did not deal has no record of
   * it. Those not reached stay in the record and are tried again at every start of this node.
   */
  async #retireLeavers(r: DecisionRecord, testSignature: TestSignature): Promise<void> {
    const { plan, planHash } = r;
    const leavers = leavingParties(plan).filter((p) => r.notRetired?.includes(p.index));
    const notRetired = await this.#tellLeavers(leavers, `/v1/peer/control/keys/${plan.keyId}/retire`, { planHash, testSignature, plan, approvals: r.approvals });
    await writeJsonAtomic(this.#file(planHash), { ...r, state: 'done', testSignature, notRetired } satisfies DecisionRecord);
    this.#set(planHash, notRetired.length > 0 ? { notRetired } : {});
    if (notRetired.length > 0) await this.#d.audit('reshare.leavers-unreached', { planHash, keyId: plan.keyId, parties: notRetired });
  }
}
