/**
 * Point-to-point encryption (DESIGN §4 "Peer transport"): the signed envelope round-trips under
 * the direction key, and any change to the ciphertext, the authenticated header or the key is
 * refused with E_DECRYPT; the nonce follows the sequence number.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TransportError } from './errors.ts';
import { openP2p, sealP2p, type P2pHeader } from './p2p-cipher.ts';

const key = new Uint8Array(randomBytes(32));
const header: P2pHeader = { sid: new Uint8Array(randomBytes(32)), sender: 1, recipient: 2, seq: 5 };
const plaintext = new TextEncoder().encode('{"payload":"a share that must stay secret"}');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as TransportError).code;
  }
  return 'opened';
}

describe('p2p encryption', () => {
  it('opens what it sealed, and the ciphertext does not contain the plaintext', () => {
    const sealed = sealP2p(key, header, plaintext);
    expect(sealed).toHaveLength(plaintext.length + 16);
    expect(Buffer.from(sealed).includes(Buffer.from('share'))).toBe(false);
    expect(Buffer.from(openP2p(key, header, sealed)).toString()).toBe(Buffer.from(plaintext).toString());
  });

  it('refuses a flipped ciphertext or tag bit', () => {
    const sealed = sealP2p(key, header, plaintext);
    for (const at of [0, sealed.length - 1]) {
      const bad = new Uint8Array(sealed);
      bad[at] = (bad[at] as number) ^ 0x01;
      expect(codeOf(() => openP2p(key, header, bad))).toBe('E_DECRYPT');
    }
    expect(codeOf(() => openP2p(key, header, sealed.subarray(0, 10)))).toBe('E_DECRYPT');
  });

  it('refuses the ciphertext under another session, sender, recipient or sequence number', () => {
    const sealed = sealP2p(key, header, plaintext);
    const variants: P2pHeader[] = [
      { ...header, sid: new Uint8Array(randomBytes(32)) },
      { ...header, sender: 3 },
      { ...header, recipient: 3 },
      { ...header, seq: 6 },
    ];
    for (const h of variants) expect(codeOf(() => openP2p(key, h, sealed))).toBe('E_DECRYPT');
  });

  it('refuses the ciphertext under another key (the other direction of the pair)', () => {
    const sealed = sealP2p(key, header, plaintext);
    expect(codeOf(() => openP2p(new Uint8Array(randomBytes(32)), header, sealed))).toBe('E_DECRYPT');
  });

  it('encrypts the same plaintext differently under successive sequence numbers', () => {
    const a = sealP2p(key, { ...header, seq: 1 }, plaintext);
    const b = sealP2p(key, { ...header, seq: 2 }, plaintext);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(codeOf(() => sealP2p(key, { ...header, seq: 0 }, plaintext))).toBe('E_INVALID_ARGUMENT');
  });
});
