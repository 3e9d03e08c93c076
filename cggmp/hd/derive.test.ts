import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HDKey } from '@scure/bip32';
import { bytesToHex } from '@noble/hashes/utils.js';
import { InvalidInputError } from '../errors.ts';
import { toBytesBE } from '../arith/index.ts';
import { CURVE_ORDER, G, IDENTITY, mulG, type Point } from '../curve/index.ts';
import { childFromI } from './derive.ts';
import { HARDENED_OFFSET, InvalidChildIndexError, deriveChild, deriveShift, formatPath, xpub } from './index.ts';

const MAX_INDEX = HARDENED_OFFSET - 1;

const arbKey = fc.bigInt(1n, CURVE_ORDER - 1n).map((k) => mulG(k));
const arbChainCode = fc.uint8Array({ minLength: 32, maxLength: 32 });
const arbIndex = fc.oneof(fc.constantFrom(0, 1, MAX_INDEX), fc.integer({ min: 0, max: MAX_INDEX }));
const arbPath = fc.array(arbIndex, { minLength: 0, maxLength: 6 });

/** The reference: @scure/bip32 public derivation from our depth-0 xpub. */
function reference(K: Point, c: Uint8Array, path: readonly number[]): HDKey {
  return HDKey.fromExtendedKey(xpub(K, c)).derive(formatPath(path));
}

function expectSameAsReference(K: Point, c: Uint8Array, path: readonly number[]): void {
  const ours = deriveShift(K, c, path);
  const theirs = reference(K, c, path);
  expect(bytesToHex(ours.publicKey.toBytes(true))).toBe(bytesToHex(theirs.publicKey!));
  expect(bytesToHex(ours.chainCode)).toBe(bytesToHex(theirs.chainCode!));
  expect(K.add(mulG(ours.shift)).equals(ours.publicKey)).toBe(true);
  expect(ours.shift >= 0n && ours.shift < CURVE_ORDER).toBe(true);
  expect(ours.path).toBe(formatPath(path));
}

