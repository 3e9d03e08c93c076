/**
 * Runs one CGGMP protocol session of this party over the peer transport (DESIGN §3 channel, §4
 * "Peer transport"): opens the encrypted session channel, wraps it in the protocol session
 * (signed envelopes, echo, identifiable abort with evidence re-checked here), and records
 * metrics and a trace span. The session id is derived by the caller from the plan (or the
 * presign request) and every participant's fresh nonce.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { protocols, SECURITY_LEVEL_128, transcript } from '../../cggmp/index.ts';

type PartyIndex = protocols.PartyIndex;

/** Protocol rounds are few; anything above (the abort round) is not timed. */
const MAX_TIMED_ROUND = 64;
/**
 * How long an aborted session's channel stays open for its abort announcement to be signed (one
 * HSM signature, milliseconds) and sent: a hung HSM must not hold the channel forever.
 */
const ANNOUNCE_FLUSH_MS = 5_000;

export interface SessionParty {
  readonly index: PartyIndex;
  readonly identityKey: Uint8Array;
  readonly endpoint: string;
}

/** The part of the peer transport (sidecar/transport) the runner needs. */
export interface SessionTransport {
  openSession(spec: {
    sid: Uint8Array;
    self: PartyIndex;
    parties: readonly SessionParty[];
    roundTimeoutMs: number;
    signal?: AbortSignal;
  }): Promise<protocols.Channel & { close(): void }>;
}

/** The tracing and round metrics the runner reports to (sidecar/observability). */
export interface SessionObserver {
  sessionSpan<T>(protocol: string, sidHex: string, fn: () => Promise<T>): Promise<T>;
  roundSpan<T>(round: number, fn: () => Promise<T>): Promise<T>;
  roundTimer(protocol: string, round: number): () => unknown;
}

export interface SessionHooks {
  readonly observer?: SessionObserver;
  /**
   * Test-only: wraps this party's channel or session of a protocol (the corruption behaviours of
   * DESIGN §7 are injected here by a test entry point; the sidecar binary never sets this).
   */
  readonly wrapChannel?: (ctx: {
    protocol: string;
    sid: Uint8Array;
    self: PartyIndex;
    parties: readonly PartyIndex[];
    channel: protocols.Channel;
    signer: protocols.Signer;
  }) => protocols.Channel | Promise<protocols.Channel>;
  readonly wrapSession?: (protocol: string, sid: Uint8Array, session: protocols.Session) => protocols.Session;
  /** Round-level events (debug logs): what was sent and collected, never payloads. */
  readonly trace?: (event: string, data: Record<string, unknown>) => void;
  /** Called when the session ends, with its outcome and duration. */
  readonly ended?: (protocol: string, outcome: 'ok' | 'abort' | 'timeout' | 'error', seconds: number, error?: unknown) => void;
}

export interface RunSpec {
  readonly protocol: string;
  readonly sid: Uint8Array;
  readonly self: PartyIndex;
  readonly parties: readonly SessionParty[];
  /** Extra context for re-checking other parties' abort evidence. */
  readonly evidence?: Partial<protocols.EvidenceContext>;
  /** Keep the channel open after `run` returns (presign: signing continues the session). */
  readonly keepOpen?: boolean;
  /**
   * Ends the session while `run` is in progress (a co-signer's call failed, or the node that
   * asked for it went away): the pending round fails at once as a timeout, naming nobody.
   */
  readonly signal?: AbortSignal;
}

export interface OpenedSession<T> {
  readonly value: T;
  readonly session: protocols.Session;
  readonly close: () => void;
}

/** Session id: the hash of what the session is about and every participant's fresh nonce. */
export function deriveSid(purpose: string, subject: Uint8Array, nonces: readonly { party: number; nonce: Uint8Array }[]): Uint8Array {
  const ordered = [...nonces].sort((a, b) => a.party - b.party);
  return sha256(transcript.encode('vilna-mpc/session-id/v1', [purpose, subject, ...ordered.flatMap((n) => [n.party, n.nonce])]));
}

/** A sub-session id (keygen then aux-info under one plan): distinct per step. */
export function subSid(sid: Uint8Array, step: string): Uint8Array {
  return sha256(transcript.encode('vilna-mpc/sub-session/v1', [sid, step]));
}

export class SessionRunner {
  readonly #transport: SessionTransport;
  readonly #signer: protocols.Signer;
  readonly #roundTimeoutMs: number;
  readonly #hooks: SessionHooks;

