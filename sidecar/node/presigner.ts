/**
 * Presigning between the signers of one key (DESIGN §3 "Presignatures"): the initiator asks each
 * signer for a signed fresh nonce, derives the session id from (key id, epoch, ordered signers,
 * derivation path) and every nonce — so a presignature is bound to all of them — and every
 * signer runs presign and keeps the result with its live session in its pool. Every signer counts
 * the unattributed aborts of its presign sessions against their signer set (signer-sets.ts).
 *
 * A signer answers the initiator's start call only once its own run has ended (pooled, or with
 * its error), so the call is open for the whole presignature: a co-signer that dies drops the
 * connection, which fails the call, and the initiator then closes its own session at once instead
 * of waiting for a round timeout (issue 16 item 6); the co-signer's side likewise ends its session
 * when the initiator's call goes away. Each call has a deadline (below) and is sent once.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { hd, parallel, protocols, SECURITY_LEVEL_128, transcript } from '../../cggmp/index.ts';
import type { KeyStateStore } from './key-state.ts';
import { callCoSigner, isVerdict, PEER_ABORT_GRACE_MS, PeerCallError, silentCoSigner, type CoSigner, type NoAnswerSink, type PeerRequester } from './peer-client.ts';
import { PlanError } from './plan-error.ts';
import { nonceBytes } from './statements.ts';
import type { PresignPool } from './presign-pool.ts';
import { deriveSid, type SessionRunner } from './session-runner.ts';
import type { ShardStore } from './shard-store.ts';
import type { SignerSets } from './signer-sets.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/**
 * Outstanding nonces are held per caller: the party that asked for them (its identity key, proven
 * by its TLS binding) or this node itself. A caller that prepares and never starts only churns
 * its own budget: past it, its *oldest* unstarted nonce is dropped for the new one (a start that
 * comes later fails cleanly with E_REPLAY), so nobody else is ever refused and the caller's own
 * honest prepare-then-start works again the moment a flood stops. The node's own presigning (pool
 * refills, cold signatures) has a budget no peer can touch. An honest initiator starts right after
 * it has every signer's nonce, so a nonce also expires after `nonceTtlMs` (the round timeout).
 */
const OWN_CALLER = 'self';
/**
 * Nonces one caller may hold outstanding here: its concurrent presign runs with this node (a
 * burst of cold signatures, refills of several keys). 32 covers the 12-way bursts measured in
 * red-team runs with room to spare.
 */
const MAX_OUTSTANDING_NONCES_PER_CALLER = 32;
/** Callers tracked at once (each party of each key is one); beyond this a new caller is refused. */
const MAX_CALLERS = 256;

/** A caller's oldest nonce dropped for a new one, or a new caller refused (too many hold nonces). */
export type PrepareRefusal = 'evicted_oldest' | 'callers_limit';
/**
 * Deadline of a prepare call: the co-signer checks the subject against its key state and signs a
 * fresh nonce with its HSM identity key — 2 ms median and 32 ms p99 measured here (20 calls over
 * loopback mTLS on the shared 2-core machine). Over 100 times the worst of that, so only a
 * co-signer that is not answering at all misses it.
 */
export const PRESIGN_PREPARE_DEADLINE_MS = 5_000;
/**
 * Deadline of a start call, which lasts the co-signer's whole presignature: three rounds of
 * Paillier proofs, measured here at 1.9 s one presignature at a time, about 8.5 s each while
 * three nodes fill their pools at once, and up to 32 s (p99 of `npm run bench` api-sign
 * sustained) with the shared 2-core machine loaded. Twice the worst seen, half the default round
 * timeout. A co-signer that dies or whose connection drops fails the call at once (a reset, or
 * TCP keep-alive within seconds for a host that vanished: transport client.ts); the deadline
 * only bounds one that keeps its connection and stops working.
 */
export const PRESIGN_START_DEADLINE_MS = 60_000;

export interface PresignSubject {
  readonly keyId: string;
  readonly epoch: number;
  readonly signers: readonly number[];
  readonly derivationPath: string;
  /** Digest-only path: the digest (hex) the presignature is bound to before presigning begins. */
  readonly boundDigest?: string;
}

