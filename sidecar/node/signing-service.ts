/**
 * Signing (DESIGN §3 "Signing takes a message", §4 "Signing API"): the node that receives a
 * request assembles t signers (itself among them; signer-sets.ts chooses which, around sets
 * quarantined after repeated unattributed aborts and parties that are unavailable now,
 * peer-health.ts), takes a pooled presignature bound to (key, epoch, signers, path) — or presigns
 * on demand — and asks the other signers to sign. Every signer checks its own policy and consumes
 * its presignature before its partial signature leaves, so a presignature is never used twice.
 * `requestId` makes retries idempotent.
 *
 * Failover (issue 11 item 1, issue 16 item 6): every call to a co-signer has a deadline and the
 * online round as a whole has SIGN_DEADLINE_MS, so a co-signer that dies or stops answering
 * fails the attempt in seconds (PeerUnresponsive) and the local session is closed at once. The
 * request is then tried once more with another signer set chosen without that party, and a
 * fresh presignature of that set. This is safe because nothing of the failed attempt survives
 * it: its presignature was consumed by every signer that received the request (and closed here),
 * the retry's presignature is bound to the other set and was never used, and this party's policy
 * is charged once per request (`release`). A refusal (policy), an abort and every other error
 * answer as before: only a co-signer that gave no answer is routed around.
 */
import { createHash } from 'node:crypto';
import { protocols } from '../../cggmp/index.ts';
import { decodeMessage, type SignatureRequest, type SignatureResponse } from '../../api/signing.ts';
import type { RefusalSink } from '../audit/index.ts';
import type { KeyState, KeyStateStore } from './key-state.ts';
import { callCoSigner, isVerdict, PEER_ABORT_GRACE_MS, PeerCallError, PeerUnresponsive, silentCoSigner, type CoSigner, type NoAnswer, type PeerRequester } from './peer-client.ts';
import type { PeerHealth } from './peer-health.ts';
import { PlanError } from './plan-error.ts';
import type { PoolEntry, PresignPool } from './presign-pool.ts';
import type { Presigner } from './presigner.ts';
import { SignersUnavailable, type SignerSets } from './signer-sets.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A policy refused the request: `rule` names which (path, rate, time-window, approvals). */
export class PolicyDenied extends Error {
  readonly code = 'E_POLICY_DENIED';
  readonly rule: string;
  readonly party: number | undefined;
  override readonly name = 'PolicyDenied';
  constructor(rule: string, message: string, party?: number) {
    super(message);
    this.rule = rule;
    this.party = party;
  }
}

export interface SigningPolicyCheck {
  /** Throws PolicyDenied; returns what records the release against the rate limits. */
  check(
    state: KeyState,
    req: { derivationPath: string; digest: Uint8Array; requestId: string; approvals: SignatureRequest['approvals']; approvalsExpireAt?: string | undefined; message?: Uint8Array; prehashed?: boolean },
  ): () => void;
}

export interface SigningHooks {
  signed?(keyId: string, seconds: number): void;
  failed?(keyId: string, outcome: 'denied' | 'error'): void;
  denied?(keyId: string, rule: string): void;
  /** A request is tried again with `to` because a co-signer of `from` gave no answer. */
  failover?(keyId: string, reason: NoAnswer, from: readonly number[], to: readonly number[], party: number): void;
  audit(kind: string, data: Record<string, unknown>): Promise<unknown>;
  /** A request at this path passed the policy (the pool refill keeps hot paths warm, hot-paths.ts). */
  requested?(keyId: string, derivationPath: string): void;
  /** The first attempt of a request found a pooled presignature (`hit`) or presigned (`miss`). */
  pool?(keyId: string, result: 'hit' | 'miss'): void;
}

/** What a signer receives from the assembling node. */
export interface PartialRequest {
  readonly keyId: string;
  readonly epoch: number;
  readonly sid: string;
  readonly signers: readonly number[];
  readonly derivationPath: string;
  readonly request: SignatureRequest;
}

