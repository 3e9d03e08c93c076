/**
 * Typed reads from a decoded message (transcript/decode.ts): each helper checks the field's
 * type and shape and throws InvalidInputError naming it, so a malformed message from party j
 * becomes an abort naming j (session.ts) instead of an exception deep in the arithmetic.
 */
import { InvalidInputError } from '../errors.ts';
import { Point } from '../curve/index.ts';
import type { Decoded } from '../transcript/index.ts';
import type { Envelope } from './channel.ts';
import { MAX_INTEGER_BITS } from '../validate.ts';
import { bitLength } from '../arith/index.ts';

export type Rec = { readonly [key: string]: Decoded };

export function record(v: Decoded | undefined, field: string): Rec {
  if (v === undefined || v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array || v instanceof Point) {
    throw new InvalidInputError(field, 'not a record');
  }
  return v as Rec;
}

/** A record with exactly these keys: unknown or missing fields are refused. */
export function exactRecord(v: Decoded | undefined, field: string, keys: readonly string[]): Rec {
  const r = record(v, field);
  const got = Object.keys(r).sort();
  const want = [...keys].sort();
  if (got.length !== want.length || got.some((k, i) => k !== want[i])) throw new InvalidInputError(field, 'unexpected fields');
  return r;
}

export function int(r: Rec, key: string): bigint {
  const v = r[key];
  if (typeof v !== 'bigint') throw new InvalidInputError(key, 'not an integer');
  if (bitLength(v) > MAX_INTEGER_BITS) throw new InvalidInputError(key, 'integer absurdly large');
  return v;
}

export function num(r: Rec, key: string): number {
  const v = r[key];
  if (typeof v !== 'number') throw new InvalidInputError(key, 'not a number');
  return v;
}

export function bytes(r: Rec, key: string, length?: number): Uint8Array {
  const v = r[key];
  if (!(v instanceof Uint8Array)) throw new InvalidInputError(key, 'not bytes');
  if (length !== undefined && v.length !== length) throw new InvalidInputError(key, `expected ${length} bytes`);
  return v;
}

/** A curve point other than the identity. */
export function point(r: Rec, key: string): Point {
  const v = pointOrIdentity(r, key);
  if (v.is0()) throw new InvalidInputError(key, 'identity point');
  return v;
}

/** A curve point that may be the identity (e.g. a refresh dealer's constant-term commitment). */
export function pointOrIdentity(r: Rec, key: string): Point {
  const v = r[key];
  if (!(v instanceof Point)) throw new InvalidInputError(key, 'not a curve point');
  return v;
}

export function list(r: Rec, key: string, length?: number): readonly Decoded[] {
  const v = r[key];
  if (!Array.isArray(v)) throw new InvalidInputError(key, 'not a list');
  if (length !== undefined && v.length !== length) throw new InvalidInputError(key, `expected ${length} elements`);
  return v as readonly Decoded[];
}

/** A list of `length` points; the identity only where `allowIdentity(index)` says so. */
export function points(r: Rec, key: string, length: number, allowIdentity: (index: number) => boolean = () => false): Point[] {
  return list(r, key, length).map((p, i) => {
    if (!(p instanceof Point)) throw new InvalidInputError(`${key}[${i}]`, 'not a curve point');
    if (p.is0() && !allowIdentity(i)) throw new InvalidInputError(`${key}[${i}]`, 'identity point');
    return p;
  });
}

export function ints(r: Rec, key: string, length: number): bigint[] {
  return list(r, key, length).map((x, i) => {
    if (typeof x !== 'bigint' || bitLength(x) > MAX_INTEGER_BITS) throw new InvalidInputError(`${key}[${i}]`, 'not an integer');
    return x;
  });
}

/** An envelope carried as a value inside another message (channel.ts envelopeValue). */
export function readEnvelope(v: Decoded | undefined): Envelope {
  const r = exactRecord(v, 'envelope', ['sid', 'round', 'sender', 'recipient', 'payload', 'signature']);
  return { sid: bytes(r, 'sid'), round: num(r, 'round'), sender: num(r, 'sender'), recipient: num(r, 'recipient'), payload: bytes(r, 'payload'), signature: bytes(r, 'signature') };
}