export function presignSubject(s: PresignSubject): Uint8Array {
  return sha256(transcript.encode('vilna-mpc/presign-subject/v1', [s.keyId, s.epoch, [...s.signers], s.derivationPath, s.boundDigest ?? '']));
}

export interface PresignerDeps {
  readonly identityKey: Uint8Array;
  readonly signer: protocols.Signer;
  readonly keys: KeyStateStore;
  readonly shards: ShardStore;
  readonly runner: SessionRunner;
  readonly pool: PresignPool;
  readonly peers: PeerRequester;
  /** Counts unattributed aborts of presign sessions per signer set. */
  readonly signerSets: Pick<SignerSets, 'recordAbort'>;
  /** How long a prepared nonce waits for its start (the round timeout). */
  readonly nonceTtlMs: number;
  /** A caller's nonce dropped or a caller refused (metrics): never the node's own by another caller. */
  readonly prepareRefused?: (reason: PrepareRefusal) => void;
  /** Hears of co-signers that gave no answer (peer-health.ts). */
  readonly health: NoAnswerSink;
  /** Where the per-peer proofs run (a worker pool); this thread when absent. */
  readonly work?: parallel.ProofWork;
  /** Test-only crash points (DESIGN §7); the sidecar binary never sets this. */
  readonly checkpoint?: (name: string) => void;
}

export class Presigner {
  readonly #d: PresignerDeps;
  /** Outstanding nonces by caller, then by nonce (hex). */
  readonly #nonces = new Map<string, Map<string, { expires: number }>>();
  /** Presign sessions still running here, by sid: a signer asked early waits for its own run. */
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(deps: PresignerDeps) {
    this.#d = deps;
  }

