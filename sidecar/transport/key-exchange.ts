/**
 * Per-session key exchange of the peer transport (DESIGN §4 "Peer transport"): hybrid X25519 +
 * ML-KEM-768, each party's ephemeral public keys signed by its identity key.
 *
 * 1. Every party sends every peer a hello { sid, sender, x25519Pub, mlkemPub }, signed under
 *    HELLO_TAG.
 * 2. For each pair i < j, party i encapsulates to j's ML-KEM key and sends j { sid, i, j,
 *    kemCiphertext }, signed under KEM_TAG.
 * 3. Both derive, with HKDF-SHA-256, one AES-256-GCM key per direction from both shared secrets
 *    (X25519 and ML-KEM), salted with the hash of everything public the pair exchanged: the
 *    session id, both indices, both X25519 public keys (the "ciphertexts" of the X25519 half),
 *    both ML-KEM public keys and the ML-KEM ciphertext. An attacker must break both X25519 and
 *    ML-KEM to learn a key, and cannot splice one pair's messages into another session or pair.
 *
 * Ephemeral secrets live only inside EphemeralKeys until `destroy`.
 */
import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { verifyIdentitySignature, type PartyIndex, type Signer } from '../../cggmp/protocols/index.ts';
import { encode } from '../../cggmp/transcript/index.ts';
import { TransportError } from './errors.ts';
import { MLKEM768_CIPHERTEXT_BYTES, MLKEM768_PUBLIC_BYTES, X25519_PUBLIC_BYTES, type HelloMessage, type KemMessage } from './wire.ts';

/** Domain tags: a hello signature can never be read as a KEM or envelope signature, nor the reverse. */
const HELLO_TAG = 'vilna-mpc/peer-transport/hello/v1';
const KEM_TAG = 'vilna-mpc/peer-transport/kem/v1';
const PAIR_TRANSCRIPT_TAG = 'vilna-mpc/peer-transport/pair-transcript/v1';
const DIRECTION_TAG = 'vilna-mpc/peer-transport/direction-key/v1';
/** AES-256 key length. */
export const DIRECTION_KEY_BYTES = 32;
/** SubjectPublicKeyInfo prefix of a raw X25519 public key (RFC 8410 §4: id-X25519, BIT STRING). */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** One party's ephemeral key pairs for one session. */
export interface EphemeralKeys {
  readonly x25519Pub: Uint8Array;
  readonly mlkemPub: Uint8Array;
  /** X25519 shared secret with a peer's public key. */
  agree(peerX25519Pub: Uint8Array): Uint8Array;
  /** ML-KEM-768 decapsulation of a ciphertext addressed to this party. */
  decapsulate(kemCiphertext: Uint8Array): Uint8Array;
  /** Drops the secret halves; every later use throws. */
  destroy(): void;
}

/** The public keys a hello carries. */
export interface HelloKeys {
  readonly x25519Pub: Uint8Array;
  readonly mlkemPub: Uint8Array;
}

/** The session as this party sees it: id, own number, and every participant's pinned identity key. */
export interface HandshakeContext {
  readonly sid: Uint8Array;
  readonly self: PartyIndex;
  readonly identities: ReadonlyMap<PartyIndex, Uint8Array>;
}

/** AES-256-GCM keys of one pair: this party → peer, and peer → this party. */
export interface DirectionKeys {
  readonly send: Uint8Array;
  readonly receive: Uint8Array;
}

function rejected(message: string, cause?: unknown): TransportError {
  return new TransportError('E_HANDSHAKE_REJECTED', message, cause === undefined ? {} : { cause });
}

