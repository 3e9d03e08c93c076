/**
 * Strict reader of the canonical encoding (encode.ts) for bytes received from another party:
 * only the canonical form is accepted (minimal integers, no negative zero, sorted unique record
 * keys, nothing trailing), sizes and nesting are bounded, and points are decoded and checked
 * (compressed, on secp256k1; the empty encoding is the identity, which protocol fields refuse
 * unless a field is defined to be the identity). Anything else is an InvalidInputError.
 */
import { InvalidInputError } from '../errors.ts';
import { fromBytesBE } from '../arith/index.ts';
import { decodePoint, IDENTITY, type Point } from '../curve/index.ts';
import { TYPE } from './encode.ts';

export type Decoded =
  | bigint
  | number
  | boolean
  | string
  | Uint8Array
  | Point
  | readonly Decoded[]
  | { readonly [key: string]: Decoded };

export interface DecodeLimits {
  /** Largest accepted input, bytes. */
  readonly maxBytes: number;
  readonly maxDepth: number;
  /** Largest element count of one list or record. */
  readonly maxItems: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxBytes: 8 << 20, maxDepth: 16, maxItems: 4096 };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeValue(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Decoded {
  if (!(bytes instanceof Uint8Array)) throw new InvalidInputError('message', 'not bytes');
  if (bytes.length > limits.maxBytes) throw new InvalidInputError('message', 'too large');
  let off = 0;
  const fail = (reason: string): never => {
    throw new InvalidInputError('message', `${reason} at byte ${off}`);
  };
  const take = (n: number): Uint8Array => {
    if (n > bytes.length - off) fail('truncated');
    const out = bytes.subarray(off, off + n);
    off += n;
    return out;
  };
  const u32 = (): number => {
    const b = take(4);
    return ((b[0] as number) * 0x1000000 + (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number))) >>> 0;
  };
  const str = (): string => {
    if (take(1)[0] !== TYPE.string) fail('expected a string');
    try {
      return utf8.decode(take(u32()));
    } catch {
      return fail('invalid UTF-8');
    }
  };

  function value(depth: number): Decoded {
    if (depth > limits.maxDepth) fail('nested too deeply');
    const type = take(1)[0];
    switch (type) {
      case TYPE.integer: {
        const sign = take(1)[0];
        const mag = take(u32());
        if (sign !== 0 && sign !== 1) fail('bad integer sign');
        if (mag.length > 0 && mag[0] === 0) fail('non-minimal integer');
        if (sign === 1 && mag.length === 0) fail('negative zero');
        const m = fromBytesBE(mag);
        return sign === 1 ? -m : m;
      }
      case TYPE.number: {
        if (u32() !== 8) fail('bad number length');
        const n = fromBytesBE(take(8));
        if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail('number beyond safe range');
        return Number(n);
      }
      case TYPE.boolean: {
        if (u32() !== 1) fail('bad boolean length');
        const b = take(1)[0];
        if (b !== 0 && b !== 1) fail('bad boolean');
        return b === 1;
      }
      case TYPE.string: {
        off -= 1;
        return str();
      }
      case TYPE.bytes:
        return take(u32()).slice();
      case TYPE.point: {
        const b = take(u32()).slice();
        return b.length === 0 ? IDENTITY : decodePoint(b, 'point');
      }
      case TYPE.list: {
        const n = u32();
        if (n > limits.maxItems) fail('list too long');
        const out: Decoded[] = [];
        for (let i = 0; i < n; i++) out.push(value(depth + 1));
        return out;
      }
      case TYPE.record: {
        const n = u32();
        if (n > limits.maxItems) fail('record too large');
        const out: Record<string, Decoded> = Object.create(null) as Record<string, Decoded>;
        let previous: string | undefined;
        for (let i = 0; i < n; i++) {
          const k = str();
          if (previous !== undefined && !(k > previous)) fail('record keys not sorted and unique');
          previous = k;
          out[k] = value(depth + 1);
        }
        return out;
      }
      default:
        return fail('unknown type');
    }
  }

  const v = value(0);
  if (off !== bytes.length) fail('trailing bytes');
  return v;
}
