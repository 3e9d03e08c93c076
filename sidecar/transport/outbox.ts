/**
 * Delivery queue of one session towards one peer (DESIGN §4 "Peer transport": sending never
 * blocks the protocol). Each body is retried (connection failures, "session not open yet")
 * until delivered, its deadline passes or the session closes. An answer of E_REPLAY after a retry
 * means an earlier attempt arrived; any other refusal is logged and the queue moves on.
 *
 * Order: point-to-point bodies go out one at a time in the order they were queued, since the
 * peer refuses a p2p seq that is not newer than the last (session-channel.ts); so do
 * broadcasts among themselves. A broadcast and a p2p body do not wait for each other: every
 * protocol round sends both to each peer (a broadcast and a p2p envelope, empty or not), and
 * sending them one after the other cost a second round trip per round — the online signing
 * round took 2 RTT instead of 1 over a WAN (test/wan, issue 11 item 4). The peer stores each by
 * its round, whichever comes first. A barrier (the key exchange's bodies, an abort
 * announcement) goes out only once everything queued before it is done, and holds back
 * everything queued after it: a peer sees an abort after the messages that preceded it.
 */
import type { PartyIndex } from '../../cggmp/protocols/index.ts';
import type { PeerClient } from './client.ts';
import type { TransportLogger } from './session-channel.ts';
import type { WireKind } from './wire.ts';

/** One attempt's timeout; a retried attempt may repeat a delivered body, which E_REPLAY answers. */
const ATTEMPT_TIMEOUT_MS = 5_000;

export interface Outbox {
  /** Queues a body; `barrier`: after everything queued before it, before everything after. */
  enqueue(kind: WireKind, body: Uint8Array, deadline: number, barrier?: boolean): void;
  /** Resolves once everything queued was delivered, dropped or given up on. */
  idle(): Promise<void>;
}

/** The bodies that may be in flight together: one broadcast and one of the others at a time. */
type Lane = 'broadcast' | 'ordered';

interface Item {
  readonly kind: WireKind;
  readonly body: Uint8Array;
  readonly deadline: number;
  readonly lane: Lane;
  readonly barrier: boolean;
  sending: boolean;
}

export function createOutbox(opts: {
  readonly client: PeerClient;
  readonly endpoint: string;
  /** Where peers mount the transport's router, e.g. "/v1/peer/transport". */
  readonly basePath: string;
  readonly peer: PartyIndex;
  readonly signal: AbortSignal;
  readonly logger: TransportLogger;
  readonly log: Record<string, unknown>;
  readonly onWire?: ((direction: 'out' | 'in', body: Uint8Array) => void) | undefined;
}): Outbox {
  /** Queued and in-flight bodies, oldest first; an item leaves when its delivery has ended. */
  const queue: Item[] = [];
  let idleWaiters: (() => void)[] = [];
  const log = { ...opts.log, peer: opts.peer };

  async function deliver(item: Item): Promise<void> {
    if (Date.now() >= item.deadline) {
      opts.logger.warn({ ...log, kind: item.kind }, 'message to peer dropped: its round timed out before delivery');
      return;
    }
    opts.onWire?.('out', item.body);
    try {
      const answer = await opts.client.request(opts.endpoint, `${opts.basePath}/${item.kind}`, item.body, {
        retries: Number.POSITIVE_INFINITY,
        retryUntil: item.deadline,
        timeoutMs: ATTEMPT_TIMEOUT_MS,
        signal: opts.signal,
      });
      if (answer.status >= 300) {
        const code = (answer.body as { error?: { code?: unknown } } | undefined)?.error?.code;
        if (code === 'E_REPLAY' && answer.attempts > 1) return;
        opts.logger.warn({ ...log, kind: item.kind, status: answer.status, code: typeof code === 'string' ? code : undefined }, 'peer refused a message');
      }
    } catch (e) {
      if (!opts.signal.aborted) opts.logger.warn({ ...log, kind: item.kind, code: (e as { code?: unknown }).code }, 'message to peer not delivered');
    }
  }

  /** Starts every queued body that nothing before it holds back. */
  function pump(): void {
    if (opts.signal.aborted) queue.length = 0;
    const busy = new Set<Lane>();
    for (const [at, item] of queue.entries()) {
      if (item.barrier && at > 0) break; // waits for everything before it
      if (!item.sending && !busy.has(item.lane)) {
        item.sending = true;
        void deliver(item).finally(() => {
          const i = queue.indexOf(item);
          if (i >= 0) queue.splice(i, 1); // gone already when the session was closed meanwhile
          pump();
        });
      }
      if (item.barrier) break; // holds back everything after it
      busy.add(item.lane);
    }
    if (queue.length === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  return {
    enqueue(kind, body, deadline, barrier = false) {
      if (opts.signal.aborted) return;
      queue.push({ kind, body, deadline, lane: kind === 'broadcast' ? 'broadcast' : 'ordered', barrier: barrier || kind === 'hello' || kind === 'kem', sending: false });
      pump();
    },
    idle() {
      if (queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
