/**
 * BIP32 extended public keys (BIP32 "Serialization format", "Key identifiers"): the 78-byte
 * record version ‖ depth ‖ parent fingerprint ‖ child number ‖ chain code ‖ serP(K) in
 * Base58Check, mainnet `xpub` version only. Private extended keys are never produced or accepted:
 * nobody holds the threshold key's private key.
 */
import { base58, createBase58check } from '@scure/base';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { InvalidInputError } from '../errors.ts';
import { assertPoint, decodePoint, encodePoint, type Point } from '../curve/index.ts';
import { assertChainCode, walkPath } from './derive.ts';
import { MAX_DEPTH, parsePath, type DerivationPath } from './path.ts';

/** BIP32 mainnet public version bytes ("xpub"). */
export const XPUB_VERSION = 0x0488_b21e;

/** BIP32 mainnet private version bytes ("xprv"): recognised only to refuse it by name. */
const XPRV_VERSION = 0x0488_ade4;

/** version (4) ‖ depth (1) ‖ fingerprint (4) ‖ child number (4) ‖ chain code (32) ‖ key (33). */
const SERIALIZED_BYTES = 78;

/** Byte offsets of the fields above. */
const AT = { version: 0, depth: 4, fingerprint: 5, childNumber: 9, chainCode: 13, key: 45 } as const;

/** Base58Check appends the first 4 bytes of SHA-256d of the payload. */
const CHECKSUM_BYTES = 4;

/**
 * 82 bytes are at most ⌈82·8 / log2 58⌉ = 112 Base58 characters; longer input is refused before
 * decoding (Base58 decoding is quadratic in the length).
 */
const MAX_XPUB_CHARS = 112;

const UINT32_LIMIT = 0x1_0000_0000;

const base58check = createBase58check(sha256);

/** The fields of a BIP32 extended public key. */
export interface ExtendedPublicKey {
  /** 0 for the group key; one more per derivation step. */
  readonly depth: number;
  /** First 4 bytes of HASH160(serP(parent key)) as a big-endian uint32; 0 at depth 0. */
  readonly parentFingerprint: number;
  /** ser32 of the index this key was derived at; 0 at depth 0. */
  readonly childNumber: number;
  readonly chainCode: Uint8Array;
  readonly publicKey: Point;
}

/** BIP32 "Key identifiers": the first 4 bytes of RIPEMD160(SHA256(serP(K))), big-endian. */
export function keyFingerprint(publicKey: Point): number {
  assertPoint(publicKey, 'publicKey');
  const id = ripemd160(sha256(encodePoint(publicKey)));
  return new DataView(id.buffer, id.byteOffset, id.byteLength).getUint32(0, false);
}

function assertUint32(x: unknown, field: string): asserts x is number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= UINT32_LIMIT) {
    throw new InvalidInputError(field, 'not a 32-bit unsigned integer');
  }
}

/** Validates an extended public key held in memory (fields, ranges, point, depth-0 rule). */
export function assertExtendedPublicKey(x: unknown, field: string): asserts x is ExtendedPublicKey {
  if (typeof x !== 'object' || x === null) throw new InvalidInputError(field, 'not an extended public key');
  const { depth, parentFingerprint, childNumber, chainCode, publicKey } = x as Record<string, unknown>;
  if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH) {
    throw new InvalidInputError(`${field}.depth`, `not an integer 0 … ${MAX_DEPTH}`);
  }
  assertUint32(parentFingerprint, `${field}.parentFingerprint`);
  assertUint32(childNumber, `${field}.childNumber`);
  if (depth === 0 && parentFingerprint !== 0) {
    throw new InvalidInputError(`${field}.parentFingerprint`, 'must be 0 at depth 0');
  }
  if (depth === 0 && childNumber !== 0) throw new InvalidInputError(`${field}.childNumber`, 'must be 0 at depth 0');
  assertChainCode(chainCode, `${field}.chainCode`);
  assertPoint(publicKey, `${field}.publicKey`);
}

/** The depth-0 extended public key of a group key. */
export function masterExtendedKey(publicKey: Point, chainCode: Uint8Array): ExtendedPublicKey {
  assertPoint(publicKey, 'publicKey');
  assertChainCode(chainCode, 'chainCode');
  return Object.freeze({ depth: 0, parentFingerprint: 0, childNumber: 0, chainCode: chainCode.slice(), publicKey });
}

