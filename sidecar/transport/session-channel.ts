/**
 * One party's side of one session of the peer transport (DESIGN §3 "Channel", §4 "Peer
 * transport"): the key exchange (key-exchange.ts), then the Channel the protocol runs on.
 *
 * Receiving applies, in order: sender is a peer of the session (E_UNKNOWN_SENDER); sequence
 * number not seen before (E_REPLAY); for point-to-point, decryption under the pair's key
 * (E_DECRYPT); the channel's envelope check `envelopeAcceptable` and the body's sender matching
 * the envelope's (E_ENVELOPE_REJECTED); first valid message per (sender, round, kind) wins
 * (E_REPLAY); a bounded backlog of rounds not collected yet (E_BACKLOG_FULL). Every refusal is
 * counted in `rejected` and leaves the session as it was. Collect semantics are those of the
 * in-memory network (cggmp/sim/memory-network.ts): resolve once every peer delivered both
 * kinds, RoundTimeout naming the missing peers, PeerAbortNotice once an ABORT_ROUND broadcast
 * arrived (for collects started later too).
 *
 * Sending never blocks the protocol: bodies are handed to `deliver`, which queues and retries
 * them until delivered, the session closes or the round timeout passes.
 */
import {
  ABORT_ROUND,
  envelopeAcceptable,
  PeerAbortNotice,
  RoundTimeout,
  type Channel,
  type Envelope,
  type Msg,
  type PartyIndex,
  type Signer,
} from '../../cggmp/protocols/index.ts';
import { HandshakeTimeout, TransportError } from './errors.ts';
import {
  completePair,
  createEphemeralKeys,
  initiatePair,
  signHello,
  signKem,
  verifyHello,
  verifyKem,
  type DirectionKeys,
  type EphemeralKeys,
  type HandshakeContext,
} from './key-exchange.ts';
import { openP2p, sealP2p } from './p2p-cipher.ts';
import {
  decodeEnvelope,
  encodeEnvelope,
  encodeWire,
  type BroadcastMessage,
  type HelloMessage,
  type KemMessage,
  type P2pMessage,
  type WireKind,
  type WireMessage,
} from './wire.ts';

/** What the transport logs through (pino's Logger fits). Objects carry ids and codes, never secrets. */
export interface TransportLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

export const silentLogger: TransportLogger = { warn() {}, debug() {} };

/**
 * Accepted messages of rounds not collected yet, per sender. A peer can run at most about one
 * round ahead (it needs this party's messages to continue), so this only stops a peer that
 * signs envelopes for rounds far ahead from filling memory.
 */
export const MAX_UNCOLLECTED_PER_SENDER = 16;
/** Point-to-point requests from one peer allowed to wait for that pair's keys. */
const MAX_EARLY_P2P_PER_SENDER = 8;

export interface SessionChannel extends Channel {
  /** Ends the session: pending collects fail as timeouts, deliveries stop, keys are dropped. */
  close(): void;
  /** Received messages refused by this session's checks so far. */
  readonly rejected: number;
}

export interface SessionConfig {
  readonly sid: Uint8Array;
  readonly self: PartyIndex;
  /** Every participant, self included, with its pinned identity key. */
  readonly parties: readonly { readonly index: PartyIndex; readonly identityKey: Uint8Array }[];
  readonly roundTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
}

export interface SessionDeps {
  readonly signer: Signer;
  /**
   * Queues `body` for delivery to `peer`, retried until `deadline` (epoch ms) or close.
   * `barrier`: delivered after everything queued before it, and before anything queued after
   * (outbox.ts); set for an abort announcement.
   */
  readonly deliver: (peer: PartyIndex, kind: WireKind, body: Uint8Array, deadline: number, barrier?: boolean) => void;
  readonly logger: TransportLogger;
  /** Called once when the session closes. */
  readonly onClose: () => void;
}