  /** Validates a presign subject against this party's current state; returns self and parties. */
  async #check(s: PresignSubject): Promise<{ self: number; parties: { index: number; identityKey: Uint8Array; identityKeyHex: string; endpoint: string }[] }> {
    const state = await this.#d.keys.get(s.keyId);
    const cur = state?.current;
    if (!cur) throw new PlanError('E_UNKNOWN_KEY', `no current epoch of key ${s.keyId}`);
    if (cur.epoch !== s.epoch) throw new PlanError('E_EPOCH_MISMATCH', `key ${s.keyId} is at epoch ${cur.epoch}, not ${s.epoch}`);
    const indices = cur.parties.map((p) => p.index);
    if (!Array.isArray(s.signers) || s.signers.length !== cur.threshold || s.signers.some((p, i) => !indices.includes(p) || (i > 0 && p <= s.signers[i - 1]!))) {
      throw new PlanError('E_SIGNERS_INVALID', `signers must be ${cur.threshold} distinct holders in ascending order`);
    }
    hd.parsePath(s.derivationPath);
    const self = cur.parties.find((p) => p.identityKey === hex(this.#d.identityKey))?.index;
    if (self === undefined || !s.signers.includes(self)) throw new PlanError('E_SIGNERS_INVALID', 'this party is not one of the signers');
    const parties = cur.parties.filter((p) => s.signers.includes(p.index)).map((p) => ({ index: p.index, identityKey: unhex(p.identityKey), identityKeyHex: p.identityKey, endpoint: p.endpoint }));
    return { self, parties };
  }

  /**
   * A signer's first step: a fresh nonce, signed, for this subject. `caller` is the identity key
   * (hex) of the party asking; the node's own runs leave it out.
   */
  async prepare(s: PresignSubject, caller: string = OWN_CALLER): Promise<{ party: number; nonce: string; signature: string }> {
    const { self } = await this.#check(s);
    this.#expire();
    let mine = this.#nonces.get(caller);
    if (!mine && this.#nonces.size >= MAX_CALLERS) {
      this.#d.prepareRefused?.('callers_limit');
      throw new PlanError('E_BUSY', 'too many parties are preparing presign sessions here');
    }
    if (!mine) this.#nonces.set(caller, (mine = new Map()));
    if (mine.size >= MAX_OUTSTANDING_NONCES_PER_CALLER) {
      // Maps keep insertion order: the first entry is the caller's oldest unstarted nonce.
      mine.delete(mine.keys().next().value as string);
      this.#d.prepareRefused?.('evicted_oldest');
    }
    const nonce = new Uint8Array(randomBytes(32));
    mine.set(hex(nonce), { expires: Date.now() + this.#d.nonceTtlMs });
    return { party: self, nonce: hex(nonce), signature: hex(await this.#d.signer.sign(nonceBytes(presignSubject(s), self, nonce))) };
  }

  #expire(): void {
    const now = Date.now();
    for (const [caller, mine] of this.#nonces) {
      for (const [k, v] of mine) if (v.expires < now) mine.delete(k);
      if (mine.size === 0) this.#nonces.delete(caller);
    }
  }

  /** Consumes this node's own nonce of a start, whichever caller prepared it. */
  #consume(nonceHex: string): boolean {
    for (const [caller, mine] of this.#nonces) {
      if (!mine.delete(nonceHex)) continue;
      if (mine.size === 0) this.#nonces.delete(caller);
      return true;
    }
    return false;
  }

  /**
   * A signer's second step: runs presign with every signer's nonce; resolves when pooled. An abort
   * of `signal` (the initiator's call went away, or the initiator gave up) ends the session at once.
   * `startedBy`: whether this node is the initiator (run), which alone signs with the result.
   */
  async start(s: PresignSubject, nonces: readonly { party: number; nonce: string; signature: string }[], opts: { signal?: AbortSignal; startedBy: 'self' | 'peer' }): Promise<string> {
    const { self, parties } = await this.#check(s);
    const subject = presignSubject(s);
    const checked = parties.map((p) => {
      const n = nonces.find((x) => x?.party === p.index);
      if (!n || !/^[0-9a-f]{64}$/.test(n.nonce ?? '') || !/^[0-9a-f]{128}$/.test(n.signature ?? '')) throw new PlanError('E_PLAN_INVALID', `nonce of signer ${p.index} is missing or malformed`);
      const nonce = unhex(n.nonce);
      if (!protocols.verifyIdentitySignature(p.identityKey, nonceBytes(subject, p.index, nonce), unhex(n.signature))) {
        throw new PlanError('E_BAD_SIGNATURE', `nonce of signer ${p.index} is not signed by its identity key`);
      }
      return { party: p.index, nonce };
    });
    // Own nonce must be outstanding: it is consumed, so one prepare gives at most one session.
    const own = hex(checked.find((n) => n.party === self)!.nonce);
    this.#expire();
    if (!this.#consume(own)) throw new PlanError('E_REPLAY', 'own nonce is unknown, expired or already used');
    const sid = deriveSid('presign', subject, checked);
    const sidHex = Buffer.from(sid).toString('hex');
    this.#d.checkpoint?.('presign.session');
    const run = this.#presign(s, self, parties, sid, opts.signal, opts.startedBy === 'self');
    this.#inflight.set(sidHex, run.catch(() => undefined));
    try {
      await run;
    } finally {
      this.#inflight.delete(sidHex);
    }
    return sidHex;
  }

  /** Waits for this party's own presign run of `sid`, if one is in flight. */
  async settled(sidHex: string): Promise<void> {
    await this.#inflight.get(sidHex);
  }

  async #presign(s: PresignSubject, self: number, parties: { index: number; identityKey: Uint8Array; endpoint: string }[], sid: Uint8Array, signal: AbortSignal | undefined, own: boolean): Promise<void> {
    const share = await this.#d.shards.load(s.keyId, s.epoch);
    const opened = await this.#d.runner.run(
      { protocol: 'presign', sid, self, parties, keepOpen: true, evidence: { key: share.public, derivationPath: s.derivationPath }, ...(signal ? { signal } : {}) },
      (session) => protocols.presign(session, { level: SECURITY_LEVEL_128, share, derivationPath: s.derivationPath, ...(s.boundDigest ? { boundDigest: unhex(s.boundDigest) } : {}), ...(this.#d.work ? { work: this.#d.work } : {}) }),
    ).catch((e: unknown) => {
      if (e instanceof protocols.ProtocolAbort) this.#d.signerSets.recordAbort(s.keyId, s.signers, 'presign', e);
      throw e;
    });
    const sidHex = hex(sid);
    // An epoch change while presigning makes the result useless: never pooled.
    if ((await this.#d.keys.get(s.keyId))?.current?.epoch !== s.epoch) {
      opened.close();
      throw new PlanError('E_EPOCH_MISMATCH', `key ${s.keyId} left epoch ${s.epoch} while presigning`);
    }
    this.#d.pool.add({
      sid: sidHex,
      keyId: s.keyId,
      epoch: s.epoch,
      signers: [...s.signers],
      derivationPath: opened.value.binding.derivationPath,
      ...(s.boundDigest ? { boundDigest: s.boundDigest } : {}),
      presignature: opened.value,
      session: opened.session,
      close: opened.close,
      createdAt: Date.now(),
      own,
    });
  }

  /**
   * The initiator: gathers nonces from every signer, starts them all, and resolves with the sid
   * once every signer's run is pooled. A co-signer that gives no answer fails it with
   * PeerUnresponsive (and is reported to `health`) as soon as its call fails, the local session
   * closed under it; a co-signer that aborted leaves the local run PEER_ABORT_GRACE_MS to reach
   * its own verdict, which is then the one thrown. A presignature pooled here that some co-signer
   * does not hold is dropped, never handed out.
   */
  async run(s: PresignSubject): Promise<string> {
    const { self, parties } = await this.#check(s);
    const others: CoSigner[] = parties.filter((p) => p.index !== self).map((p) => ({ index: p.index, identityKey: p.identityKeyHex, endpoint: p.endpoint }));
    const own = await this.prepare(s);
    let theirs: { party: number; nonce: string; signature: string }[];
    try {
      theirs = await Promise.all(others.map((p) => callCoSigner<{ party: number; nonce: string; signature: string }>(this.#d.peers, this.#d.health, p, '/v1/peer/control/presign/prepare', s, PRESIGN_PREPARE_DEADLINE_MS)));
    } catch (e) {
      this.#consume(own.nonce); // never started: the slot goes back at once
      throw e;
    }
    const nonces = [own, ...theirs];
    const local = new AbortController();
    const calls = new AbortController();
    // The first co-signer call that failed on its own (not cancelled here): what closed the local run.
    let cause: { error: unknown } | undefined;
    const mine = this.start(s, nonces, { signal: local.signal, startedBy: 'self' });
    const starts = others.map((p) =>
      callCoSigner<unknown>(this.#d.peers, this.#d.health, p, '/v1/peer/control/presign/start', { ...s, nonces }, PRESIGN_START_DEADLINE_MS, calls.signal).catch((e: unknown) => {
        if (!calls.signal.aborted) {
          cause ??= { error: e };
          if (e instanceof PeerCallError && e.code === 'E_PROTOCOL_ABORT') setTimeout(() => local.abort(), PEER_ABORT_GRACE_MS).unref();
          else local.abort();
        }
        throw e;
      }),
    );
    // Looked at once the local run has ended; a call that fails before must not count as unhandled meanwhile.
    for (const p of starts) p.catch(() => undefined);
    const ownRun = await mine.then((sid) => ({ sid }), (error: unknown) => ({ error }));
    if ('error' in ownRun) {
      // The co-signers' answers no longer matter: their calls end here (and so their sessions).
      calls.abort();
      await Promise.allSettled(starts);
      // This node's own verdict (an abort, counted against the set) comes first; a local round
      // closed because a co-signer's call failed says nothing the failure does not say better.
      if (isVerdict(ownRun.error)) throw ownRun.error;
      if (local.signal.aborted && cause) throw cause.error;
      throw silentCoSigner(ownRun.error, others, this.#d.health, 'presign rounds') ?? ownRun.error;
    }
    const failed = (await Promise.allSettled(starts)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // Pooled here, but not held by every co-signer: never to be handed out.
      this.#d.pool.take(ownRun.sid)?.close();
      throw failed.reason;
    }
    return ownRun.sid;
  }
}
