/**
 * Which co-signers this node may ask to sign now (issue 11 item 1, issue 16 item 6): the input
 * `SignerSets.choose` takes as `unavailable`, so that signing and the pool refill pick their
 * signer set from parties that are reachable and healthy at this moment.
 *
 * A peer is unavailable while either holds:
 *  - **excluded**: a call to it as a co-signer (presign prepare or start, sign) got no answer —
 *    it timed out, or the connection was refused, reset or dropped (peer-client.ts). The
 *    exclusion lasts EXCLUSION_MS, and ends earlier when the reachability probe gets an answer
 *    from the peer to a ping sent after the failure (a probe already on its way when the call
 *    failed proves nothing about the peer after it);
 *  - **unreachable**: the last reachability probe (node.ts, every 10 s) got no answer; it stays
 *    so until a probe gets one.
 *
 * Both are guesses about the present made from the past, so they must not refuse a request by
 * themselves: when they leave no signer set, signing asks for a `recheck` — a ping now to each
 * peer they leave out — before it answers E_SIGNERS_UNAVAILABLE. A peer that restarted or was
 * busy a moment ago is used again at once, and one that is really down costs a refused connection
 * or one ping timeout (shared by every request waiting on it) instead of a signature.
 *
 * Peers are tracked by their pinned identity key, which names one party across all its keys
 * (party numbers are per key). Nothing here blames anyone: an exclusion only moves signing away
 * from a peer for a short time, the way a timeout never names a culprit in an abort. What is
 * remembered is one small record per peer the node has called or probed, in memory.
 */

import type { NoAnswer } from './peer-client.ts';

/**
 * How long a co-signer that failed a call stays out of signer sets unless the probe hears from it
 * sooner. Three probe intervals: the probe normally decides first (a peer that is back is used
 * again within one interval, ≤ 10 s plus the ping), and a peer that answers pings but not the
 * signing calls still costs at most one failed attempt per probe interval instead of one per
 * request.
 */
export const EXCLUSION_MS = 30_000;

/** Why a peer is left out of signer sets. */
export type Unavailability = 'excluded' | 'unreachable';

interface PeerRecord {
  /** When a call last failed (epoch ms), or 0. */
  failedAt: number;
  /** The exclusion's end (epoch ms); 0 once lifted. */
  excludedUntil: number;
  /** The last probe said no answer. */
  unreachable: boolean;
  /** The party number it was last seen under, for events and metrics. */
  index: number;
}

/** A peer as the probe knows it. */
export interface ProbedPeer {
  readonly index: number;
  readonly identityKey: string;
  readonly endpoint: string;
}

export interface PeerHealthEvents {
  /** A co-signer got no answer and is left out of signer sets for a while. */
  excluded?(peer: number, reason: NoAnswer, until: number): void;
  /** Whether some peer's availability changed (a refill may now pick another signer set). */
  changed?(): void;
}

export class PeerHealth {
  readonly #now: () => number;
  readonly #events: PeerHealthEvents;
  readonly #ping: ((peer: ProbedPeer) => Promise<boolean>) | undefined;
  readonly #peers = new Map<string, PeerRecord>();
  /** Pings on their way, by identity key: a recheck joins the one already sent. */
  readonly #inFlight = new Map<string, Promise<void>>();

  /** `ping` asks a peer whether it answers now (true) or not (false); it never throws. */
  constructor(opts: { now?: () => number; events?: PeerHealthEvents; ping?: (peer: ProbedPeer) => Promise<boolean> } = {}) {
    this.#now = opts.now ?? Date.now;
    this.#events = opts.events ?? {};
    this.#ping = opts.ping;
  }

  /** Pings a peer now (joining a ping already on its way) and records the verdict. */
  probe(peer: ProbedPeer): Promise<void> {
    const ping = this.#ping;
    if (!ping) return Promise.resolve();
    let p = this.#inFlight.get(peer.identityKey);
    if (!p) {
      const sentAt = this.#now();
      p = ping(peer)
        .catch(() => false)
        .then((answered) => this.probed(peer, answered, sentAt))
        .finally(() => this.#inFlight.delete(peer.identityKey));
      this.#inFlight.set(peer.identityKey, p);
    }
    return p;
  }

  /** Pings now every one of these peers that is left out, so that their records say how they are at present. */
  async recheck(peers: readonly ProbedPeer[]): Promise<void> {
    await Promise.all(peers.filter((p) => this.unavailability(p.identityKey) !== undefined).map((p) => this.probe(p)));
  }

  #record(peer: { readonly index: number; readonly identityKey: string }): PeerRecord {
    let r = this.#peers.get(peer.identityKey);
    if (!r) this.#peers.set(peer.identityKey, (r = { failedAt: 0, excludedUntil: 0, unreachable: false, index: peer.index }));
    r.index = peer.index;
    return r;
  }

  /** A call to this co-signer got no answer: excluded for EXCLUSION_MS (or until the probe hears from it). */
  failed(peer: { readonly index: number; readonly identityKey: string }, reason: NoAnswer): void {
    const r = this.#record(peer);
    const before = this.#why(r);
    const now = this.#now();
    r.failedAt = now;
    r.excludedUntil = now + EXCLUSION_MS;
    this.#events.excluded?.(peer.index, reason, r.excludedUntil);
    if (before === undefined) this.#events.changed?.();
  }

  /**
   * The reachability probe's verdict on a peer, for a ping sent at `sentAt` (epoch ms). An answer
   * clears `unreachable`, and lifts an exclusion from a failure before the ping was sent.
   */
  probed(peer: { readonly index: number; readonly identityKey: string }, answered: boolean, sentAt: number): void {
    const r = this.#record(peer);
    const before = this.#why(r);
    r.unreachable = !answered;
    if (answered && r.failedAt <= sentAt) r.excludedUntil = 0;
    if (before !== this.#why(r)) this.#events.changed?.();
  }

  #why(r: PeerRecord): Unavailability | undefined {
    if (r.excludedUntil > this.#now()) return 'excluded';
    return r.unreachable ? 'unreachable' : undefined;
  }

  /** Why this peer is left out of signer sets now, or undefined when it may be asked. */
  unavailability(identityKey: string): Unavailability | undefined {
    const r = this.#peers.get(identityKey);
    return r ? this.#why(r) : undefined;
  }

  /** The party numbers, among a key's holders, of the peers that may not be asked now. */
  unavailable(holders: readonly { readonly index: number; readonly identityKey: string }[]): Set<number> {
    const out = new Set<number>();
    for (const h of holders) if (this.unavailability(h.identityKey) !== undefined) out.add(h.index);
    return out;
  }

  /** The peers left out now, by the party number last seen, with the reason (for metrics). */
  snapshot(): Map<number, Unavailability> {
    const out = new Map<number, Unavailability>();
    for (const r of this.#peers.values()) {
      const why = this.#why(r);
      if (why !== undefined) out.set(r.index, why);
    }
    return out;
  }
}
