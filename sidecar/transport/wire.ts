/**
 * Wire format of the peer transport (DESIGN §4 "Peer transport"): JSON bodies whose byte fields
 * are lowercase hex (session ids) or canonical base64 (everything else), checked on arrival with
 * zod for exact keys, integer ranges and byte lengths before anything else looks at them.
 *
 *   hello      { sid, sender, x25519Pub, mlkemPub, signature }            key exchange, to every peer
 *   kem        { sid, sender, recipient, kemCiphertext, signature }       key exchange, lower → higher index
 *   broadcast  { sid, sender, seq, envelope }                             signed envelope, in the clear
 *   p2p        { sid, sender, recipient, seq, ciphertext }                AES-256-GCM of the signed envelope
 */
import { z } from 'zod';
import { ABORT_ROUND, type Envelope, type PartyIndex } from '../../cggmp/protocols/index.ts';
import { TransportError } from './errors.ts';

/** Session ids are hashes: 16 to 64 bytes. */
export const SID_MIN_BYTES = 16;
export const SID_MAX_BYTES = 64;
/** Largest party number a session may name (parties are numbered 1..n). */
export const MAX_PARTY_INDEX = 1024;
/** X25519 public key (RFC 7748 §5). */
export const X25519_PUBLIC_BYTES = 32;
/** ML-KEM-768 encapsulation key and ciphertext (FIPS 203 Table 3). */
export const MLKEM768_PUBLIC_BYTES = 1184;
export const MLKEM768_CIPHERTEXT_BYTES = 1088;
/** P-256 identity signature r‖s (channel.ts, identity.ts). */
export const SIGNATURE_BYTES = 64;
/** AES-GCM authentication tag. */
export const GCM_TAG_BYTES = 16;
/** Upper bound of one envelope payload; the body limit of the listener is the tighter one. */
export const MAX_PAYLOAD_BYTES = 16 << 20;

export type WireKind = 'hello' | 'kem' | 'broadcast' | 'p2p';
export const WIRE_KINDS: readonly WireKind[] = ['hello', 'kem', 'broadcast', 'p2p'];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = /^(?:[0-9a-f]{2})+$/;

/** Canonical base64 of `min`..`max` bytes. */
function b64(min: number, max: number) {
  return z
    .string()
    .max(Math.ceil(max / 3) * 4)
    .regex(BASE64)
    .transform((s, ctx) => {
      const b = Buffer.from(s, 'base64');
      // Non-zero padding bits decode to the same bytes: only the canonical spelling is accepted.
      if (b.toString('base64') !== s || b.length < min || b.length > max) {
        ctx.addIssue({ code: 'custom', message: `expected ${min === max ? min : `${min}..${max}`} bytes of canonical base64` });
        return z.NEVER;
      }
      return new Uint8Array(b);
    });
}

const sidHex = z
  .string()
  .min(SID_MIN_BYTES * 2)
  .max(SID_MAX_BYTES * 2)
  .regex(HEX)
  .transform((s) => new Uint8Array(Buffer.from(s, 'hex')));
const party = z.number().int().min(1).max(MAX_PARTY_INDEX);
const recipient = z.number().int().min(0).max(MAX_PARTY_INDEX);
const round = z.number().int().min(0).max(ABORT_ROUND);
const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** A signed envelope of channel.ts. The signature may be short or empty: the envelope check refuses it. */
export const envelopeSchema = z.strictObject({
  sid: sidHex,
  round,
  sender: party,
  recipient,
  payload: b64(0, MAX_PAYLOAD_BYTES),
  signature: b64(0, SIGNATURE_BYTES),
});

export const helloSchema = z.strictObject({
  sid: sidHex,
  sender: party,
  x25519Pub: b64(X25519_PUBLIC_BYTES, X25519_PUBLIC_BYTES),
  mlkemPub: b64(MLKEM768_PUBLIC_BYTES, MLKEM768_PUBLIC_BYTES),
  signature: b64(SIGNATURE_BYTES, SIGNATURE_BYTES),
});

export const kemSchema = z.strictObject({
  sid: sidHex,
  sender: party,
  recipient: party,
  kemCiphertext: b64(MLKEM768_CIPHERTEXT_BYTES, MLKEM768_CIPHERTEXT_BYTES),
  signature: b64(SIGNATURE_BYTES, SIGNATURE_BYTES),
});

