/**
 * Unambiguous tagged encoding Encode_tag(x1, …, xn) of spec §"Unambiguous encoding", also the
 * canonical byte form of protocol messages (decode.ts reads it back).
 * Injective: every value is written as a one-byte type, a 4-byte big-endian length and its
 * bytes (lists and records: type, count, items; record keys sorted), so no two values share an
 * encoding; the tag is written first the same way, so different tags never collide; big-endian
 * and fixed widths make it platform-independent.
 */
import { InvalidInputError } from '../errors.ts';
import { toBytesBE } from '../arith/index.ts';
import { Point } from '../curve/index.ts';

export type Encodable =
  | bigint
  | number
  | boolean
  | string
  | Uint8Array
  | Point
  | readonly Encodable[]
  | { readonly [key: string]: Encodable };

export const TYPE = {
  tag: 0x00,
  integer: 0x01,
  bytes: 0x02,
  string: 0x03,
  point: 0x04,
  list: 0x05,
  record: 0x06,
  number: 0x07,
  boolean: 0x08,
} as const;

const utf8 = new TextEncoder();

function u32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidInputError('encode', 'length out of range');
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function pushString(out: Uint8Array[], s: string): void {
  // A lone surrogate would encode like U+FFFD: refuse it to keep the encoding injective.
  if (!s.isWellFormed()) throw new InvalidInputError('encode', 'string is not well-formed Unicode');
  const b = utf8.encode(s);
  out.push(new Uint8Array([TYPE.string]), u32(b.length), b);
}

function pushValue(out: Uint8Array[], x: Encodable): void {
  if (typeof x === 'number') {
    if (!Number.isSafeInteger(x) || x < 0) throw new InvalidInputError('encode', 'number is not a non-negative safe integer');
    out.push(new Uint8Array([TYPE.number]), u32(8), toBytesBE(BigInt(x), 8));
  } else if (typeof x === 'bigint') {
    const magnitude = toBytesBE(x < 0n ? -x : x);
    out.push(new Uint8Array([TYPE.integer, x < 0n ? 1 : 0]), u32(magnitude.length), magnitude);
  } else if (typeof x === 'boolean') {
    out.push(new Uint8Array([TYPE.boolean]), u32(1), new Uint8Array([x ? 1 : 0]));
  } else if (typeof x === 'string') {
    pushString(out, x);
  } else if (x instanceof Uint8Array) {
    out.push(new Uint8Array([TYPE.bytes]), u32(x.length), x);
  } else if (x instanceof Point) {
    // The identity encodes as zero bytes: distinct from every 33-byte compressed point.
    const b = x.is0() ? new Uint8Array(0) : x.toBytes(true);
    out.push(new Uint8Array([TYPE.point]), u32(b.length), b);
  } else if (Array.isArray(x)) {
    out.push(new Uint8Array([TYPE.list]), u32(x.length));
    for (const item of x as readonly Encodable[]) pushValue(out, item);
  } else if (typeof x === 'object' && x !== null && [Object.prototype, null].includes(Object.getPrototypeOf(x))) {
    const keys = Object.keys(x).sort();
    out.push(new Uint8Array([TYPE.record]), u32(keys.length));
    for (const k of keys) {
      pushString(out, k);
      pushValue(out, (x as { readonly [key: string]: Encodable })[k] as Encodable);
    }
  } else {
    throw new InvalidInputError('encode', 'unsupported value type');
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Encode_tag(x1, …, xn). */
export function encode(tag: string, values: readonly Encodable[]): Uint8Array {
  const tagBytes = utf8.encode(tag);
  const parts: Uint8Array[] = [new Uint8Array([TYPE.tag]), u32(tagBytes.length), tagBytes];
  pushValue(parts, values);
  return concat(parts);
}

/** The canonical bytes of one value (a message payload); `decodeValue` reads them back. */
export function encodeValue(value: Encodable): Uint8Array {
  const parts: Uint8Array[] = [];
  pushValue(parts, value);
  return concat(parts);
}
