/**
 * The wire format (DESIGN §4 "Peer transport"): bodies round-trip, and anything but exactly the
 * expected keys, ranges and byte lengths in canonical encodings is refused with E_MALFORMED.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../cggmp/protocols/index.ts';
import type { TransportError } from './errors.ts';
import { decodeEnvelope, decodeWire, encodeEnvelope, encodeWire, type WireKind } from './wire.ts';

const sid = new Uint8Array(randomBytes(32));
const envelope: Envelope = { sid, round: 2, sender: 1, recipient: 0, payload: new Uint8Array(randomBytes(40)), signature: new Uint8Array(randomBytes(64)) };
const utf8 = new TextEncoder();

function json(kind: WireKind, value: unknown): string {
  try {
    decodeWire(kind, utf8.encode(JSON.stringify(value)));
  } catch (e) {
    return (e as TransportError).code;
  }
  return 'decoded';
}

function broadcastJson(): Record<string, unknown> {
  return JSON.parse(Buffer.from(encodeWire({ kind: 'broadcast', message: { sid, sender: 1, seq: 1, envelope } })).toString()) as Record<string, unknown>;
}

describe('wire format', () => {
  it('round-trips every kind of body', () => {
    const hello = { sid, sender: 2, x25519Pub: new Uint8Array(32).fill(9), mlkemPub: new Uint8Array(1184).fill(1), signature: new Uint8Array(64).fill(2) };
    const kem = { sid, sender: 1, recipient: 2, kemCiphertext: new Uint8Array(1088).fill(3), signature: new Uint8Array(64).fill(4) };
    const p2p = { sid, sender: 1, recipient: 3, seq: 9, ciphertext: new Uint8Array(randomBytes(80)) };
    expect(decodeWire('hello', encodeWire({ kind: 'hello', message: hello })).message).toEqual(hello);
    expect(decodeWire('kem', encodeWire({ kind: 'kem', message: kem })).message).toEqual(kem);
    expect(decodeWire('p2p', encodeWire({ kind: 'p2p', message: p2p })).message).toEqual(p2p);
    expect(decodeWire('broadcast', encodeWire({ kind: 'broadcast', message: { sid, sender: 1, seq: 1, envelope } })).message).toEqual({ sid, sender: 1, seq: 1, envelope });
    expect(decodeEnvelope(encodeEnvelope(envelope))).toEqual(envelope);
  });

  it('refuses bodies that are not JSON', () => {
    expect(() => decodeWire('broadcast', utf8.encode('{"sid":'))).toThrow(expect.objectContaining({ code: 'E_MALFORMED' }));
  });

  it('refuses extra or missing keys', () => {
    expect(json('broadcast', { ...broadcastJson(), extra: 1 })).toBe('E_MALFORMED');
    const noSeq = broadcastJson();
    delete noSeq['seq'];
    expect(json('broadcast', noSeq)).toBe('E_MALFORMED');
    const body = broadcastJson();
    expect(json('broadcast', { ...body, envelope: { ...(body['envelope'] as object), more: 'x' } })).toBe('E_MALFORMED');
    expect(json('broadcast', body)).toBe('decoded');
  });

  it('refuses out-of-range numbers and wrong types', () => {
    expect(json('broadcast', { ...broadcastJson(), seq: 0 })).toBe('E_MALFORMED');
    expect(json('broadcast', { ...broadcastJson(), seq: 1.5 })).toBe('E_MALFORMED');
    expect(json('broadcast', { ...broadcastJson(), sender: 0 })).toBe('E_MALFORMED');
    expect(json('broadcast', { ...broadcastJson(), sender: '1' })).toBe('E_MALFORMED');
    const body = broadcastJson();
    expect(json('broadcast', { ...body, envelope: { ...(body['envelope'] as object), round: 0x10000 } })).toBe('E_MALFORMED');
  });

  it('refuses wrong byte lengths, uppercase or short session ids and non-canonical base64', () => {
    const hello = JSON.parse(
      Buffer.from(encodeWire({ kind: 'hello', message: { sid, sender: 2, x25519Pub: new Uint8Array(32), mlkemPub: new Uint8Array(1184), signature: new Uint8Array(64) } })).toString(),
    ) as Record<string, string>;
    expect(json('hello', hello)).toBe('decoded');
    expect(json('hello', { ...hello, x25519Pub: Buffer.alloc(31).toString('base64') })).toBe('E_MALFORMED');
    expect(json('hello', { ...hello, signature: Buffer.alloc(65).toString('base64') })).toBe('E_MALFORMED');
    expect(json('hello', { ...hello, sid: (hello['sid'] as string).toUpperCase() })).toBe('E_MALFORMED');
    expect(json('hello', { ...hello, sid: 'ab'.repeat(8 - 1) })).toBe('E_MALFORMED');
    // Setting the unused low bits of the last character decodes to the same bytes: refused, as is
    // base64 without its padding.
    const x = hello['x25519Pub'] as string;
    expect(json('hello', { ...hello, x25519Pub: `${x.slice(0, -2)}B=` })).toBe('E_MALFORMED');
    expect(json('hello', { ...hello, x25519Pub: x.replace(/=+$/, '') })).toBe('E_MALFORMED');
  });
});
