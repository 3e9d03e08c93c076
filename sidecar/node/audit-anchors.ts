/**
 * Anchoring of the audit log (DESIGN §4 "Audit log"): this party's signed head goes to its peers,
 * which record it in their own logs ("anchor.peer"), and theirs is recorded here; `vilna-mpc
 * audit verify` then sees a log cut below a head its peers hold (sidecar/audit/verify.ts).
 *
 * When a head is sent: shortly after sessions (ANCHOR_DEBOUNCE_MS, so a burst of signatures
 * costs one send) and on a timer (AUDIT_ANCHOR_INTERVAL_MS), so that entries no session follows
 * (refusals, plans, node start) are anchored too. A peer is sent the head only when this log has
 * an entry of its own (not an "anchor.peer" record) past the last head that peer recorded, so an
 * idle cluster sends nothing and writes nothing.
 *
 * Answers anchor the records: a peer that records a head answers with its own signed head taken
 * after the record, and the sender records that one too. So the peer's record of this head is
 * itself anchored at once, instead of staying the unanchored last line of the peer's log. The
 * record of an answer is an "anchor.peer" entry and triggers no send, which is what stops the
 * exchange. What stays unanchored at any time: this log's entries since the last head its peers
 * recorded (at most one interval's worth while a peer is reachable, more while none is or when a
 * crash comes before the send), and the records of the answers to that send, one per peer.
 */
import type { AuditLog, SignedAuditHead } from '../audit/index.ts';

/**
 * Longest time an entry of this log waits before its head is sent to the peers, when no session
 * end sends it sooner. It bounds the tail a clean cut can remove unnoticed (README "Audit log");
 * each send costs one identity signature here, and per peer one HTTPS call and two audit lines
 * (the peer's record of this head, and the record of its answer here). Sent only when the log
 * moved, so an idle node pays nothing.
 */
export const AUDIT_ANCHOR_INTERVAL_MS = 10_000;
/** Quiet time after a session before its head is sent (a burst of sessions is one send). */
export const ANCHOR_DEBOUNCE_MS = 1000;
/** Per attempt: a peer that does not answer in time gets the head at the next send. */
const SEND_TIMEOUT_MS = 5000;
const SEND_RETRIES = 1;

/** Another party of this node's keys, by its pinned identity key (hex). */
export interface AnchorPeer {
  readonly identityKey: string;
  readonly endpoint: string;
}

export interface AnchorLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
}

export interface AuditAnchorsDeps {
  readonly audit: Pick<AuditLog, 'signedHead' | 'recordPeerHead' | 'contentIndex'>;
  /** This party's identity key (hex), sent with the head so that the peer checks it against its plan. */
  readonly identityKey: string;
  /** The peers to send heads to: the other parties of this node's keys. */
  readonly peers: () => Promise<readonly AnchorPeer[]>;
  /** Whether an identity key is a party of one of this node's keys (only those are recorded). */
  readonly isPeer: (identityKey: string) => Promise<boolean>;
  /** One call to a peer's `/v1/peer/control/audit/heads`; resolves with its answer's body. */
  readonly send: (endpoint: string, body: unknown, opts: { timeoutMs: number; retries: number }) => Promise<unknown>;
  readonly log: AnchorLogger;
  readonly intervalMs?: number;
  readonly debounceMs?: number;
}

const IDENTITY_KEY_RE = /^[0-9a-f]{66}$/;