const MAX_IDEMPOTENCY_ENTRIES = 10_000;
/** Attempts of one request with one signer set when a signer no longer has the pooled presignature (it restarted). */
const MAX_SIGN_ATTEMPTS = 3;
/** Signer sets one request may use: the first, and one more after a co-signer gave no answer. */
const MAX_SIGNER_SETS = 2;
/**
 * Deadline of the online round from a presignature, as the assembling node sees it: both its
 * call to each co-signer's /sign and its own round (closed at the deadline). The round is one
 * message each way; a co-signer's /sign does a policy check, consumes its presignature, runs the
 * round and appends one HSM-signed audit line. A whole warm API request — all of that plus the
 * client's HTTPS call — took 22 ms p50 and 30 ms p99 here at a quiet moment, 34 ms and 118 ms
 * with the shared 2-core machine loaded (`npm run bench` api-sign warm). 5 s is 40 times the
 * worst of those: only a co-signer that has stopped answering misses it, and the request then
 * fails over (issue 16 item 6: it used to wait for the round timeout, 120 s by default).
 */
export const SIGN_DEADLINE_MS = 5_000;

/** A co-signer's answer that it holds no half of the presignature asked for (it restarted since, say). */
class PresignatureLostAt extends PeerCallError {
  readonly party: number;
  constructor(e: PeerCallError, party: number) {
    super(e.status, e.code, e.message, e.details);
    this.party = party;
  }
}

export interface SigningServiceDeps {
  readonly identityKey: Uint8Array;
  readonly keys: KeyStateStore;
  readonly pool: PresignPool;
  readonly presigner: Presigner;
  readonly peers: PeerRequester;
  readonly policy: SigningPolicyCheck;
  readonly hooks: SigningHooks;
  /** Chooses the signer set; counts the sign round's unattributed aborts per set. */
  readonly signerSets: Pick<SignerSets, 'choose' | 'recordAbort'>;
  /** Policy denials, counted per caller, key and rule (a flood of denied requests costs bounded lines). */
  readonly refusals: RefusalSink;
  /** Which co-signers may be asked now (rechecked by a ping when none are); hears of those that gave no answer. */
  readonly health: Pick<PeerHealth, 'unavailable' | 'failed' | 'recheck'>;
  /** The online round (protocols.sign); unit tests stand in for it. */
  readonly signRound?: typeof protocols.sign;
  /** Test-only crash points (DESIGN §7); the sidecar binary never sets this. */
  readonly checkpoint?: (name: string) => void;
}

/** The caller of signatures this node asks for itself (the epoch test signature of a rotation). */
export const SELF_CALLER = 'self';

export class SigningService {
  readonly #d: SigningServiceDeps;
  readonly #requests = new Map<string, { fingerprint: string; result: Promise<SignatureResponse> }>();

  constructor(deps: SigningServiceDeps) {
    this.#d = deps;
  }

