/**
 * The channel abstraction of DESIGN §3: one per party per session; the same protocol code runs
 * over the in-memory simulator, an adversarial channel in tests, and HTTP in the sidecar.
 * A message is an Envelope signed by its sender over (session id, round, sender, recipient,
 * SHA-256 of the payload), so two conflicting signed messages prove equivocation and a bad
 * payload can be shown to others. Every round, each party sends one broadcast and one
 * point-to-point message to every other party (an empty record where the round has nothing).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { InvalidInputError } from '../errors.ts';
import { encode } from '../transcript/index.ts';
import { verifyIdentitySignature, type Signer } from './identity.ts';

/** 1-based party number. */
export type PartyIndex = number;

/** Recipient number of a broadcast envelope. */
export const BROADCAST = 0;

/**
 * Largest party number (the transport's and the plans' bound). Party 0 is BROADCAST: a keygen
 * dealer asked to send f_i(0) would hand out its whole secret contribution.
 */
export const MAX_PARTY_INDEX = 1024;

/** A list of party numbers: each an integer in [1, MAX_PARTY_INDEX], strictly ascending (so distinct). */
export function assertPartyList(list: readonly PartyIndex[], field: string): void {
  if (!Array.isArray(list) || list.length === 0) throw new InvalidInputError(field, 'not a non-empty list');
  list.forEach((p, k) => {
    if (!Number.isSafeInteger(p) || p < 1 || p > MAX_PARTY_INDEX) throw new InvalidInputError(field, `party numbers must lie in [1, ${MAX_PARTY_INDEX}]`);
    if (k > 0 && p <= list[k - 1]!) throw new InvalidInputError(field, 'party numbers must be distinct and ascending');
  });
}

/**
 * Round number of an abort announcement: a participant that aborts broadcasts its ProtocolAbort
 * (with evidence) on this round, and every Channel's pending and later collects of that session
 * fail with PeerAbortNotice, so no honest party waits for a round that will never complete.
 */
export const ABORT_ROUND = 0xffff;

export interface Envelope {
  readonly sid: Uint8Array;
  readonly round: number;
  readonly sender: PartyIndex;
  /** BROADCAST (0) or the 1-based recipient. */
  readonly recipient: PartyIndex;
  /** Canonical encoding (transcript/encode.ts) of the round's message. */
  readonly payload: Uint8Array;
  /** Sender's identity signature over `envelopeSigningBytes`. */
  readonly signature: Uint8Array;
}

export type Msg = Envelope;

export interface Channel {
  broadcast(round: number, msg: Msg): void;
  send(round: number, to: PartyIndex, msg: Msg): void;
  /**
   * Resolves once every other party of the session has delivered, for `round`, one broadcast
   * and one point-to-point message addressed here that passed the transport's envelope check —
   * or only the broadcasts, for a round whose point-to-point messages carry nothing
   * (`broadcastOnly`: they are still sent, and whichever has arrived is in the result).
   * Rejects with RoundTimeout when the round does not complete in time, and with
   * PeerAbortNotice once a participant's abort announcement (ABORT_ROUND) has arrived.
   */
  collect(round: number, opts?: CollectOptions): Promise<Map<PartyIndex, { broadcast?: Msg; p2p?: Msg }>>;
}

export interface CollectOptions {
  /** The round's point-to-point messages are empty: do not wait for them. */
  readonly broadcastOnly?: boolean;
}

const SIGNING_TAG = 'vilna-mpc/cggmp24/envelope/v1';

export function payloadDigest(payload: Uint8Array): Uint8Array {
  return sha256(payload);
}

/** The bytes a sender signs: they commit to the payload through its digest only. */
export function envelopeSigningBytes(
  sid: Uint8Array,
  round: number,
  sender: PartyIndex,
  recipient: PartyIndex,
  digest: Uint8Array,
): Uint8Array {
  return encode(SIGNING_TAG, [sid, round, sender, recipient, digest]);
}

export async function sealEnvelope(
  signer: Signer,
  sid: Uint8Array,
  round: number,
  sender: PartyIndex,
  recipient: PartyIndex,
  payload: Uint8Array,
): Promise<Envelope> {
  const signature = await signer.sign(envelopeSigningBytes(sid, round, sender, recipient, payloadDigest(payload)));
  return { sid, round, sender, recipient, payload, signature };
}

// Envelopes already verified, with the key that verified them: the transport checks an envelope
// on arrival and the session again on use; the second check is then free.
const verified = new WeakMap<Envelope, Uint8Array>();

/** Whether the envelope's signature is its claimed sender's over its own fields. */
export function envelopeSignatureValid(e: Envelope, identities: ReadonlyMap<PartyIndex, Uint8Array>): boolean {
  const key = identities.get(e.sender);
  if (!key || !(e.payload instanceof Uint8Array)) return false;
  const known = verified.get(e);
  if (known && sameBytes(known, key)) return true;
  const ok = verifyIdentitySignature(key, envelopeSigningBytes(e.sid, e.round, e.sender, e.recipient, payloadDigest(e.payload)), e.signature);
  if (ok) verified.set(e, key);
  return ok;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

/**
 * The transport-level check every receiver applies before accepting an envelope: this session,
 * this round, addressed to `self` (or broadcast), from a known party other than `self`, validly
 * signed. A failing envelope is rejected, never delivered to the protocol.
 */
export function envelopeAcceptable(
  e: Envelope,
  expect: { sid: Uint8Array; round: number; self: PartyIndex; kind: 'broadcast' | 'p2p' },
  identities: ReadonlyMap<PartyIndex, Uint8Array>,
): boolean {
  if (!(e.sid instanceof Uint8Array) || !sameBytes(e.sid, expect.sid)) return false;
  if (e.round !== expect.round || e.sender === expect.self || !identities.has(e.sender)) return false;
  if (expect.kind === 'broadcast' ? e.recipient !== BROADCAST : e.recipient !== expect.self) return false;
  return envelopeSignatureValid(e, identities);
}

export { sameBytes };

/** An envelope as a value (to carry signed envelopes inside another message, e.g. as evidence). */
export function envelopeValue(e: Envelope): { [k: string]: number | Uint8Array } {
  return { sid: e.sid, round: e.round, sender: e.sender, recipient: e.recipient, payload: e.payload, signature: e.signature };
}