export function createEphemeralKeys(): EphemeralKeys {
  const x = generateKeyPairSync('x25519');
  let xSecret: KeyObject | undefined = x.privateKey;
  const x25519Pub = new Uint8Array(x.publicKey.export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.length));
  const kem = ml_kem768.keygen();
  let kemSecret: Uint8Array | undefined = kem.secretKey;
  const destroyed = (): TransportError => new TransportError('E_SESSION_CLOSED', 'ephemeral keys were destroyed');
  return {
    x25519Pub,
    mlkemPub: kem.publicKey,
    agree(peerX25519Pub) {
      if (!xSecret) throw destroyed();
      if (peerX25519Pub.length !== X25519_PUBLIC_BYTES) throw rejected('x25519Pub: wrong length');
      try {
        const publicKey = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, peerX25519Pub]), format: 'der', type: 'spki' });
        // OpenSSL refuses low-order points (an all-zero shared secret, RFC 7748 §6.1).
        return new Uint8Array(diffieHellman({ privateKey: xSecret, publicKey }));
      } catch (e) {
        throw rejected('x25519Pub: not a usable X25519 public key', e);
      }
    },
    decapsulate(kemCiphertext) {
      if (!kemSecret) throw destroyed();
      if (kemCiphertext.length !== MLKEM768_CIPHERTEXT_BYTES) throw rejected('kemCiphertext: wrong length');
      // ML-KEM decapsulation never fails (implicit rejection): a forged ciphertext only yields a
      // key the sender does not have, and its messages then fail to decrypt.
      return ml_kem768.decapsulate(kemCiphertext, kemSecret);
    },
    destroy() {
      kemSecret?.fill(0);
      kemSecret = undefined;
      xSecret = undefined;
    },
  };
}

export function helloSigningBytes(sid: Uint8Array, sender: PartyIndex, keys: HelloKeys): Uint8Array {
  return encode(HELLO_TAG, [sid, sender, keys.x25519Pub, keys.mlkemPub]);
}

export function kemSigningBytes(sid: Uint8Array, sender: PartyIndex, recipient: PartyIndex, kemCiphertext: Uint8Array): Uint8Array {
  return encode(KEM_TAG, [sid, sender, recipient, kemCiphertext]);
}

export async function signHello(signer: Signer, sid: Uint8Array, sender: PartyIndex, keys: HelloKeys): Promise<HelloMessage> {
  const signature = await signer.sign(helloSigningBytes(sid, sender, keys));
  return { sid, sender, x25519Pub: keys.x25519Pub, mlkemPub: keys.mlkemPub, signature };
}

export async function signKem(signer: Signer, sid: Uint8Array, sender: PartyIndex, recipient: PartyIndex, kemCiphertext: Uint8Array): Promise<KemMessage> {
  const signature = await signer.sign(kemSigningBytes(sid, sender, recipient, kemCiphertext));
  return { sid, sender, recipient, kemCiphertext, signature };
}

function assertPeer(sender: PartyIndex, ctx: HandshakeContext, what: string): Uint8Array {
  const key = ctx.identities.get(sender);
  if (key === undefined || sender === ctx.self) throw new TransportError('E_UNKNOWN_SENDER', `${what} from party ${sender}, which is not a peer in this session`);
  return key;
}

/** Refuses a hello that is not this session's, not from a peer, or not signed by the peer's pinned identity key. */
export function verifyHello(h: HelloMessage, ctx: HandshakeContext): void {
  const key = assertPeer(h.sender, ctx, 'hello');
  if (Buffer.compare(h.sid, ctx.sid) !== 0) throw rejected(`hello of party ${h.sender} is for another session`);
  if (h.x25519Pub.length !== X25519_PUBLIC_BYTES || h.mlkemPub.length !== MLKEM768_PUBLIC_BYTES) throw rejected(`hello of party ${h.sender}: wrong key length`);
  if (!verifyIdentitySignature(key, helloSigningBytes(h.sid, h.sender, h), h.signature)) {
    throw rejected(`hello of party ${h.sender} is not signed by its pinned identity key`);
  }
}

