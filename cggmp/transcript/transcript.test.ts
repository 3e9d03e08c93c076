import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { gcd } from '../arith/index.ts';
import { G } from '../curve/index.ts';
import { challengeStream, encode } from './index.ts';

const hex = (b: Uint8Array): string => bytesToHex(b);

describe('Encode_tag', () => {
  it('is injective across boundaries, types, signs and nesting', () => {
    const cases = [
      encode('t', ['ab', 'c']),
      encode('t', ['a', 'bc']),
      encode('t', [['a', 'b'], 'c']),
      encode('t', ['a', ['b', 'c']]),
      encode('t', [1n]),
      encode('t', [-1n]),
      encode('t', [new Uint8Array([1])]),
      encode('t', ['\u0001']),
      encode('t', [0n]),
      encode('t', [new Uint8Array(0)]),
      encode('t', []),
      encode('t', [G]),
      encode('t', [G.toBytes(true)]),
    ];
    expect(new Set(cases.map(hex)).size).toBe(cases.length);
  });

  it('depends on the tag', () => {
    expect(hex(encode('a', [1n]))).not.toBe(hex(encode('b', [1n])));
    expect(hex(encode('ab', []))).not.toBe(hex(encode('a', ['b'])));
  });

  it('is deterministic and platform-independent (fixed big-endian layout)', () => {
    expect(hex(encode('t', [258n]))).toBe('0000000001740500000001010000000002' + '0102');
  });
});

describe('ChallengeNI', () => {
  it('derives the same challenges from the same inputs and different ones otherwise', () => {
    const a = challengeStream('x', [1n, 'y']).below(1n << 256n);
    expect(challengeStream('x', [1n, 'y']).below(1n << 256n)).toBe(a);
    expect(challengeStream('x', [2n, 'y']).below(1n << 256n)).not.toBe(a);
    expect(challengeStream('z', [1n, 'y']).below(1n << 256n)).not.toBe(a);
  });

  it('samples inside the requested sets', () => {
    const s = challengeStream('sets', [42n]);
    const N = 3n * 5n * 7n * 11n * 13n;
    for (let i = 0; i < 200; i++) {
      const e = s.plusMinus(1000n);
      expect(e >= -500n && e <= 500n).toBe(true);
      const y = s.znStar(N);
      expect(y > 0n && y < N && gcd(y, N) === 1n).toBe(true);
      expect(s.below(7n) < 7n).toBe(true);
    }
    const bits = s.bits(128);
    expect(bits).toHaveLength(128);
    expect(bits.every((b) => b === 0 || b === 1)).toBe(true);
    expect(new Set(bits).size).toBe(2);
  });

  it('produces a long stream (many hash blocks) without repeating blocks', () => {
    const out = challengeStream('long', []).bytes(32 * 64);
    const blocks = new Set(Array.from({ length: 64 }, (_, i) => hex(out.subarray(32 * i, 32 * i + 32))));
    expect(blocks.size).toBe(64);
  });
});
