/**
 * Ring-Pedersen commitments s^x · t^y mod N̂. The prover's side has secret exponents, in shifted
 * form (arith/shifted.ts), and uses the constant-time path; the verifier's side has public
 * exponents and uses the fixed-base
 * multi-exponentiation table of (s, t) (spec §"Speeding up Fixed-Based Multiexponentiation"),
 * shifted by 2^k so signed exponents become non-negative: s^x t^y = s^(x+H) t^(y+H) · (s t)^-H.
 */
import { getBackend, type FixedBaseTable, type Shifted, bitLength, pow2Public, powPublic } from '../arith/index.ts';
import type { RingPedersenParams } from './params.ts';

// s^−a · t^−b mod N̂ for the public offsets (a, b) of a commitment's shifted exponents: public,
// and the same for every commitment of one pair of ranges under one peer's (N̂, s, t), so made
// once. Before, each commitment paid two public exponentiations for it beside its two secret
// ones (the prover side of presign was 1.66× the spec's exponentiation count).
const corrections = new Map<string, bigint>();
const MAX_CORRECTIONS = 256;

function offsetCorrection(R: RingPedersenParams, a: bigint, b: bigint): bigint {
  const key = `${R.N.toString(36)}:${R.s.toString(36)}:${R.t.toString(36)}:${a.toString(36)}:${b.toString(36)}`;
  let c = corrections.get(key);
  if (c === undefined) {
    c = (powPublic(R.s, -a, R.N) * powPublic(R.t, -b, R.N)) % R.N;
    if (corrections.size >= MAX_CORRECTIONS) corrections.delete(corrections.keys().next().value as string);
    corrections.set(key, c);
  }
  return c;
}

/** s^x · t^y mod N̂ for secret x, y (shifted): s^value · t^value in constant time, times the public correction. */
export function commitSecret(R: RingPedersenParams, x: Shifted, y: Shifted): bigint {
  const backend = getBackend();
  const sx = backend.modPowSecret(R.s % R.N, x.value, R.N);
  const ty = backend.modPowSecret(R.t % R.N, y.value, R.N);
  return (((sx * ty) % R.N) * offsetCorrection(R, x.offset, y.offset)) % R.N;
}

interface VerifierTable {
  readonly table: FixedBaseTable;
  /** H = 2^shiftBits. */
  readonly shift: bigint;
  /** (s·t)^-H mod N̂. */
  readonly correction: bigint;
}

/**
 * Exponent size covered by the table: every verified exponent of the proofs is below
 * 2^(modulusBits + ℓ + ε + 2) (e.g. Π^enc's z3 = γ + eμ with γ ∈ ±2^(ℓ+ε)·N̂).
 */
function shiftBitsFor(N: bigint): number {
  return bitLength(N) + 1024;
}

// Tables by value of (N̂, s, t): built on first verification, reused for every later one. A
// session has at most 16 parties; the bound only keeps a long-running process from growing.
const tables = new Map<string, VerifierTable>();
const MAX_TABLES = 64;

function verifierTable(R: RingPedersenParams): VerifierTable {
  const key = `${R.N.toString(36)}:${R.s.toString(36)}:${R.t.toString(36)}`;
  let v = tables.get(key);
  if (!v) {
    const backend = getBackend();
    const shiftBits = shiftBitsFor(R.N);
    const shift = 1n << BigInt(shiftBits);
    const table = backend.fixedBaseTable(R.s, R.t, R.N, shiftBits + 2);
    const st = (R.s * R.t) % R.N;
    const correction = backend.modPow(backend.modInverse(st, R.N), shift, R.N);
    v = { table, shift, correction };
    if (tables.size >= MAX_TABLES) tables.delete(tables.keys().next().value as string);
    tables.set(key, v);
  }
  return v;
}

/** s^x · t^y mod N̂ for public signed exponents (table when they fit, plain double-exp otherwise). */
export function commitPublic(R: RingPedersenParams, x: bigint, y: bigint): bigint {
  const v = verifierTable(R);
  const ax = x < 0n ? -x : x;
  const ay = y < 0n ? -y : y;
  if (ax >= v.shift || ay >= v.shift) return pow2Public(R.s, x, R.t, y, R.N);
  return (v.table.pow2(x + v.shift, y + v.shift) * v.correction) % R.N;
}