export const broadcastSchema = z.strictObject({ sid: sidHex, sender: party, seq, envelope: envelopeSchema });

export const p2pSchema = z.strictObject({
  sid: sidHex,
  sender: party,
  recipient: party,
  seq,
  ciphertext: b64(GCM_TAG_BYTES, MAX_PAYLOAD_BYTES),
});

export interface HelloMessage {
  readonly sid: Uint8Array;
  readonly sender: PartyIndex;
  readonly x25519Pub: Uint8Array;
  readonly mlkemPub: Uint8Array;
  readonly signature: Uint8Array;
}

export interface KemMessage {
  readonly sid: Uint8Array;
  readonly sender: PartyIndex;
  readonly recipient: PartyIndex;
  readonly kemCiphertext: Uint8Array;
  readonly signature: Uint8Array;
}

export interface BroadcastMessage {
  readonly sid: Uint8Array;
  readonly sender: PartyIndex;
  readonly seq: number;
  readonly envelope: Envelope;
}

export interface P2pMessage {
  readonly sid: Uint8Array;
  readonly sender: PartyIndex;
  readonly recipient: PartyIndex;
  readonly seq: number;
  readonly ciphertext: Uint8Array;
}

export type WireMessage =
  | { readonly kind: 'hello'; readonly message: HelloMessage }
  | { readonly kind: 'kem'; readonly message: KemMessage }
  | { readonly kind: 'broadcast'; readonly message: BroadcastMessage }
  | { readonly kind: 'p2p'; readonly message: P2pMessage };

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

const utf8 = new TextEncoder();

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new TransportError('E_MALFORMED', 'body is not JSON');
  }
}

/** Parses with `schema`; the error names the first failing field, never its value. */
function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const at = issue && issue.path.length > 0 ? issue.path.join('.') : '(body)';
    throw new TransportError('E_MALFORMED', `${what}: ${at}: ${issue?.code ?? 'invalid'}`);
  }
  return r.data;
}

/** Decodes a received body of `kind`; E_MALFORMED unless it has exactly the expected shape. */
export function decodeWire(kind: WireKind, bytes: Uint8Array): WireMessage {
  const value = parseJson(bytes);
  switch (kind) {
    case 'hello':
      return { kind, message: parseWith(helloSchema, value, kind) };
    case 'kem':
      return { kind, message: parseWith(kemSchema, value, kind) };
    case 'broadcast':
      return { kind, message: parseWith(broadcastSchema, value, kind) };
    case 'p2p':
      return { kind, message: parseWith(p2pSchema, value, kind) };
  }
}

/** Decodes the plaintext of a p2p message: one signed envelope. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return parseWith(envelopeSchema, parseJson(bytes), 'envelope');
}

export function envelopeToJson(e: Envelope): Record<string, string | number> {
  return { sid: hex(e.sid), round: e.round, sender: e.sender, recipient: e.recipient, payload: base64(e.payload), signature: base64(e.signature) };
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  return utf8.encode(JSON.stringify(envelopeToJson(e)));
}

/** The JSON bytes of a message, as sent. */
export function encodeWire(m: WireMessage): Uint8Array {
  let json: Record<string, unknown>;
  switch (m.kind) {
    case 'hello': {
      const h = m.message;
      json = { sid: hex(h.sid), sender: h.sender, x25519Pub: base64(h.x25519Pub), mlkemPub: base64(h.mlkemPub), signature: base64(h.signature) };
      break;
    }
    case 'kem': {
      const k = m.message;
      json = { sid: hex(k.sid), sender: k.sender, recipient: k.recipient, kemCiphertext: base64(k.kemCiphertext), signature: base64(k.signature) };
      break;
    }
    case 'broadcast': {
      const b = m.message;
      json = { sid: hex(b.sid), sender: b.sender, seq: b.seq, envelope: envelopeToJson(b.envelope) };
      break;
    }
    case 'p2p': {
      const p = m.message;
      json = { sid: hex(p.sid), sender: p.sender, recipient: p.recipient, seq: p.seq, ciphertext: base64(p.ciphertext) };
      break;
    }
  }
  return utf8.encode(JSON.stringify(json));
}

export function sidHexOf(sid: Uint8Array): string {
  return hex(sid);
}
