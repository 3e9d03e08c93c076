/**
 * BIP32 derivation paths restricted to non-hardened indices (BIP32 "The key tree", "Child key
 * derivation (CKD) functions"). A threshold key has no private key anywhere, so only CKDpub is
 * possible: hardened indices (i ≥ 2^31, written i' or ih) are refused, never silently mapped.
 *
 * Paths are parsed strictly and have one canonical text form ("m", "m/0/1/2"), because the
 * canonical path is what presignatures are bound to (DESIGN §3).
 */
import { InvalidInputError } from '../errors.ts';

/** BIP32: indices i ≥ 2^31 are hardened; non-hardened indices are 0 … 2^31 − 1. */
export const HARDENED_OFFSET = 0x8000_0000;

/** The serialised depth is one byte (BIP32 "Serialization format"), so no key is deeper than 255. */
export const MAX_DEPTH = 255;

/** ser32: child numbers are 32-bit; anything at or above 2^32 is not an index at all. */
const INDEX_LIMIT = 0x1_0000_0000;

/** Longest non-hardened index in decimal: 2^31 − 1 = 2147483647 has 10 digits. */
const MAX_INDEX_DIGITS = 10;

/**
 * No valid path text is longer than "m" plus MAX_DEPTH × ("/" + 10 digits); longer input is
 * refused before it is split, so absurd strings cost nothing.
 */
const MAX_PATH_CHARS = 1 + MAX_DEPTH * (1 + MAX_INDEX_DIGITS);

/** A path as text ("m", "m/0/1") or as its list of child indices ([] is the root). */
export type DerivationPath = string | readonly number[];

/** Elements are quoted in messages; long ones are cut so an error stays a line. */
function quote(element: string): string {
  const shown = element.length > 16 ? `${element.slice(0, 16)}…` : element;
  return JSON.stringify(shown);
}

function elementField(k: number): string {
  return `path[${k}]`;
}

const HARDENED_REASON = 'is hardened; a threshold key has no private key to derive hardened children';

/** Asserts one child index: an integer 0 ≤ i < 2^31. */
export function assertChildIndex(i: unknown, field: string): asserts i is number {
  if (typeof i !== 'number' || !Number.isInteger(i)) throw new InvalidInputError(field, 'not an integer index');
  if (i >= HARDENED_OFFSET && i < INDEX_LIMIT) throw new InvalidInputError(field, `index ${i} ${HARDENED_REASON}`);
  if (i < 0 || i >= INDEX_LIMIT) throw new InvalidInputError(field, 'index out of range 0 … 2^31 − 1');
}

function parseElement(element: string, k: number): number {
  const field = elementField(k);
  if (element === '') throw new InvalidInputError(field, 'empty path element');
  if (/\s/.test(element)) throw new InvalidInputError(field, `${quote(element)} contains whitespace`);
  if (/^[0-9]+['hH]$/.test(element)) throw new InvalidInputError(field, `${quote(element)} ${HARDENED_REASON}`);
  if (!/^[0-9]+$/.test(element)) throw new InvalidInputError(field, `${quote(element)} is not a decimal index`);
  if (element.length > 1 && element.startsWith('0')) {
    throw new InvalidInputError(field, `${quote(element)} is not canonical (leading zero)`);
  }
  // Up to 10 digits Number() is exact; longer strings are ≥ 2^32 and refused as out of range.
  const i = element.length > MAX_INDEX_DIGITS ? INDEX_LIMIT : Number(element);
  assertChildIndex(i, field);
  return i;
}

function assertDepth(depth: number): void {
  if (depth > MAX_DEPTH) throw new InvalidInputError('path', `depth ${depth} exceeds ${MAX_DEPTH}`);
}

/**
 * Parses and validates a non-hardened path. Text must be exactly "m" or "m/" followed by
 * canonical decimal indices separated by "/"; a list must hold integers 0 ≤ i < 2^31. Depth is at
 * most 255. Throws InvalidInputError naming the offending element (`path[k]`, k counting child
 * indices from 0, after "m").
 */
export function parsePath(path: unknown): readonly number[] {
  if (typeof path === 'string') {
    if (path.length > MAX_PATH_CHARS) throw new InvalidInputError('path', `longer than any path of depth ≤ ${MAX_DEPTH}`);
    if (path === 'm') return Object.freeze([]);
    if (!path.startsWith('m/')) throw new InvalidInputError('path', 'must be "m" or start with "m/"');
    const elements = path.slice(2).split('/');
    assertDepth(elements.length);
    return Object.freeze(elements.map(parseElement));
  }
  if (Array.isArray(path)) {
    assertDepth(path.length);
    const indices: number[] = [];
    for (let k = 0; k < path.length; k++) {
      const i: unknown = path[k];
      assertChildIndex(i, elementField(k));
      indices.push(i === 0 ? 0 : i); // -0 → 0, so the list and its text agree
    }
    return Object.freeze(indices);
  }
  throw new InvalidInputError('path', 'expected a path string or a list of indices');
}

/** The canonical text of a validated index list: "m" or "m/i1/i2/…". */
export function formatPath(indices: readonly number[]): string {
  return ['m', ...indices.map(String)].join('/');
}

/** Parses any accepted form and returns its canonical text. */
export function canonicalPath(path: DerivationPath): string {
  return formatPath(parsePath(path));
}
