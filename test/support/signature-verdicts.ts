/**
 * Verdicts on a reported ECDSA signature from two implementations we did not write: @noble/curves
 * over the digest, and OpenSSL (node:crypto) over the message where OpenSSL can hash it (sha256,
 * and sha256d as sha256 of the first hash). Free of vitest, so the soak (`npm run soak`) uses it
 * too; the tests' assertion is expectSignatureValid in signatures.ts.
 */
import { createHash, createPublicKey, verify as osslVerify, type KeyObject } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';

/** SubjectPublicKeyInfo prefix of a compressed secp256k1 point (RFC 5480). */
const SECP256K1_SPKI_PREFIX = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');

export interface ReportedSignature {
  readonly message: string;
  readonly hash: string;
  readonly digest: string;
  readonly r: string;
  readonly s: string;
  readonly der: string;
  readonly publicKey: string;
}

export function secp256k1Key(compressedHex: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([SECP256K1_SPKI_PREFIX, Buffer.from(compressedHex, 'hex')]), format: 'der', type: 'spki' });
}

export function digestOf(message: Buffer, hash: string): Buffer {
  if (hash === 'sha256') return createHash('sha256').update(message).digest();
  if (hash === 'sha256d') return createHash('sha256').update(createHash('sha256').update(message).digest()).digest();
  if (hash === 'keccak256') return Buffer.from(keccak_256(message));
  return message; // "none": the message is the digest
}

/** OpenSSL's verdict where it can check the message itself; undefined for keccak256 and bare digests. */
export function opensslVerdict(sig: ReportedSignature): boolean | undefined {
  const message = Buffer.from(sig.message, 'hex');
  const signed = sig.hash === 'sha256' ? message : sig.hash === 'sha256d' ? createHash('sha256').update(message).digest() : undefined;
  return signed === undefined ? undefined : osslVerify('sha256', signed, secp256k1Key(sig.publicKey), Buffer.from(sig.der, 'hex'));
}

/** What is wrong with a reported signature, empty when the digest is the message's and both verifiers accept it. */
export function signatureProblems(sig: ReportedSignature): string[] {
  const problems: string[] = [];
  if (sig.digest !== digestOf(Buffer.from(sig.message, 'hex'), sig.hash).toString('hex')) problems.push('digest is not the hash of the message');
  const compact = Buffer.concat([Buffer.from(sig.r, 'hex'), Buffer.from(sig.s, 'hex')]);
  let noble = false;
  try {
    noble = secp256k1.verify(compact, Buffer.from(sig.digest, 'hex'), Buffer.from(sig.publicKey, 'hex'), { prehash: false });
  } catch {
    // malformed r, s or key: noble's verdict is "no"
  }
  if (!noble) problems.push('@noble/curves rejects it');
  if (opensslVerdict(sig) === false) problems.push('OpenSSL rejects it');
  return problems;
}