export class AuditAnchors {
  readonly #d: AuditAnchorsDeps;
  /** Per peer identity key: the highest head of this log that peer recorded. */
  readonly #delivered = new Map<string, number>();
  /** Per peer identity key: the highest head of that peer recorded here (a replay adds nothing). */
  readonly #recorded = new Map<string, number>();
  /** Peers whose last send failed (logged once until they answer again). */
  readonly #unreachable = new Set<string>();
  #interval: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(deps: AuditAnchorsDeps) {
    this.#d = deps;
  }

  /** Starts the timer. */
  start(): void {
    if (this.#interval !== undefined || this.#closed) return;
    this.#interval = setInterval(() => void this.flush(), this.#d.intervalMs ?? AUDIT_ANCHOR_INTERVAL_MS);
    this.#interval.unref();
  }

  /** After a session: sends once the sessions pause for ANCHOR_DEBOUNCE_MS. */
  schedule(): void {
    if (this.#debounce !== undefined || this.#closed) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.flush();
    }, this.#d.debounceMs ?? ANCHOR_DEBOUNCE_MS);
    this.#debounce.unref();
  }

  /**
   * Sends the head to every peer that has not recorded this log's last own entry; resolves when
   * done (one send at a time: a call during a send runs another one after it). Never rejects.
   */
  flush(): Promise<void> {
    if (this.#flushing !== undefined) {
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = (async () => {
      try {
        do {
          this.#again = false;
          await this.#sendDue().catch((e: unknown) => this.#d.log.warn({ err: e }, 'sending the audit head failed'));
        } while (this.#again);
      } finally {
        this.#flushing = undefined;
      }
    })();
    return this.#flushing;
  }

  /**
   * A peer's `{ identityKey, head }`: records the head when the sender is a party of one of this
   * node's keys and the head is past the last one recorded for it. Answers this log's signed head
   * after the record (undefined when nothing was recorded), which the sender records in turn.
   */
  async receive(body: unknown): Promise<SignedAuditHead | undefined> {
    const b = (typeof body === 'object' && body !== null ? body : {}) as { identityKey?: unknown; head?: unknown };
    if (typeof b.identityKey !== 'string' || !IDENTITY_KEY_RE.test(b.identityKey)) throw Object.assign(new Error('identityKey: 33 bytes in lowercase hex'), { code: 'E_MALFORMED' });
    const { party, index } = (typeof b.head === 'object' && b.head !== null ? b.head : {}) as { party?: unknown; index?: unknown };
    if (!(await this.#d.isPeer(b.identityKey)) || typeof party !== 'number' || typeof index !== 'number') {
      throw Object.assign(new Error('the sender holds no key with this party'), { code: 'E_FORBIDDEN' });
    }
    if (!(await this.#record(b.identityKey, party, index, b.head))) return undefined;
    return this.#d.audit.signedHead();
  }

  /** Stops the timers and sends what is not yet anchored (while the peers still listen). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#interval);
    clearTimeout(this.#debounce);
    await this.flush();
  }

  async #sendDue(): Promise<void> {
    const content = this.#d.audit.contentIndex();
    const due = (await this.#d.peers()).filter((p) => (this.#delivered.get(p.identityKey) ?? -1) < content);
    if (due.length === 0) return;
    const head = await this.#d.audit.signedHead();
    await Promise.all(due.map((p) => this.#sendTo(p, head)));
  }

  async #sendTo(peer: AnchorPeer, head: SignedAuditHead): Promise<void> {
    let answer: unknown;
    try {
      answer = await this.#d.send(peer.endpoint, { identityKey: this.#d.identityKey, head }, { timeoutMs: SEND_TIMEOUT_MS, retries: SEND_RETRIES });
    } catch (e) {
      if (!this.#unreachable.has(peer.identityKey)) this.#d.log.warn({ peer: peer.endpoint, err: e }, 'a peer did not take the audit head; it is sent again later');
      this.#unreachable.add(peer.identityKey);
      return;
    }
    if (this.#unreachable.delete(peer.identityKey)) this.#d.log.info({ peer: peer.endpoint }, 'a peer takes the audit head again');
    this.#delivered.set(peer.identityKey, Math.max(this.#delivered.get(peer.identityKey) ?? -1, head.index));
    const theirs = (typeof answer === 'object' && answer !== null ? (answer as { head?: unknown }).head : undefined) as Partial<SignedAuditHead> | undefined;
    if (theirs === undefined || typeof theirs.party !== 'number' || typeof theirs.index !== 'number') return;
    try {
      await this.#record(peer.identityKey, theirs.party, theirs.index, theirs);
    } catch (e) {
      this.#d.log.warn({ peer: peer.endpoint, err: e }, "a peer's answering audit head was not recorded");
    }
  }

  /** Records a peer's head past the last one recorded for that peer; false when it is not past it. */
  async #record(identityKey: string, party: number, index: number, head: unknown): Promise<boolean> {
    const before = this.#recorded.get(identityKey);
    if (index <= (before ?? -1)) return false;
    // Claimed before the write, so that a concurrent copy of the same head is not recorded twice.
    this.#recorded.set(identityKey, index);
    try {
      await this.#d.audit.recordPeerHead(party, head, new Uint8Array(Buffer.from(identityKey, 'hex')));
    } catch (e) {
      if (this.#recorded.get(identityKey) === index) {
        if (before === undefined) this.#recorded.delete(identityKey);
        else this.#recorded.set(identityKey, before);
      }
      throw e;
    }
    return true;
  }
}