  /**
   * The API entry: idempotent on (keyId, requestId); a different body under the same id is
   * refused. `caller` is the client's identity, which a policy denial is counted under.
   */
  sign(keyId: string, req: SignatureRequest, caller: string = SELF_CALLER): Promise<SignatureResponse> {
    const id = `${keyId}\u0000${req.requestId}`;
    const fingerprint = createHash('sha256').update(JSON.stringify([req.message, req.encoding, req.hash, req.derivationPath ?? 'm'])).digest('hex');
    const known = this.#requests.get(id);
    if (known) {
      if (known.fingerprint !== fingerprint) return Promise.reject(new PlanError('E_REQUEST_CONFLICT', `requestId ${req.requestId} was used for another request`));
      return known.result;
    }
    const result = this.#assemble(keyId, req, caller);
    this.#requests.set(id, { fingerprint, result });
    // A failed request may be retried under the same id; a signed one answers the same forever (bounded).
    result.catch(() => this.#requests.delete(id));
    if (this.#requests.size > MAX_IDEMPOTENCY_ENTRIES) this.#requests.delete(this.#requests.keys().next().value as string);
    return result;
  }

  async #current(keyId: string): Promise<{ state: KeyState; current: NonNullable<KeyState['current']>; self: number }> {
    const state = await this.#d.keys.get(keyId);
    if (!state?.current) throw new PlanError('E_UNKNOWN_KEY', `key ${keyId} is not known here`);
    const self = state.current.parties.find((p) => p.identityKey === hex(this.#d.identityKey))?.index;
    if (self === undefined) throw new PlanError('E_UNKNOWN_KEY', `this party holds no share of ${keyId}`);
    return { state, current: state.current, self };
  }

  #checkPolicy(state: KeyState, req: SignatureRequest, digest: Uint8Array, message: Uint8Array, caller: string): () => void {
    try {
      return this.#d.policy.check(state, { derivationPath: req.derivationPath ?? 'm', digest, requestId: req.requestId, approvals: req.approvals, approvalsExpireAt: req.approvalsExpireAt, message, prehashed: req.hash === 'none' });
    } catch (e) {
      if (e instanceof PolicyDenied) {
        this.#d.hooks.denied?.(state.keyId, e.rule);
        // Counted by key (one this party holds) and rule; the request id and digest are detail.
        void this.#d.refusals.refused('policy.denied', caller, { keyId: state.keyId, rule: e.rule }, { requestId: req.requestId, digest: hex(digest) }).catch(() => undefined);
      }
      throw e;
    }
  }

  async #assemble(keyId: string, req: SignatureRequest, caller: string): Promise<SignatureResponse> {
    const started = performance.now();
    try {
      const { state, current, self } = await this.#current(keyId);
      const message = decodeMessage(req.message, req.encoding);
      const digest = digestOf(message, req);
      const release = this.#checkPolicy(state, req, digest, message, caller);
      const derivationPath = req.derivationPath ?? 'm';
      if (req.hash !== 'none') this.#d.hooks.requested?.(keyId, derivationPath);
      const holders = { parties: current.parties.map((p) => p.index), threshold: current.threshold };
      // This party's limits are charged once per request, whichever attempt's partial signature leaves.
      let released = false;
      const releaseOnce = (): void => {
        if (!released) release();
        released = true;
      };
      const gone = new Set<number>();
      let failed: { error: PeerUnresponsive; signers: readonly number[] } | undefined;
      let rechecked = false;
      for (let set = 1; ; set++) {
        let signers: number[];
        try {
          signers = this.#choose(keyId, holders, self, current.parties, gone);
        } catch (e) {
          // Nobody to fail over to: the co-signer that gave no answer is the answer.
          if (failed && e instanceof SignersUnavailable) throw failed.error;
          if (!(e instanceof SignersUnavailable) || rechecked) throw e;
          // The health record is about the past (peer-health.ts): ask the peers it leaves out now.
          rechecked = true;
          await this.#d.health.recheck(current.parties.filter((p) => p.index !== self));
          signers = this.#choose(keyId, holders, self, current.parties, gone);
        }
        if (failed) this.#d.hooks.failover?.(keyId, failed.error.reason, failed.signers, signers, failed.error.party);
        let sig: protocols.EcdsaSignature;
        try {
          sig = await this.#signWithSet({ keyId, current, self, signers, derivationPath, req, message, digest, release: releaseOnce });
        } catch (e) {
          if (!(e instanceof PeerUnresponsive) || set >= MAX_SIGNER_SETS) throw e;
          gone.add(e.party);
          failed = { error: e, signers };
          continue;
        }
        const out = response(keyId, req, message, sig, derivationPath, current.epoch);
        this.#d.hooks.signed?.(keyId, (performance.now() - started) / 1000);
        await this.#d.hooks.audit('signature', { keyId, requestId: req.requestId, digest: out.digest, r: out.r, s: out.s, epoch: out.epoch, signers: out.signers, derivationPath });
        return out;
      }
    } catch (e) {
      this.#d.hooks.failed?.(keyId, e instanceof PolicyDenied ? 'denied' : 'error');
      throw e;
    }
  }

  #choose(keyId: string, holders: { parties: number[]; threshold: number }, self: number, parties: NonNullable<KeyState['current']>['parties'], gone: ReadonlySet<number>): number[] {
    return this.#d.signerSets.choose(keyId, holders, self, { unavailable: new Set([...this.#d.health.unavailable(parties), ...gone]) });
  }

