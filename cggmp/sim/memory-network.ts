/**
 * In-memory transport for one session: a Channel per party, delivery on a later tick (so the
 * order of arrival is not the order of sending), the same envelope check a real transport
 * applies (wrong session, round, recipient or signature: rejected and recorded, never
 * delivered), and a round timeout that reports who was missing.
 */
import { ABORT_ROUND, envelopeAcceptable, type Channel, type Envelope, type Msg, type PartyIndex } from '../protocols/channel.ts';
import { PeerAbortNotice, RoundTimeout } from '../protocols/abort.ts';

export interface MemoryNetwork {
  /** The channel of party `self`. */
  channel(self: PartyIndex): Channel;
  /** Raw delivery below the channel (what an adversary controls); still subject to the receiver's check. */
  deliver(to: PartyIndex, envelope: Envelope): void;
  /** Envelopes refused by receivers' checks, with the receiver. */
  readonly rejected: { readonly to: PartyIndex; readonly envelope: Envelope }[];
  /** Ends the session: every pending collect fails as a timeout with what it still missed. */
  close(): void;
}

interface Slot {
  broadcast?: Msg;
  p2p?: Msg;
}

export function memoryNetwork(opts: {
  sid: Uint8Array;
  parties: readonly PartyIndex[];
  identities: ReadonlyMap<PartyIndex, Uint8Array>;
  /** Per-round timeout; 0 waits forever. */
  timeoutMs?: number;
}): MemoryNetwork {
  const rejected: { to: PartyIndex; envelope: Envelope }[] = [];
  // inbox[to][round][from]
  const inbox = new Map<PartyIndex, Map<number, Map<PartyIndex, Slot>>>();
  const waiters = new Map<PartyIndex, Map<number, { readonly broadcastOnly: boolean; done(): void }>>();
  const cancels = new Set<() => void>();
  // The first abort announcement each party received, and the collects it must fail.
  const notices = new Map<PartyIndex, Envelope>();
  const failPending = new Map<PartyIndex, Set<(notice: Envelope) => void>>();
  for (const p of opts.parties) {
    inbox.set(p, new Map());
    waiters.set(p, new Map());
  }

  function complete(to: PartyIndex, round: number, broadcastOnly: boolean): boolean {
    const r = inbox.get(to)?.get(round);
    return opts.parties.every((p) => p === to || (r?.get(p)?.broadcast !== undefined && (broadcastOnly || r.get(p)?.p2p !== undefined)));
  }

  function deliver(to: PartyIndex, e: Envelope): void {
    setImmediate(() => {
      const box = inbox.get(to);
      if (!box) return;
      const kind = e.recipient === 0 ? 'broadcast' : 'p2p';
      if (!envelopeAcceptable(e, { sid: opts.sid, round: e.round, self: to, kind }, opts.identities)) {
        rejected.push({ to, envelope: e });
        return;
      }
      if (e.round === ABORT_ROUND) {
        if (kind !== 'broadcast' || notices.has(to)) return;
        notices.set(to, e);
        for (const fail of [...(failPending.get(to) ?? [])]) fail(e);
        return;
      }
      let round = box.get(e.round);
      if (!round) box.set(e.round, (round = new Map()));
      const slot = round.get(e.sender) ?? {};
      // First valid message per sender, round and kind wins; a later one is a replay.
      if (slot[kind] !== undefined) {
        rejected.push({ to, envelope: e });
        return;
      }
      slot[kind] = e;
      round.set(e.sender, slot);
      const waiter = waiters.get(to)?.get(e.round);
      if (waiter && complete(to, e.round, waiter.broadcastOnly)) waiter.done();
    });
  }

  function channel(self: PartyIndex): Channel {
    return {
      broadcast(_round, msg) {
        for (const p of opts.parties) if (p !== self) deliver(p, msg);
      },
      send(_round, to, msg) {
        deliver(to, msg);
      },
      collect(round, collectOpts = {}) {
        const broadcastOnly = collectOpts.broadcastOnly === true;
        return new Promise((resolve, reject) => {
          const announced = notices.get(self);
          if (announced) return reject(new PeerAbortNotice(announced));
          const onNotice = (notice: Envelope): void => {
            if (timer) clearTimeout(timer);
            waiters.get(self)?.delete(round);
            cancels.delete(cancel);
            failPending.get(self)?.delete(onNotice);
            reject(new PeerAbortNotice(notice));
          };
          const missing = (): PartyIndex[] => {
            const r = inbox.get(self)?.get(round);
            return opts.parties.filter((p) => p !== self && !(r?.get(p)?.broadcast && (broadcastOnly || r.get(p)?.p2p)));
          };
          const cancel = (): void => {
            if (timer) clearTimeout(timer);
            waiters.get(self)?.delete(round);
            cancels.delete(cancel);
            failPending.get(self)?.delete(onNotice);
            reject(new RoundTimeout(round, missing()));
          };
          const done = (): void => {
            if (timer) clearTimeout(timer);
            cancels.delete(cancel);
            failPending.get(self)?.delete(onNotice);
            waiters.get(self)?.delete(round);
            const r = inbox.get(self)?.get(round) ?? new Map<PartyIndex, Slot>();
            resolve(new Map([...r.entries()].map(([k, v]) => [k, { ...v }])));
          };
          const timer =
            opts.timeoutMs && opts.timeoutMs > 0
              ? setTimeout(cancel, opts.timeoutMs)
              : undefined;
          if (complete(self, round, broadcastOnly)) done();
          else {
            waiters.get(self)?.set(round, { broadcastOnly, done });
            cancels.add(cancel);
            let set = failPending.get(self);
            if (!set) failPending.set(self, (set = new Set()));
            set.add(onNotice);
          }
        });
      },
    };
  }

  return {
    channel,
    deliver,
    rejected,
    close() {
      for (const cancel of [...cancels]) cancel();
    },
  };
}
