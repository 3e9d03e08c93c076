/**
 * Party identities: every protocol message is signed by its sender's identity key (P-256 ECDSA
 * over SHA-256, r‖s — IEEE P1363, as the HSM returns it, DESIGN §4). The protocol library only
 * needs something that signs and a way to verify; verification is OpenSSL's (node:crypto), with
 * each party's key parsed once.
 */
import { createPublicKey, ECDH, generateKeyPairSync, sign as osslSign, verify as osslVerify, type KeyObject } from 'node:crypto';

export interface Signer {
  /** 33-byte compressed P-256 public key. */
  readonly publicKey: Uint8Array;
  /** 64-byte r‖s signature over SHA-256(message). */
  sign(message: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

// SubjectPublicKeyInfo prefix of a compressed P-256 point (id-ecPublicKey, prime256v1).
const P256_SPKI_PREFIX = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex');
const keys = new Map<string, KeyObject | null>();
const MAX_CACHED_KEYS = 1024;

function publicKeyObject(publicKey: Uint8Array): KeyObject | null {
  const id = Buffer.from(publicKey).toString('hex');
  let k = keys.get(id);
  if (k === undefined) {
    try {
      k = publicKey.length === 33 ? createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }) : null;
    } catch {
      k = null; // not a point on P-256
    }
    if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value as string);
    keys.set(id, k);
  }
  return k;
}

export function verifyIdentitySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  const key = publicKeyObject(publicKey);
  if (!key) return false;
  try {
    return osslVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** An in-memory identity for the simulator and tests (the sidecar uses its HSM key instead). */
export function developmentSigner(): Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-65);
  const compressed = ECDH.convertKey(raw, 'prime256v1', undefined, undefined, 'compressed') as Buffer;
  return {
    publicKey: new Uint8Array(compressed),
    sign: (message) => new Uint8Array(osslSign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
  };
}