  /** One signer set's attempts at a request: a presignature of the set (pooled or fresh), then the online round. */
  async #signWithSet(a: {
    keyId: string;
    current: NonNullable<KeyState['current']>;
    self: number;
    signers: readonly number[];
    derivationPath: string;
    req: SignatureRequest;
    message: Uint8Array;
    digest: Uint8Array;
    release: () => void;
  }): Promise<protocols.EcdsaSignature> {
    const { keyId, current, self, signers, derivationPath, req } = a;
    const prehashed = req.hash === 'none';
    // The digest-only path never takes a pooled presignature: it presigns for this digest.
    const subject = { keyId, epoch: current.epoch, signers, derivationPath, ...(prehashed ? { boundDigest: hex(a.digest) } : {}) };
    const others: CoSigner[] = current.parties.filter((p) => signers.includes(p.index) && p.index !== self).map((p) => ({ index: p.index, identityKey: p.identityKey, endpoint: p.endpoint }));
    for (let attempt = 1; ; attempt++) {
      let entry = prehashed || attempt > 1 ? undefined : this.#d.pool.takeFor(keyId, current.epoch, signers, derivationPath);
      if (!prehashed && attempt === 1) this.#d.hooks.pool?.(keyId, entry ? 'hit' : 'miss');
      if (!entry) {
        const sid = await this.#d.presigner.run(subject);
        entry = this.#d.pool.take(sid);
        if (!entry) throw new PlanError('E_PRESIGNATURE_UNAVAILABLE', 'the fresh presignature was taken meanwhile');
      }
      a.release();
      const partial: PartialRequest = { keyId, epoch: current.epoch, sid: entry.sid, signers: [...signers], derivationPath, request: req };
      try {
        return await this.#online(entry, others, partial, a.message);
      } catch (e) {
        // A signer that restarted lost its half of every pooled presignature made with it. The
        // one taken here is consumed everywhere (never used again), so signing the same request
        // with a fresh presignature is safe; what this node pooled with that signer is dropped and refilled.
        if (e instanceof PresignatureLostAt && attempt < MAX_SIGN_ATTEMPTS) {
          this.#d.pool.dropWith(keyId, e.party);
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * The online round with one presignature: this node's own round and a /sign call to each
   * co-signer, all within SIGN_DEADLINE_MS. A co-signer's failed call ends the local round at once
   * (after PEER_ABORT_GRACE_MS when it announced an abort, so that this node's own verdict is the
   * one counted); the deadline ends it otherwise. Then the most telling error is thrown: a policy
   * denial, this node's own abort, a co-signer's error answer or lack of one, and last a round
   * that ended without a co-signer's message (PeerUnresponsive for the first such co-signer).
   */
  async #online(taken: PoolEntry, others: readonly CoSigner[], partial: PartialRequest, message: Uint8Array): Promise<protocols.EcdsaSignature> {
    const deadline = setTimeout(() => taken.close(), SIGN_DEADLINE_MS);
    deadline.unref();
    const local = this.#signWith(taken, message, partial.request);
    const remote = others.map((p) =>
      callCoSigner<unknown>(this.#d.peers, this.#d.health, p, '/v1/peer/control/sign', partial, SIGN_DEADLINE_MS).catch((e: unknown) => {
        // One signer refusing or gone ends the session for everyone: the local round would only
        // time out. One that aborted the round leaves this node's own round its verdict first.
        if (e instanceof PeerCallError && e.code === 'E_PROTOCOL_ABORT') setTimeout(() => taken.close(), PEER_ABORT_GRACE_MS).unref();
        else taken.close();
        if (e instanceof PeerCallError && e.code === 'E_POLICY_DENIED') throw new PolicyDenied(String(e.details.rule ?? 'unknown'), `party ${p.index} denied the request (rule ${String(e.details.rule ?? 'unknown')})`, p.index);
        if (e instanceof PeerCallError && e.code === 'E_PRESIGNATURE_UNAVAILABLE') throw new PresignatureLostAt(e, p.index);
        throw e;
      }),
    );
    // A signature made here needs every co-signer's partial signature, so each of them released
    // it: the answers to their calls add nothing then (a co-signer that died right after is
    // still reported to the health record by callCoSigner).
    for (const r of remote) r.catch(() => undefined);
    try {
      return await local;
    } catch (localError) {
      const errors = (await Promise.allSettled(remote)).flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      const denied = errors.find((e) => e instanceof PolicyDenied);
      if (denied) throw denied;
      if (isVerdict(localError)) throw localError;
      const answer = errors.find((e) => e instanceof PresignatureLostAt) ?? errors.find((e) => e instanceof PeerUnresponsive) ?? errors[0];
      if (answer !== undefined) throw answer;
      throw silentCoSigner(localError, others, this.#d.health, 'the sign round') ?? localError;
    } finally {
      clearTimeout(deadline);
    }
  }

  async #signWith(entry: PoolEntry, message: Uint8Array, req: SignatureRequest): Promise<protocols.EcdsaSignature> {
    try {
      const request: protocols.SignRequest = req.hash === 'none' ? { digest: message } : { message, hash: req.hash };
      return await (this.#d.signRound ?? protocols.sign)(entry.session, entry.presignature, request);
    } catch (e) {
      if (e instanceof protocols.ProtocolAbort) this.#d.signerSets.recordAbort(entry.keyId, entry.signers, 'sign', e);
      throw e;
    } finally {
      entry.close();
    }
  }

  /**
   * A signer's side: policy, then consume the presignature of `sid`, then the online round.
   * `caller`: the assembling node's identity. An abort of `signal` (the assembling node's call
   * went away) ends the round at once.
   */
  async participate(p: PartialRequest, caller: string, opts: { signal?: AbortSignal } = {}): Promise<{ ok: true }> {
    const { state, current } = await this.#current(p.keyId);
    if (current.epoch !== p.epoch) throw new PlanError('E_EPOCH_MISMATCH', `key ${p.keyId} is at epoch ${current.epoch}`);
    const message = decodeMessage(p.request.message, p.request.encoding);
    const digest = digestOf(message, p.request);
    if ((p.request.derivationPath ?? 'm') !== p.derivationPath) throw new PlanError('E_BINDING_MISMATCH', 'derivation path differs from the request');
    const release = this.#checkPolicy(state, p.request, digest, message, caller);
    // The assembling node may finish presigning a moment before this party does.
    await this.#d.presigner.settled(p.sid);
    const entry = this.#d.pool.take(p.sid);
    if (!entry) throw new PlanError('E_PRESIGNATURE_UNAVAILABLE', 'no such presignature here (used, dropped at an epoch change, or never made)');
    // The presignature is consumed whatever happens next; it must match what the request says.
    const wantBound = p.request.hash === 'none' ? hex(digest) : undefined;
    if (entry.keyId !== p.keyId || entry.epoch !== p.epoch || entry.derivationPath !== p.derivationPath || entry.signers.join(',') !== p.signers.join(',') || entry.boundDigest !== wantBound) {
      entry.close();
      throw new PlanError('E_BINDING_MISMATCH', 'the presignature is bound to another key, epoch, signer set, path or digest');
    }
    release();
    this.#d.checkpoint?.('sign.consumed');
    if (opts.signal?.aborted) entry.close();
    opts.signal?.addEventListener('abort', () => entry.close(), { once: true });
    const sig = await this.#signWith(entry, message, p.request);
    await this.#d.hooks.audit('signature.partial', { keyId: p.keyId, requestId: p.request.requestId, digest: hex(sig.digest), epoch: p.epoch, signers: [...p.signers] });
    return { ok: true };
  }
}

/** The digest a request signs: the message hashed by this party, or the given digest (hash "none"). */
function digestOf(message: Uint8Array, req: SignatureRequest): Uint8Array {
  return req.hash === 'none' ? message : protocols.hashMessage(message, req.hash);
}

function response(keyId: string, req: SignatureRequest, message: Uint8Array, sig: protocols.EcdsaSignature, derivationPath: string, epoch: number): SignatureResponse {
  return {
    keyId,
    requestId: req.requestId,
    message: hex(message),
    hash: req.hash,
    digest: hex(sig.digest),
    r: sig.r.toString(16).padStart(64, '0'),
    s: sig.s.toString(16).padStart(64, '0'),
    recoveryId: sig.recoveryId,
    v: 27 + (sig.recoveryId & 1),
    der: hex(sig.der),
    publicKey: hex(sig.publicKey.toBytes(true)),
    derivationPath,
    epoch,
    signers: [...sig.signers],
  };
}
