/**
 * Delivery queue of one session towards one peer (DESIGN §4 "Peer transport": sending never
 * blocks the protocol). Bodies go out one at a time in the order they were queued, so the peer
 * sees each direction's sequence numbers increase; each is retried (connection failures, "session
 * not open yet") until delivered, its deadline passes or the session closes. An answer of
 * E_REPLAY after a retry means an earlier attempt arrived; any other refusal is logged and the
 * queue moves on.
 */
import type { PartyIndex } from '../../cggmp/protocols/index.ts';
import type { PeerClient } from './client.ts';
import type { TransportLogger } from './session-channel.ts';
import type { WireKind } from './wire.ts';

/** One attempt's timeout; a retried attempt may repeat a delivered body, which E_REPLAY answers. */
const ATTEMPT_TIMEOUT_MS = 5_000;

export interface Outbox {
  enqueue(kind: WireKind, body: Uint8Array, deadline: number): void;
  /** Resolves once everything queued was delivered, dropped or given up on. */
  idle(): Promise<void>;
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
  const queue: { kind: WireKind; body: Uint8Array; deadline: number }[] = [];
  let draining = false;
  let idleWaiters: (() => void)[] = [];
  const log = { ...opts.log, peer: opts.peer };

  async function drain(): Promise<void> {
    draining = true;
    try {
      for (let item = queue.shift(); item && !opts.signal.aborted; item = queue.shift()) {
        if (Date.now() >= item.deadline) {
          opts.logger.warn({ ...log, kind: item.kind }, 'message to peer dropped: its round timed out before delivery');
          continue;
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
            if (code === 'E_REPLAY' && answer.attempts > 1) continue;
            opts.logger.warn({ ...log, kind: item.kind, status: answer.status, code: typeof code === 'string' ? code : undefined }, 'peer refused a message');
          }
        } catch (e) {
          if (!opts.signal.aborted) opts.logger.warn({ ...log, kind: item.kind, code: (e as { code?: unknown }).code }, 'message to peer not delivered');
        }
      }
    } finally {
      draining = false;
      if (opts.signal.aborted) queue.length = 0;
      if (queue.length > 0 && !opts.signal.aborted) void drain();
      else {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  return {
    enqueue(kind, body, deadline) {
      if (opts.signal.aborted) return;
      queue.push({ kind, body, deadline });
      if (!draining) void drain();
    },
    idle() {
      if (!draining && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
