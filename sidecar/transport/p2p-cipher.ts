/**
 * Encryption of point-to-point messages (DESIGN §4 "Peer transport": point-to-point payloads are
 * encrypted under the derived keys, the signed message sits inside the encryption): AES-256-GCM
 * under the sender → recipient direction key, the 96-bit nonce built from the message's sequence
 * number, and (sid, sender, recipient, seq) authenticated as associated data.
 *
 * Nonce uniqueness: each direction key belongs to one ordered pair of one session, and the
 * sender's seq for that direction strictly increases, so no (key, nonce) pair ever repeats.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { PartyIndex } from '../../cggmp/protocols/index.ts';
import { encode } from '../../cggmp/transcript/index.ts';
import { TransportError } from './errors.ts';
import { GCM_TAG_BYTES } from './wire.ts';

const AAD_TAG = 'vilna-mpc/peer-transport/p2p/v1';
/** GCM nonce: 4 zero bytes ‖ seq as u64 big-endian (NIST SP 800-38D §8.2.1, deterministic construction). */
const NONCE_BYTES = 12;

/** The public header of a p2p message, authenticated with its ciphertext. */
export interface P2pHeader {
  readonly sid: Uint8Array;
  readonly sender: PartyIndex;
  readonly recipient: PartyIndex;
  readonly seq: number;
}

function nonceOf(seq: number): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new TransportError('E_INVALID_ARGUMENT', 'seq must be a positive safe integer');
  const nonce = Buffer.alloc(NONCE_BYTES);
  nonce.writeBigUInt64BE(BigInt(seq), NONCE_BYTES - 8);
  return nonce;
}

function aadOf(h: P2pHeader): Uint8Array {
  return encode(AAD_TAG, [h.sid, h.sender, h.recipient, h.seq]);
}

/** ciphertext ‖ 16-byte tag. */
export function sealP2p(key: Uint8Array, h: P2pHeader, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, nonceOf(h.seq), { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aadOf(h));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/** The plaintext, or E_DECRYPT when ciphertext, tag or header were altered or the key is not the sender's. */
export function openP2p(key: Uint8Array, h: P2pHeader, sealed: Uint8Array): Uint8Array {
  if (sealed.length < GCM_TAG_BYTES) throw new TransportError('E_DECRYPT', `message ${h.seq} from party ${h.sender} is shorter than its tag`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonceOf(h.seq), { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(aadOf(h));
    decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
    const out = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES)), decipher.final()]);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new TransportError('E_DECRYPT', `message ${h.seq} from party ${h.sender} does not authenticate under the pair's key`, { cause: e });
  }
}
