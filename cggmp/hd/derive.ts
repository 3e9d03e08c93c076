/**
 * Non-hardened BIP32 derivation of a threshold public key (BIP32 "Public parent key → public
 * child key", CKDpub) and the additive shift it amounts to.
 *
 * Each step computes I = HMAC-SHA512(c_par, serP(K_par) ‖ ser32(i)), I = IL ‖ IR, and
 * K_i = K_par + parse256(IL)·G with chain code IR. Over a path the child key is therefore
 * K + (Σ IL)·G: the shift Σ IL mod q is what the threshold protocols add inside presigning
 * (DESIGN §3 "Presignatures"), so that shares of x sign for x + shift without anyone holding x.
 *
 * Everything here is public data: IL depends only on the chain code and public keys, which the
 * group publishes in its xpub, so variable-time point arithmetic is used.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { InvalidInputError } from '../errors.ts';
import { fromBytesBE, mod } from '../arith/index.ts';
import { CURVE_ORDER, assertPoint, encodePoint, mulGPublic, type Point } from '../curve/index.ts';
import { assertChildIndex, formatPath, parsePath, type DerivationPath } from './path.ts';

/** BIP32 chain codes are 32 bytes (the right half of a 64-byte HMAC-SHA512 output). */
export const CHAIN_CODE_BYTES = 32;

/** IL is parsed as a 256-bit big-endian integer (parse256). */
const IL_BYTES = 32;

/** I = HMAC-SHA512(…) is 64 bytes: IL ‖ IR, IR being the child chain code. */
const HMAC_BYTES = IL_BYTES + CHAIN_CODE_BYTES;

/** serP(K): SEC1 compressed point; ser32(i): 4-byte big-endian index. */
const SER_P_BYTES = 33;
const SER32_BYTES = 4;

/** One CKDpub step's result. */
export interface ChildKey {
  readonly publicKey: Point;
  readonly chainCode: Uint8Array;
  /** parse256(IL), already checked < q. */
  readonly tweak: bigint;
}

/** The key at the end of a path, with the shift that leads there from the root. */
export interface DerivedKey {
  /** K' = K + shift·G. */
  readonly publicKey: Point;
  readonly chainCode: Uint8Array;
  /** Σ IL mod q over the path; 0 for "m". */
  readonly shift: bigint;
  /** The canonical text of the path ("m", "m/0/1"). */
  readonly path: string;
}

/**
 * BIP32 declares a child index invalid when IL ≥ q or the child point is the identity
 * (probability below 2^-127). BIP32 says to proceed with the next index; we never skip silently,
 * since the caller's path (and what was approved or bound to a presignature) would change.
 */
export class InvalidChildIndexError extends InvalidInputError {
  readonly index: number;
  constructor(field: string, index: number, reason: string) {
    super(field, `index ${index} gives no valid child (${reason}); BIP32: use the next index`);
    this.index = index;
  }
}

export function assertChainCode(c: unknown, field: string): asserts c is Uint8Array {
  if (!(c instanceof Uint8Array) || c.length !== CHAIN_CODE_BYTES) {
    throw new InvalidInputError(field, `expected a ${CHAIN_CODE_BYTES}-byte chain code`);
  }
}

/** ser32(i): 4 bytes, big-endian. */
function ser32(i: number): Uint8Array {
  const out = new Uint8Array(SER32_BYTES);
  new DataView(out.buffer).setUint32(0, i, false);
  return out;
}

/**
 * The second half of CKDpub: from I = IL ‖ IR to the child, with BIP32's validity rule.
 * Separate from the HMAC so that tests can reach the failure branches, which no real input does.
 */
export function childFromI(K_par: Point, I: Uint8Array, index: number, field: string): ChildKey {
  if (I.length !== HMAC_BYTES) throw new InvalidInputError('I', `expected ${HMAC_BYTES} bytes`);
  const IL = fromBytesBE(I.subarray(0, IL_BYTES));
  if (IL >= CURVE_ORDER) throw new InvalidChildIndexError(field, index, 'IL ≥ q');
  const K_i = K_par.add(mulGPublic(IL));
  if (K_i.is0()) throw new InvalidChildIndexError(field, index, 'child point is the identity');
  return Object.freeze({ publicKey: K_i, chainCode: I.slice(IL_BYTES), tweak: IL });
}

/** CKDpub((K_par, c_par), i) for already validated inputs. */
function ckdPub(K_par: Point, c_par: Uint8Array, index: number, field: string): ChildKey {
  const data = new Uint8Array(SER_P_BYTES + SER32_BYTES);
  data.set(encodePoint(K_par), 0);
  data.set(ser32(index), SER_P_BYTES);
  return childFromI(K_par, hmac(sha512, c_par, data), index, field);
}

/** One non-hardened step: the child of (publicKey, chainCode) at `index` (0 ≤ index < 2^31). */
export function deriveChild(publicKey: Point, chainCode: Uint8Array, index: number): ChildKey {
  assertPoint(publicKey, 'publicKey');
  assertChainCode(chainCode, 'chainCode');
  assertChildIndex(index, 'index');
  return ckdPub(publicKey, chainCode, index, 'index');
}

/** Where a walk along a path ends, and the key one step before the end (for fingerprints). */
export interface PathEnd {
  readonly publicKey: Point;
  readonly chainCode: Uint8Array;
  readonly shift: bigint;
  /** K at depth len − 1 (the start key itself for an empty path). */
  readonly parentPublicKey: Point;
}

/** CKDpub along already validated indices, summing IL mod q. */
export function walkPath(publicKey: Point, chainCode: Uint8Array, indices: readonly number[]): PathEnd {
  let K = publicKey;
  let K_parent = publicKey;
  let c: Uint8Array = chainCode.slice();
  let shift = 0n;
  indices.forEach((i, k) => {
    const child = ckdPub(K, c, i, `path[${k}]`);
    K_parent = K;
    K = child.publicKey;
    c = child.chainCode;
    shift = mod(shift + child.tweak, CURVE_ORDER);
  });
  return Object.freeze({ publicKey: K, chainCode: c, shift, parentPublicKey: K_parent });
}

/**
 * Derives along a non-hardened path from (publicKey, chainCode) and returns the child key, its
 * chain code and the exact shift with childPublicKey = publicKey + shift·G.
 */
export function deriveShift(publicKey: Point, chainCode: Uint8Array, path: DerivationPath): DerivedKey {
  assertPoint(publicKey, 'publicKey');
  assertChainCode(chainCode, 'chainCode');
  const indices = parsePath(path);
  const end = walkPath(publicKey, chainCode, indices);
  return Object.freeze({ publicKey: end.publicKey, chainCode: end.chainCode, shift: end.shift, path: formatPath(indices) });
}