/** Refuses a KEM message that is not this session's, not from a lower-numbered peer to this party, or badly signed. */
export function verifyKem(k: KemMessage, ctx: HandshakeContext): void {
  const key = assertPeer(k.sender, ctx, 'KEM ciphertext');
  if (Buffer.compare(k.sid, ctx.sid) !== 0) throw rejected(`KEM ciphertext of party ${k.sender} is for another session`);
  if (k.recipient !== ctx.self) throw rejected(`KEM ciphertext of party ${k.sender} is addressed to party ${k.recipient}`);
  if (k.sender > ctx.self) throw rejected(`KEM ciphertext from party ${k.sender}: only the lower-numbered party of a pair encapsulates`);
  if (!verifyIdentitySignature(key, kemSigningBytes(k.sid, k.sender, k.recipient, k.kemCiphertext), k.signature)) {
    throw rejected(`KEM ciphertext of party ${k.sender} is not signed by its pinned identity key`);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * The two direction keys of pair (low, high), from both shared secrets and the pair's public
 * transcript. Both parties compute the same two keys; each then picks its send and receive key.
 */
function derivePair(args: {
  sid: Uint8Array;
  low: PartyIndex;
  high: PartyIndex;
  lowHello: HelloKeys;
  highHello: HelloKeys;
  kemCiphertext: Uint8Array;
  x25519Shared: Uint8Array;
  kemShared: Uint8Array;
}): { lowToHigh: Uint8Array; highToLow: Uint8Array } {
  const transcript = encode(PAIR_TRANSCRIPT_TAG, [
    args.sid,
    args.low,
    args.high,
    args.lowHello.x25519Pub,
    args.highHello.x25519Pub,
    args.lowHello.mlkemPub,
    args.highHello.mlkemPub,
    args.kemCiphertext,
  ]);
  const salt = sha256(transcript);
  const ikm = concat(args.x25519Shared, args.kemShared);
  const lowToHigh = hkdf(sha256, ikm, salt, encode(DIRECTION_TAG, [args.low, args.high]), DIRECTION_KEY_BYTES);
  const highToLow = hkdf(sha256, ikm, salt, encode(DIRECTION_TAG, [args.high, args.low]), DIRECTION_KEY_BYTES);
  ikm.fill(0);
  return { lowToHigh, highToLow };
}

/**
 * The lower-numbered party's side of pair (self, peer > self): encapsulates to the peer's ML-KEM
 * key and derives the pair's keys. The KEM ciphertext goes to the peer, signed (signKem).
 */
export function initiatePair(keys: EphemeralKeys, ctx: HandshakeContext, peerHello: HelloMessage): { kemCiphertext: Uint8Array; keys: DirectionKeys } {
  verifyHello(peerHello, ctx);
  if (peerHello.sender < ctx.self) throw rejected(`party ${peerHello.sender} is the lower-numbered party of the pair and encapsulates itself`);
  let encapsulated: { cipherText: Uint8Array; sharedSecret: Uint8Array };
  try {
    encapsulated = ml_kem768.encapsulate(peerHello.mlkemPub);
  } catch (e) {
    throw rejected(`hello of party ${peerHello.sender}: not a valid ML-KEM-768 public key`, e);
  }
  const x25519Shared = keys.agree(peerHello.x25519Pub);
  const pair = derivePair({
    sid: ctx.sid,
    low: ctx.self,
    high: peerHello.sender,
    lowHello: keys,
    highHello: peerHello,
    kemCiphertext: encapsulated.cipherText,
    x25519Shared,
    kemShared: encapsulated.sharedSecret,
  });
  x25519Shared.fill(0);
  encapsulated.sharedSecret.fill(0);
  return { kemCiphertext: encapsulated.cipherText, keys: { send: pair.lowToHigh, receive: pair.highToLow } };
}

/** The higher-numbered party's side of pair (peer < self): decapsulates and derives the pair's keys. */
export function completePair(keys: EphemeralKeys, ctx: HandshakeContext, peerHello: HelloMessage, kem: KemMessage): DirectionKeys {
  verifyHello(peerHello, ctx);
  verifyKem(kem, ctx);
  if (kem.sender !== peerHello.sender) throw rejected('KEM ciphertext and hello come from different parties');
  const x25519Shared = keys.agree(peerHello.x25519Pub);
  const kemShared = keys.decapsulate(kem.kemCiphertext);
  const pair = derivePair({
    sid: ctx.sid,
    low: peerHello.sender,
    high: ctx.self,
    lowHello: peerHello,
    highHello: keys,
    kemCiphertext: kem.kemCiphertext,
    x25519Shared,
    kemShared,
  });
  x25519Shared.fill(0);
  kemShared.fill(0);
  return { send: pair.highToLow, receive: pair.lowToHigh };
}
