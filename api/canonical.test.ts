import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalBytes, canonicalHash, canonicalJson, ContractError, frameTag } from './canonical.ts';

/** The same value with every object's keys inserted in reverse order. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
  }
  return v;
}

const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.maxSafeInteger(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 }),
  ),
})).value;

function refusal(v: unknown): ContractError {
  try {
    canonicalJson(v);
  } catch (e) {
    if (e instanceof ContractError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('canonical JSON', () => {
  it('sorts keys recursively and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"y":null,"z":true}]},"b":1}');
  });

  it('gives the same bytes whatever order the keys were inserted in', () => {
    fc.assert(
      fc.property(jsonValue, (v) => {
        expect(canonicalJson(reverseKeys(v))).toBe(canonicalJson(v));
      }),
    );
  });

  it('round-trips through JSON.parse to an equal value', () => {
    fc.assert(
      fc.property(jsonValue, (v) => {
        expect(JSON.parse(canonicalJson(v))).toEqual(v);
      }),
    );
  });

  it('sorts keys by UTF-16 code units', () => {
    expect(canonicalJson({ é: 1, z: 2, Z: 3, '': 4 })).toBe('{"":4,"Z":3,"z":2,"é":1}');
  });

  it('encodes strings as UTF-8', () => {
    expect(Buffer.from(canonicalBytes({ a: 'é€' })).toString('hex')).toBe(Buffer.from('{"a":"é€"}', 'utf8').toString('hex'));
  });

  it('writes -0 as 0', () => {
    expect(canonicalJson([-0])).toBe('[0]');
  });

  it('refuses values without one canonical text, naming the field', () => {
    expect(refusal({ a: 1.5 }).message).toMatch(/a: 1\.5 is not a safe integer/);
    expect(refusal({ a: [1, Number.NaN] }).message).toMatch(/a\[1\]/);
    expect(refusal(Number.POSITIVE_INFINITY).code).toBe('E_NOT_CANONICAL');
    expect(refusal(2 ** 53).code).toBe('E_NOT_CANONICAL');
    expect(refusal({ a: undefined }).message).toMatch(/a: undefined/);
    expect(refusal([undefined]).code).toBe('E_NOT_CANONICAL');
    // eslint-disable-next-line no-sparse-arrays
    expect(refusal([1, , 2]).message).toMatch(/\[1\]/);
    expect(refusal({ a: 1n }).message).toMatch(/bigint/);
    expect(refusal({ d: new Date(0) }).message).toMatch(/Date is not a plain object/);
    expect(refusal(new Uint8Array(2)).code).toBe('E_NOT_CANONICAL');
    expect(refusal({ f: () => 1 }).message).toMatch(/function/);
    expect(refusal({ s: '\ud800' }).message).toMatch(/lone surrogate/);
    expect(refusal({ [Symbol('x')]: 1 }).message).toMatch(/symbol/);
  });

  it('refuses cycles and absurd nesting', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(refusal(a).message).toMatch(/cycle/);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(refusal(deep).message).toMatch(/nested deeper/);
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});

describe('canonicalHash', () => {
  it('is SHA-256 over the length-prefixed tag and the canonical bytes', () => {
    const tag = 'vilna-mpc/test/v1';
    const value = { b: [1, 2], a: 'x' };
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(tag.length);
    const expected = createHash('sha256').update(prefix).update(tag).update('{"a":"x","b":[1,2]}').digest('hex');
    expect(Buffer.from(canonicalHash(tag, value)).toString('hex')).toBe(expected);
  });

  it('separates domains: the same value under two tags hashes differently', () => {
    expect(canonicalHash('vilna-mpc/a/v1', { x: 1 })).not.toEqual(canonicalHash('vilna-mpc/b/v1', { x: 1 }));
  });

  it('refuses an empty tag', () => {
    expect(() => frameTag('')).toThrow(ContractError);
  });
});
