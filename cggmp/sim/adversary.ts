/**
 * The adversarial channel (DESIGN §7): wraps a corrupt party's channel and, holding that party's
 * signing key, can drop, delay, replay, tamper with (decode, change, re-encode, re-sign) or
 * equivocate (different broadcasts to different parties) its outgoing messages. Corruption lives
 * here and in test inputs, never behind a switch in the protocol code.
 */
import { BROADCAST, sealEnvelope, type Channel, type Envelope, type PartyIndex } from '../protocols/channel.ts';
import type { Signer } from '../protocols/identity.ts';
import { decodeValue, encodeValue, type Decoded, type Encodable } from '../transcript/index.ts';
import type { MemoryNetwork } from './memory-network.ts';
import type { Session } from '../protocols/session.ts';

export interface OutgoingMessage {
  readonly round: number;
  /** BROADCAST (0) or the recipient. */
  readonly recipient: PartyIndex;
  readonly value: Decoded;
  readonly envelope: Envelope;
}

/**
 * What the adversary does with one outgoing message: `undefined` passes it unchanged; a value
 * replaces the payload (re-signed); `{ perRecipient }` sends each recipient its own version of a
 * broadcast (equivocation); `{ drop: true }` drops it; `{ delayMs }` holds it back (reordering);
 * `{ raw }` sends envelopes as they are (replays, wrong signatures, other sessions).
 */
export type Tamper =
  | undefined
  | { readonly value: Encodable }
  | { readonly perRecipient: (to: PartyIndex) => Encodable }
  | { readonly drop: true }
  | { readonly delayMs: number }
  /** Arbitrary payload bytes, signed: e.g. something that is not the canonical encoding. */
  | { readonly payload: Uint8Array }
  | { readonly raw: readonly { to: PartyIndex; envelope: Envelope }[] };

export type Behaviour = (m: OutgoingMessage) => Tamper;

export function adversarialChannel(opts: {
  self: PartyIndex;
  parties: readonly PartyIndex[];
  signer: Signer;
  sid: Uint8Array;
  inner: Channel;
  net: MemoryNetwork;
  behaviour: Behaviour;
}): Channel {
  const { self, parties, signer, sid, inner, net, behaviour } = opts;
  // Sends are applied in order even though re-signing is asynchronous.
  let queue: Promise<void> = Promise.resolve();
  const enqueue = (work: () => Promise<void>): void => {
    queue = queue.then(work).catch(() => undefined);
  };

  function handle(e: Envelope, defaultSend: () => void): void {
    enqueue(async () => {
      const t = behaviour({ round: e.round, recipient: e.recipient, value: decodeValue(e.payload), envelope: e });
      if (t === undefined) return defaultSend();
      if ('drop' in t) return;
      if ('delayMs' in t) {
        // Held back, then sent unchanged: later messages of this party overtake it.
        setTimeout(defaultSend, t.delayMs);
        return;
      }
      if ('raw' in t) {
        for (const r of t.raw) net.deliver(r.to, r.envelope);
        return;
      }
      const targets = e.recipient === BROADCAST ? parties.filter((p) => p !== self) : [e.recipient];
      for (const to of targets) {
        const payload = 'payload' in t ? t.payload : encodeValue('value' in t ? t.value : t.perRecipient(to));
        const resealed = await sealEnvelope(signer, sid, e.round, self, e.recipient, payload);
        net.deliver(to, resealed);
      }
    });
  }

  return {
    broadcast(round, msg) {
      handle(msg, () => inner.broadcast(round, msg));
    },
    send(round, to, msg) {
      handle(msg, () => inner.send(round, to, msg));
    },
    collect(round, opts) {
      // An honest channel has handed a party's sends over before it collects; the re-signing above
      // is asynchronous, so wait for it. Otherwise the party could finish the protocol and close
      // its session before its own last (altered) message went out, and the others would time out.
      return queue.then(() => inner.collect(round, opts));
    },
  };
}

/**
 * A corrupt party that lies in what it sends but otherwise follows the protocol with the lie
 * (it believes its own altered broadcast, e.g. a wrong δ share that it then opens honestly):
 * the change is made before the message is sealed, below the protocol code.
 */
export type SessionTamper = (round: number, recipient: PartyIndex, value: Encodable) => Encodable | undefined;

export function corruptSession(session: Session, tamper: SessionTamper): Session {
  return {
    ...session,
    send(round, broadcast, p2p) {
      const b = tamper(round, BROADCAST, broadcast) ?? broadcast;
      return session.send(round, b, p2p ? (to) => {
        const v = p2p(to);
        return tamper(round, to, v) ?? v;
      } : undefined);
    },
  };
}
