/**
 * secp256k1 group E of prime order q with generator G (spec "Notation and Preliminaries"),
 * through @noble/curves. Points received from others are decoded with `decodePoint`, which
 * refuses off-curve encodings and the identity.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { InvalidInputError } from '../errors.ts';
import { getBackend, mod, type ModulusContext } from '../arith/index.ts';

export type Point = InstanceType<typeof secp256k1.Point>;
export const Point = secp256k1.Point;

/** q = |E|. */
export const CURVE_ORDER: bigint = secp256k1.Point.Fn.ORDER;
export const G: Point = secp256k1.Point.BASE;
export const IDENTITY: Point = secp256k1.Point.ZERO;

let scalars: ModulusContext | undefined;
/** Z_q as a modulus context: reductions of secret scalars by Montgomery, never by BigInt division. */
export function scalarField(): ModulusContext {
  scalars ??= getBackend().modulusContext(CURVE_ORDER);
  return scalars;
}

/** k·G for a secret scalar (constant-time multiply); k is reduced mod q first. */
export function mulG(k: bigint): Point {
  const s = mod(k, CURVE_ORDER);
  return s === 0n ? IDENTITY : G.multiply(s);
}

/** k·G for a public scalar (variable time). */
export function mulGPublic(k: bigint): Point {
  const s = mod(k, CURVE_ORDER);
  return s === 0n ? IDENTITY : G.multiplyUnsafe(s);
}

/** k·P for a secret scalar k. */
export function mulPoint(P: Point, k: bigint): Point {
  const s = mod(k, CURVE_ORDER);
  return s === 0n || P.is0() ? IDENTITY : P.multiply(s);
}

/** k·P for a public scalar (variable time). */
export function mulPointPublic(P: Point, k: bigint): Point {
  const s = mod(k, CURVE_ORDER);
  return s === 0n || P.is0() ? IDENTITY : P.multiplyUnsafe(s);
}

/** 33-byte compressed SEC1 encoding; the identity has none and is never sent. */
export function encodePoint(P: Point): Uint8Array {
  if (P.is0()) throw new InvalidInputError('point', 'the identity has no encoding');
  return P.toBytes(true);
}

/** Decodes a received point: 33-byte compressed, on the curve, not the identity. */
export function decodePoint(bytes: unknown, field: string): Point {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 33) {
    throw new InvalidInputError(field, 'expected a 33-byte compressed point');
  }
  let P: Point;
  try {
    P = Point.fromBytes(bytes);
    P.assertValidity();
  } catch {
    throw new InvalidInputError(field, 'not a point on secp256k1');
  }
  if (P.is0()) throw new InvalidInputError(field, 'identity point');
  return P;
}

/** Asserts a point object received in memory is a valid non-identity curve point. */
export function assertPoint(P: unknown, field: string): asserts P is Point {
  if (!(P instanceof Point)) throw new InvalidInputError(field, 'not a curve point');
  try {
    P.assertValidity();
  } catch {
    throw new InvalidInputError(field, 'not a point on secp256k1');
  }
  if (P.is0()) throw new InvalidInputError(field, 'identity point');
}