describe('deriveShift', () => {
  it('matches @scure/bip32 and K + shift·G for random keys, chain codes and paths', () => {
    fc.assert(
      fc.property(arbKey, arbChainCode, arbPath, (K, c, path) => expectSameAsReference(K, c, path)),
      { numRuns: 60 },
    );
  });

  it('matches @scure/bip32 at depth 1 and depth 5 with the extreme indices', () => {
    const K = mulG(0x1234_5678_9abc_def0n);
    const c = new Uint8Array(32).map((_, j) => j * 7 + 1);
    for (const path of [[0], [MAX_INDEX], [0, MAX_INDEX, 0, MAX_INDEX, 0], [MAX_INDEX, MAX_INDEX, MAX_INDEX, MAX_INDEX, MAX_INDEX], [0, 0, 0, 0, 0], [1, 2, 3, 4, 5]]) {
      expectSameAsReference(K, c, path);
    }
  });

  it('accepts text and index lists alike and returns the canonical path', () => {
    const K = mulG(42n);
    const c = new Uint8Array(32).fill(9);
    const a = deriveShift(K, c, 'm/7/0/2147483647');
    const b = deriveShift(K, c, [7, 0, MAX_INDEX]);
    expect(a.publicKey.equals(b.publicKey)).toBe(true);
    expect(a.shift).toBe(b.shift);
    expect(a.path).toBe('m/7/0/2147483647');
    expect(b.path).toBe('m/7/0/2147483647');
  });

  it('returns the key itself, a copy of the chain code and shift 0 for "m"', () => {
    const K = mulG(5n);
    const c = new Uint8Array(32).fill(1);
    const d = deriveShift(K, c, 'm');
    expect(d.publicKey.equals(K)).toBe(true);
    expect(d.shift).toBe(0n);
    expect(d.path).toBe('m');
    expect(d.chainCode).toEqual(c);
    expect(d.chainCode).not.toBe(c);
  });

  it('composes: the shift of a path is the sum of the shifts of its parts', () => {
    fc.assert(
      fc.property(arbKey, arbChainCode, arbPath, arbPath, (K, c, p1, p2) => {
        fc.pre(p1.length + p2.length <= 8);
        const first = deriveShift(K, c, p1);
        const rest = deriveShift(first.publicKey, first.chainCode, p2);
        const whole = deriveShift(K, c, [...p1, ...p2]);
        expect(whole.shift).toBe((first.shift + rest.shift) % CURVE_ORDER);
        expect(whole.publicKey.equals(rest.publicKey)).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('agrees with deriveChild step by step', () => {
    const K = mulG(77n);
    const c = new Uint8Array(32).fill(3);
    const step1 = deriveChild(K, c, 11);
    const step2 = deriveChild(step1.publicKey, step1.chainCode, 12);
    const d = deriveShift(K, c, 'm/11/12');
    expect(d.publicKey.equals(step2.publicKey)).toBe(true);
    expect(d.shift).toBe((step1.tweak + step2.tweak) % CURVE_ORDER);
  });

  it('refuses hardened and malformed paths before deriving', () => {
    const K = mulG(5n);
    const c = new Uint8Array(32);
    expect(() => deriveShift(K, c, "m/0/1'")).toThrow(/path\[1\].*hardened/);
    expect(() => deriveShift(K, c, [HARDENED_OFFSET])).toThrow(/path\[0\].*hardened/);
    expect(() => deriveShift(K, c, 'm/01')).toThrow(InvalidInputError);
    expect(() => deriveChild(K, c, HARDENED_OFFSET)).toThrow(/index.*hardened/);
  });

  it('validates the key and the chain code', () => {
    const c = new Uint8Array(32);
    for (const bad of [new Uint8Array(31), new Uint8Array(33), 'aa'.repeat(32), undefined]) {
      expect(() => deriveShift(G, bad as Uint8Array, 'm/0')).toThrow(/chainCode/);
    }
    expect(() => deriveShift(IDENTITY, c, 'm/0')).toThrow(/publicKey/);
    expect(() => deriveShift(G.toBytes(true) as unknown as Point, c, 'm/0')).toThrow(/publicKey/);
  });
});

describe('CKDpub validity rule (BIP32: IL ≥ q or identity child → invalid index)', () => {
  const I = (IL: bigint): Uint8Array => {
    const out = new Uint8Array(64).fill(0xab);
    out.set(toBytesBE(IL, 32), 0);
    return out;
  };

  it('throws a typed error naming the index when IL ≥ q', () => {
    for (const IL of [CURVE_ORDER, CURVE_ORDER + 1n, (1n << 256n) - 1n]) {
      let caught: unknown;
      try {
        childFromI(G, I(IL), 9, 'path[3]');
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(InvalidChildIndexError);
      expect(caught).toBeInstanceOf(InvalidInputError);
      expect((caught as InvalidChildIndexError).field).toBe('path[3]');
      expect((caught as InvalidChildIndexError).index).toBe(9);
      expect((caught as InvalidChildIndexError).code).toBe('E_INVALID_INPUT');
    }
  });

  it('throws when the child is the identity (IL = −k for K = k·G)', () => {
    const k = 123456789n;
    expect(() => childFromI(mulG(k), I(CURVE_ORDER - k), 4, 'index')).toThrow(InvalidChildIndexError);
    expect(() => childFromI(G, I(CURVE_ORDER - 1n), 4, 'index')).toThrow(/identity/);
  });

  it('accepts the boundary values IL = 0 and IL = q − 1 otherwise', () => {
    const zero = childFromI(mulG(3n), I(0n), 0, 'index');
    expect(zero.publicKey.equals(mulG(3n))).toBe(true);
    expect(zero.tweak).toBe(0n);
    expect(zero.chainCode).toEqual(new Uint8Array(32).fill(0xab));
    const top = childFromI(mulG(3n), I(CURVE_ORDER - 1n), 0, 'index');
    expect(top.publicKey.equals(mulG(2n))).toBe(true);
  });
});