/**
 * The extended public key at a non-hardened path below `parent` (the path is relative to it),
 * with depth, parent fingerprint and child number set as BIP32 serialises them.
 */
export function deriveExtendedKey(parent: ExtendedPublicKey, path: DerivationPath): ExtendedPublicKey {
  assertExtendedPublicKey(parent, 'parent');
  const indices = parsePath(path);
  const depth = parent.depth + indices.length;
  if (depth > MAX_DEPTH) throw new InvalidInputError('path', `depth ${depth} exceeds ${MAX_DEPTH}`);
  const last = indices.at(-1);
  const end = walkPath(parent.publicKey, parent.chainCode, indices);
  return Object.freeze({
    depth,
    parentFingerprint: last === undefined ? parent.parentFingerprint : keyFingerprint(end.parentPublicKey),
    childNumber: last ?? parent.childNumber,
    chainCode: end.chainCode,
    publicKey: end.publicKey,
  });
}

/** Base58Check of the 78-byte BIP32 serialisation with the mainnet xpub version. */
export function serializeXpub(key: ExtendedPublicKey): string {
  assertExtendedPublicKey(key, 'key');
  const out = new Uint8Array(SERIALIZED_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(AT.version, XPUB_VERSION, false);
  view.setUint8(AT.depth, key.depth);
  view.setUint32(AT.fingerprint, key.parentFingerprint, false);
  view.setUint32(AT.childNumber, key.childNumber, false);
  out.set(key.chainCode, AT.chainCode);
  out.set(encodePoint(key.publicKey), AT.key);
  return base58check.encode(out);
}

/** The xpub of the group key (depth 0, parent fingerprint 0, child number 0). */
export function xpub(publicKey: Point, chainCode: Uint8Array): string {
  return serializeXpub(masterExtendedKey(publicKey, chainCode));
}

/** The xpub of the key derived from the group key along a non-hardened path. */
export function xpubAt(publicKey: Point, chainCode: Uint8Array, path: DerivationPath): string {
  return serializeXpub(deriveExtendedKey(masterExtendedKey(publicKey, chainCode), path));
}

/**
 * Parses a mainnet xpub received from outside: Base58 alphabet, length, checksum, version (an
 * xprv is refused), the depth-0 rule and the key (compressed, on secp256k1). Messages never
 * repeat the input, which could be a private key pasted by mistake.
 */
export function parseXpub(str: unknown): ExtendedPublicKey {
  if (typeof str !== 'string') throw new InvalidInputError('xpub', 'not a string');
  if (str.length > MAX_XPUB_CHARS) throw new InvalidInputError('xpub', 'too long for an extended key');
  let raw: Uint8Array;
  try {
    raw = base58.decode(str);
  } catch {
    throw new InvalidInputError('xpub', 'not Base58');
  }
  if (raw.length !== SERIALIZED_BYTES + CHECKSUM_BYTES) {
    throw new InvalidInputError('xpub', `expected ${SERIALIZED_BYTES} bytes and a checksum, got ${raw.length} bytes`);
  }
  let payload: Uint8Array;
  try {
    payload = base58check.decode(str);
  } catch {
    throw new InvalidInputError('xpub', 'bad Base58Check checksum');
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const version = view.getUint32(AT.version, false);
  if (version === XPRV_VERSION) throw new InvalidInputError('xpub', 'is an extended private key; only xpub is accepted');
  if (version !== XPUB_VERSION) throw new InvalidInputError('xpub', 'version is not mainnet xpub (0x0488B21E)');
  const key: ExtendedPublicKey = {
    depth: view.getUint8(AT.depth),
    parentFingerprint: view.getUint32(AT.fingerprint, false),
    childNumber: view.getUint32(AT.childNumber, false),
    chainCode: payload.slice(AT.chainCode, AT.key),
    publicKey: decodePoint(payload.slice(AT.key, SERIALIZED_BYTES), 'xpub.publicKey'),
  };
  assertExtendedPublicKey(key, 'xpub');
  return Object.freeze(key);
}
