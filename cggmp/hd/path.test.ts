import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../errors.ts';
import { HARDENED_OFFSET, MAX_DEPTH, canonicalPath, formatPath, parsePath } from './index.ts';

function refusal(path: unknown): InvalidInputError {
  try {
    parsePath(path);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    return e as InvalidInputError;
  }
  throw new Error(`path ${JSON.stringify(path)} was accepted`);
}

describe('parsePath', () => {
  it('accepts the root and canonical non-hardened paths', () => {
    expect(parsePath('m')).toEqual([]);
    expect(parsePath('m/0')).toEqual([0]);
    expect(parsePath('m/0/1/2')).toEqual([0, 1, 2]);
    expect(parsePath(`m/${HARDENED_OFFSET - 1}`)).toEqual([2147483647]);
    expect(parsePath([])).toEqual([]);
    expect(parsePath([0, 5, HARDENED_OFFSET - 1])).toEqual([0, 5, 2147483647]);
  });

  it('gives text and index lists one canonical form', () => {
    expect(formatPath([])).toBe('m');
    expect(formatPath([0, 1, 2147483647])).toBe('m/0/1/2147483647');
    expect(canonicalPath([3, 4])).toBe('m/3/4');
    expect(canonicalPath('m/3/4')).toBe('m/3/4');
    expect(Object.is(parsePath([-0])[0], 0)).toBe(true);
  });

  it('refuses hardened indices, naming the element', () => {
    for (const [path, field] of [
      ["m/0'", 'path[0]'],
      ['m/1/2h', 'path[1]'],
      ['m/1/2/3H', 'path[2]'],
      [`m/${HARDENED_OFFSET}`, 'path[0]'],
      ['m/0/4294967295', 'path[1]'],
      [[0, HARDENED_OFFSET], 'path[1]'],
      [[0xffffffff], 'path[0]'],
    ] as const) {
      const e = refusal(path);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(/hardened/);
    }
  });

  it('refuses malformed text, naming the element', () => {
    for (const [path, field, reason] of [
      ['m/01', 'path[0]', /leading zero/],
      ['m/0/00', 'path[1]', /leading zero/],
      ['m/', 'path[0]', /empty/],
      ['m//1', 'path[0]', /empty/],
      ['m/1/', 'path[1]', /empty/],
      ['m/ 1', 'path[0]', /whitespace/],
      ['m/1 ', 'path[0]', /whitespace/],
      ['m/1/\t2', 'path[1]', /whitespace/],
      ['m/+1', 'path[0]', /decimal/],
      ['m/-1', 'path[0]', /decimal/],
      ['m/1e3', 'path[0]', /decimal/],
      ['m/0x1', 'path[0]', /decimal/],
      ['m/1.0', 'path[0]', /decimal/],
      ['m/١', 'path[0]', /decimal/],
      ['m/4294967296', 'path[0]', /out of range/],
      ['m/99999999999999999999', 'path[0]', /out of range/],
      ['', 'path', /"m"/],
      [' m/1', 'path', /"m"/],
      ['m /1', 'path', /"m"/],
      ['M/1', 'path', /"m"/],
      ['/1', 'path', /"m"/],
      ['1/2', 'path', /"m"/],
    ] as const) {
      const e = refusal(path);
      expect(e.field, JSON.stringify(path)).toBe(field);
      expect(e.message, JSON.stringify(path)).toMatch(reason);
    }
  });

  it('refuses malformed index lists', () => {
    expect(refusal([0, 1.5]).field).toBe('path[1]');
    expect(refusal([Number.NaN]).field).toBe('path[0]');
    expect(refusal([-1]).field).toBe('path[0]');
    expect(refusal([Infinity]).field).toBe('path[0]');
    expect(refusal(['1']).field).toBe('path[0]');
    expect(refusal([1n]).field).toBe('path[0]');
    expect(refusal(undefined).field).toBe('path');
    expect(refusal(7).field).toBe('path');
  });

  it('accepts depth 255 and refuses depth 256', () => {
    const deepest = new Array<number>(MAX_DEPTH).fill(HARDENED_OFFSET - 1);
    expect(parsePath(deepest)).toHaveLength(255);
    expect(parsePath(formatPath(deepest))).toHaveLength(255);
    expect(refusal([...deepest, 0]).message).toMatch(/depth 256/);
    expect(refusal(`${formatPath(deepest)}/0`).message).toMatch(/depth 256|longer/);
    expect(refusal('m' + '/0'.repeat(256)).message).toMatch(/depth 256/);
    expect(refusal('m/' + '1'.repeat(10_000)).message).toMatch(/longer/);
  });

  it('does not let callers mutate a parsed path', () => {
    expect(Object.isFrozen(parsePath('m/1/2'))).toBe(true);
    expect(Object.isFrozen(parsePath([1, 2]))).toBe(true);
  });
});