  constructor(transport: SessionTransport, signer: protocols.Signer, roundTimeoutMs: number, hooks: SessionHooks = {}) {
    this.#transport = transport;
    this.#signer = signer;
    this.#roundTimeoutMs = roundTimeoutMs;
    this.#hooks = hooks;
  }

  async run<T>(spec: RunSpec, body: (s: protocols.Session) => Promise<T>): Promise<OpenedSession<T>> {
    const started = performance.now();
    const observer = this.#hooks.observer;
    const fullSid = Buffer.from(spec.sid).toString('hex');
    const inSpan = <T>(fn: () => Promise<T>): Promise<T> => (observer ? observer.sessionSpan(spec.protocol, fullSid, fn) : fn());
    return inSpan(() => this.#run(spec, body, started));
  }

  async #run<T>(spec: RunSpec, body: (s: protocols.Session) => Promise<T>, started: number): Promise<OpenedSession<T>> {
    const identities = new Map(spec.parties.map((p) => [p.index, p.identityKey] as const));
    const indices = spec.parties.map((p) => p.index);
    const evidence: protocols.EvidenceContext = {
      identities,
      sid: spec.sid,
      level: SECURITY_LEVEL_128,
      signers: indices,
      ...spec.evidence,
    };
    const opened = await this.#transport.openSession({ sid: spec.sid, self: spec.self, parties: spec.parties, roundTimeoutMs: this.#roundTimeoutMs, ...(spec.signal ? { signal: spec.signal } : {}) });
    // The transport honours the signal during the key exchange, this from here until `run`
    // returns; after that a kept-open session belongs to the caller.
    const closeOnAbort = (): void => opened.close();
    const detach = (): void => spec.signal?.removeEventListener('abort', closeOnAbort);
    spec.signal?.addEventListener('abort', closeOnAbort, { once: true });
    if (spec.signal?.aborted) opened.close();
    const trace = this.#hooks.trace;
    const observer = this.#hooks.observer;
    const sidHex = Buffer.from(spec.sid).toString('hex').slice(0, 16);
    // Each round's span and duration run from the start of its collect to its completion.
    const collect = (round: number, opts?: protocols.CollectOptions): ReturnType<typeof opened.collect> => {
      trace?.('collect', { protocol: spec.protocol, sid: sidHex, round });
      const stop = round <= MAX_TIMED_ROUND ? observer?.roundTimer(spec.protocol, round) : undefined;
      const wait = (): ReturnType<typeof opened.collect> => opened.collect(round, opts);
      return (observer ? observer.roundSpan(round, wait) : wait()).then((got) => {
        stop?.();
        trace?.('collected', { protocol: spec.protocol, sid: sidHex, round });
        return got;
      });
    };
    const channel: typeof opened = {
      broadcast: (round, msg) => (trace?.('broadcast', { protocol: spec.protocol, sid: sidHex, round }), opened.broadcast(round, msg)),
      send: (round, to, msg) => (trace?.('send', { protocol: spec.protocol, sid: sidHex, round, to }), opened.send(round, to, msg)),
      collect,
      close: () => opened.close(),
    };
    const wrapped = (await this.#hooks.wrapChannel?.({ protocol: spec.protocol, sid: spec.sid, self: spec.self, parties: indices, channel, signer: this.#signer })) ?? channel;
    const opened2 = protocols.openSession({
      protocol: spec.protocol,
      sid: spec.sid,
      self: spec.self,
      parties: indices,
      identities,
      signer: this.#signer,
      channel: wrapped,
      verifyAbort: (a) => protocols.verifyAbortEvidence(a, evidence),
    });
    const session = this.#hooks.wrapSession?.(spec.protocol, spec.sid, opened2) ?? opened2;
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const value = await body(session);
      this.#hooks.ended?.(spec.protocol, 'ok', seconds());
      if (!spec.keepOpen) channel.close();
      return { value, session, close: () => channel.close() };
    } catch (e) {
      const outcome = e instanceof protocols.ProtocolAbort ? 'abort' : e instanceof protocols.RoundTimeout ? 'timeout' : 'error';
      this.#hooks.ended?.(spec.protocol, outcome, seconds(), e);
      // The abort announcement is signed asynchronously: closing first would drop it, and the
      // others would wait for their round timeout instead of adopting this party's verdict.
      let flushed: NodeJS.Timeout | undefined;
      await Promise.race([session.announcements(), new Promise<void>((r) => (flushed = setTimeout(r, ANNOUNCE_FLUSH_MS)))]);
      clearTimeout(flushed);
      channel.close();
      throw e;
    } finally {
      detach();
    }
  }
}