export interface PeerSession {
  readonly sid: Uint8Array;
  /** Runs the key exchange; resolves with the channel once every pair has its keys. */
  handshake(): Promise<SessionChannel>;
  /** Applies the receiver's checks to a decoded message; throws the TransportError of a refusal. */
  receive(m: WireMessage): Promise<void>;
  close(): void;
}

interface Slot {
  broadcast?: Msg;
  p2p?: Msg;
}

interface PendingCollect {
  readonly round: number;
  readonly broadcastOnly: boolean;
  done(): void;
  fail(e: Error): void;
}

interface KeyWaiter {
  resolve(k: DirectionKeys): void;
  reject(e: Error): void;
}

export function createPeerSession(config: SessionConfig, deps: SessionDeps): PeerSession {
  const { sid, self, roundTimeoutMs } = config;
  const identities = new Map(config.parties.map((p) => [p.index, p.identityKey] as const));
  const peers = config.parties.map((p) => p.index).filter((p) => p !== self);
  const ctx: HandshakeContext = { sid, self, identities };
  const log = { party: self, sid: Buffer.from(sid).toString('hex') };

  let ephemeral: EphemeralKeys | undefined = createEphemeralKeys();
  const ownHello = { x25519Pub: ephemeral.x25519Pub, mlkemPub: ephemeral.mlkemPub };
  const hellos = new Map<PartyIndex, HelloMessage>();
  const kems = new Map<PartyIndex, KemMessage>();
  const pairKeys = new Map<PartyIndex, DirectionKeys>();
  const keyWaiters = new Map<PartyIndex, KeyWaiter[]>();
  let handshakeSettle: { resolve(c: SessionChannel): void; reject(e: Error): void } | undefined;
  let handshakeTimer: NodeJS.Timeout | undefined;

  let broadcastSeq = 0;
  const p2pSendSeq = new Map<PartyIndex, number>();
  const p2pLastSeq = new Map<PartyIndex, number>();
  // Broadcast bodies are authenticated only through the envelope signature, which does not cover
  // the transport's seq: remembering exactly the seqs accepted (rather than a high-water mark)
  // keeps a peer that forwards someone's genuine broadcast under a large seq from making that
  // party's later broadcasts look like replays.
  const broadcastSeen = new Map<PartyIndex, Set<number>>();

  const inbox = new Map<number, Map<PartyIndex, Slot>>();
  const uncollected = new Map<PartyIndex, number>();
  const collected = new Set<number>();
  const pending = new Set<PendingCollect>();
  let notice: Envelope | undefined;
  let rejected = 0;
  let closed = false;

  function assertPeer(sender: PartyIndex, what: string): void {
    if (sender === self || !identities.has(sender)) throw new TransportError('E_UNKNOWN_SENDER', `${what} from party ${sender}, which is not a peer in this session`);
  }

  // ---- key exchange ----------------------------------------------------------------------

  function installKeys(peer: PartyIndex, keys: DirectionKeys): void {
    if (closed) {
      keys.send.fill(0);
      keys.receive.fill(0);
      return;
    }
    pairKeys.set(peer, keys);
    for (const w of keyWaiters.get(peer) ?? []) w.resolve(keys);
    keyWaiters.delete(peer);
    if (pairKeys.size === peers.length) {
      // Every pair has its keys: the ephemeral secrets have no further use.
      ephemeral?.destroy();
      ephemeral = undefined;
      if (handshakeTimer) clearTimeout(handshakeTimer);
      handshakeSettle?.resolve(channel);
      handshakeSettle = undefined;
    }
  }

  function failHandshake(e: Error): void {
    if (!handshakeSettle) return;
    const settle = handshakeSettle;
    handshakeSettle = undefined;
    close();
    settle.reject(e);
  }

  async function initiate(peer: PartyIndex, hello: HelloMessage): Promise<void> {
    if (!ephemeral) return;
    const { kemCiphertext, keys } = initiatePair(ephemeral, ctx, hello);
    let kem: KemMessage;
    try {
      kem = await signKem(deps.signer, sid, self, peer, kemCiphertext);
    } catch (e) {
      keys.send.fill(0);
      keys.receive.fill(0);
      throw e;
    }
    // The KEM is queued before the keys are installed, so it precedes every message under them.
    if (!closed) deps.deliver(peer, 'kem', encodeWire({ kind: 'kem', message: kem }), Date.now() + config.handshakeTimeoutMs);
    installKeys(peer, keys);
  }

  function tryComplete(peer: PartyIndex): void {
    const hello = hellos.get(peer);
    const kem = kems.get(peer);
    if (!hello || !kem || !ephemeral || pairKeys.has(peer)) return;
    installKeys(peer, completePair(ephemeral, ctx, hello, kem));
  }

  function receiveHello(h: HelloMessage): void {
    assertPeer(h.sender, 'hello');
    if (hellos.has(h.sender)) throw new TransportError('E_REPLAY', `hello of party ${h.sender} already received`);
    verifyHello(h, ctx);
    hellos.set(h.sender, h);
    if (h.sender > self) {
      initiate(h.sender, h).catch((e: unknown) => {
        deps.logger.warn({ ...log, peer: h.sender, code: (e as { code?: unknown }).code }, 'key exchange with peer failed');
        failHandshake(e instanceof Error ? e : new TransportError('E_INTERNAL', 'key exchange failed'));
      });
    } else {
      tryComplete(h.sender);
    }
  }

  function receiveKem(k: KemMessage): void {
    assertPeer(k.sender, 'KEM ciphertext');
    if (kems.has(k.sender)) throw new TransportError('E_REPLAY', `KEM ciphertext of party ${k.sender} already received`);
    verifyKem(k, ctx);
    kems.set(k.sender, k);
    tryComplete(k.sender);
  }

  function keysOf(peer: PartyIndex): Promise<DirectionKeys> {
    const known = pairKeys.get(peer);
    if (known) return Promise.resolve(known);
    if (closed) return Promise.reject(new TransportError('E_UNKNOWN_SESSION', 'session closed'));
    const waiting = keyWaiters.get(peer) ?? [];
    if (waiting.length >= MAX_EARLY_P2P_PER_SENDER) {
      return Promise.reject(new TransportError('E_BACKLOG_FULL', `too many messages from party ${peer} before its key exchange completed`));
    }
    return new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      keyWaiters.set(peer, waiting);
    });
  }

  // ---- receiving protocol messages -------------------------------------------------------

  function complete(round: number, broadcastOnly: boolean): boolean {
    const r = inbox.get(round);
    return peers.every((p) => r?.get(p)?.broadcast !== undefined && (broadcastOnly || r.get(p)?.p2p !== undefined));
  }

  function missing(round: number, broadcastOnly: boolean): PartyIndex[] {
    const r = inbox.get(round);
    return peers.filter((p) => !(r?.get(p)?.broadcast && (broadcastOnly || r.get(p)?.p2p)));
  }

  /** Stores an envelope that passed every check; throws E_REPLAY / E_BACKLOG_FULL otherwise. */
  function accept(e: Envelope, kind: 'broadcast' | 'p2p', onAccepted: () => void): void {
    if (e.round === ABORT_ROUND) {
      // Only a broadcast announces an abort, and the first one counts (as in memory-network.ts).
      onAccepted();
      if (kind !== 'broadcast' || notice) return;
      notice = e;
      for (const p of [...pending]) p.fail(new PeerAbortNotice(e));
      return;
    }
    let round = inbox.get(e.round);
    const slot = round?.get(e.sender) ?? {};
    if (slot[kind] !== undefined) throw new TransportError('E_REPLAY', `party ${e.sender} already delivered its ${kind} of round ${e.round}`);
    const backlog = uncollected.get(e.sender) ?? 0;
    if (!collected.has(e.round) && backlog >= MAX_UNCOLLECTED_PER_SENDER) {
      throw new TransportError('E_BACKLOG_FULL', `party ${e.sender} has ${backlog} messages of rounds not collected yet`);
    }
    if (!round) inbox.set(e.round, (round = new Map()));
    slot[kind] = e;
    round.set(e.sender, slot);
    if (!collected.has(e.round)) uncollected.set(e.sender, backlog + 1);
    onAccepted();
    for (const p of [...pending]) if (p.round === e.round && complete(e.round, p.broadcastOnly)) p.done();
  }

  function receiveBroadcast(b: BroadcastMessage): void {
    assertPeer(b.sender, 'broadcast');
    const seen = broadcastSeen.get(b.sender) ?? new Set<number>();
    if (seen.has(b.seq)) throw new TransportError('E_REPLAY', `broadcast ${b.seq} of party ${b.sender} already received`);
    const e = b.envelope;
    if (e.sender !== b.sender || !envelopeAcceptable(e, { sid, round: e.round, self, kind: 'broadcast' }, identities)) {
      throw new TransportError('E_ENVELOPE_REJECTED', `broadcast ${b.seq} of party ${b.sender}: envelope fails the session's check`);
    }
    accept(e, 'broadcast', () => {
      seen.add(b.seq);
      broadcastSeen.set(b.sender, seen);
    });
  }

  async function receiveP2p(p: P2pMessage): Promise<void> {
    assertPeer(p.sender, 'message');
    if (p.recipient !== self) throw new TransportError('E_ENVELOPE_REJECTED', `message ${p.seq} of party ${p.sender} is addressed to party ${p.recipient}`);
    const keys = await keysOf(p.sender);
    // Everything below runs without awaiting, so concurrent deliveries see each other's seq.
    if (closed) throw new TransportError('E_UNKNOWN_SESSION', 'session closed');
    if (p.seq <= (p2pLastSeq.get(p.sender) ?? 0)) throw new TransportError('E_REPLAY', `message ${p.seq} of party ${p.sender} is not newer than the last one`);
    const plaintext = openP2p(keys.receive, p, p.ciphertext);
    // Authenticated: the seq is the sender's own, so it is consumed whatever the envelope holds.
    p2pLastSeq.set(p.sender, p.seq);
    let e: Envelope;
    try {
      e = decodeEnvelope(plaintext);
    } finally {
      plaintext.fill(0);
    }
    if (e.sender !== p.sender || !envelopeAcceptable(e, { sid, round: e.round, self, kind: 'p2p' }, identities)) {
      throw new TransportError('E_ENVELOPE_REJECTED', `message ${p.seq} of party ${p.sender}: envelope fails the session's check`);
    }
    accept(e, 'p2p', () => {});
  }

  async function receive(m: WireMessage): Promise<void> {
    if (closed) throw new TransportError('E_UNKNOWN_SESSION', 'session closed');
    try {
      switch (m.kind) {
        case 'hello':
          return receiveHello(m.message);
        case 'kem':
          return receiveKem(m.message);
        case 'broadcast':
          return receiveBroadcast(m.message);
        case 'p2p':
          return await receiveP2p(m.message);
      }
    } catch (e) {
      if (!(e instanceof TransportError) || e.code !== 'E_UNKNOWN_SESSION') rejected++;
      throw e;
    }
  }

  // ---- the Channel ---------------------------------------------------------------------

  function deadline(): number {
    return Date.now() + roundTimeoutMs;
  }

  function result(round: number): Map<PartyIndex, { broadcast?: Msg; p2p?: Msg }> {
    const r = inbox.get(round) ?? new Map<PartyIndex, Slot>();
    if (!collected.has(round)) {
      collected.add(round);
      for (const [sender, slot] of r) {
        const n = (slot.broadcast ? 1 : 0) + (slot.p2p ? 1 : 0);
        uncollected.set(sender, Math.max(0, (uncollected.get(sender) ?? 0) - n));
      }
    }
    return new Map([...r.entries()].map(([k, v]) => [k, { ...v }]));
  }

  const channel: SessionChannel = {
    get rejected() {
      return rejected;
    },
    broadcast(round, msg) {
      if (closed) return;
      const body = encodeWire({ kind: 'broadcast', message: { sid, sender: self, seq: ++broadcastSeq, envelope: msg } });
      const until = deadline();
      // An abort announcement reaches each peer after this party's earlier messages, never before.
      for (const peer of peers) deps.deliver(peer, 'broadcast', body, until, round === ABORT_ROUND);
    },
    send(_round, to, msg) {
      if (closed) return;
      const keys = pairKeys.get(to);
      if (!keys) throw new TransportError('E_INVALID_ARGUMENT', `party ${to} is not a peer in this session`);
      const seq = (p2pSendSeq.get(to) ?? 0) + 1;
      p2pSendSeq.set(to, seq);
      const plaintext = encodeEnvelope(msg);
      const ciphertext = sealP2p(keys.send, { sid, sender: self, recipient: to, seq }, plaintext);
      plaintext.fill(0);
      deps.deliver(to, 'p2p', encodeWire({ kind: 'p2p', message: { sid, sender: self, recipient: to, seq, ciphertext } }), deadline());
    },
    collect(round, opts = {}) {
      const broadcastOnly = opts.broadcastOnly === true;
      return new Promise((resolve, reject) => {
        if (notice) return reject(new PeerAbortNotice(notice));
        if (closed) return reject(new RoundTimeout(round, missing(round, broadcastOnly)));
        if (complete(round, broadcastOnly)) return resolve(result(round));
        const entry: PendingCollect = {
          round,
          broadcastOnly,
          done() {
            settle();
            resolve(result(round));
          },
          fail(e) {
            settle();
            reject(e);
          },
        };
        const timer = setTimeout(() => entry.fail(new RoundTimeout(round, missing(round, broadcastOnly))), roundTimeoutMs);
        function settle(): void {
          clearTimeout(timer);
          pending.delete(entry);
        }
        pending.add(entry);
      });
    },
    close,
  };

  function close(): void {
    if (closed) return;
    closed = true;
    if (handshakeTimer) clearTimeout(handshakeTimer);
    for (const p of [...pending]) p.fail(new RoundTimeout(p.round, missing(p.round, p.broadcastOnly)));
    for (const waiting of keyWaiters.values()) for (const w of waiting) w.reject(new TransportError('E_UNKNOWN_SESSION', 'session closed'));
    keyWaiters.clear();
    ephemeral?.destroy();
    ephemeral = undefined;
    for (const k of pairKeys.values()) {
      k.send.fill(0);
      k.receive.fill(0);
    }
    pairKeys.clear();
    deps.onClose();
    if (handshakeSettle) {
      const settle = handshakeSettle;
      handshakeSettle = undefined;
      settle.reject(new TransportError('E_SESSION_CLOSED', 'session closed during the key exchange'));
    }
  }

  async function handshake(): Promise<SessionChannel> {
    if (closed) throw new TransportError('E_SESSION_CLOSED', 'session closed');
    const done = new Promise<SessionChannel>((resolve, reject) => {
      handshakeSettle = { resolve, reject };
    });
    // The session may close (a cancelled session, a transport shutting down) while the hello is
    // still being signed below: `done` is rejected before it is returned, and must not count as
    // an unhandled rejection meanwhile (which would end the process). The caller still gets it.
    done.catch(() => undefined);
    handshakeTimer = setTimeout(() => {
      failHandshake(new HandshakeTimeout(peers.filter((p) => !pairKeys.has(p))));
    }, config.handshakeTimeoutMs);
    try {
      const hello = await signHello(deps.signer, sid, self, ownHello);
      if (!closed) {
        const body = encodeWire({ kind: 'hello', message: hello });
        const until = Date.now() + config.handshakeTimeoutMs;
        for (const peer of peers) deps.deliver(peer, 'hello', body, until);
      }
    } catch (e) {
      failHandshake(e instanceof Error ? e : new TransportError('E_INTERNAL', 'signing the hello failed'));
    }
    return done;
  }

  return { sid, handshake, receive, close };
}
