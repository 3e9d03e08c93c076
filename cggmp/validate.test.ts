/** The Z*_N checks applied to received values and to our own secret randomness. */
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from './errors.ts';
import { assertInZnSquaredStar, assertInZnStar, assertSecretInZnStar } from './validate.ts';

// Two small primes stand for a Paillier modulus: what matters is the shared-factor cases.
const p = 1_000_003n;
const q = 998_244_353n;
const N = p * q;

describe('Z*_N checks', () => {
  it('Z*_{N²} accepts units of N² and refuses 0, multiples of p or q, and values outside [0, N²)', () => {
    for (const x of [1n, N + 1n, N * N - 1n, 2n * N + 5n]) expect(() => assertInZnSquaredStar(x, N, 'C')).not.toThrow();
    for (const x of [0n, N, p, q * 7n, p * (N + 2n), N * N, N * N + 1n, -1n]) {
      expect(() => assertInZnSquaredStar(x, N, 'C')).toThrow(InvalidInputError);
    }
    expect(() => assertInZnSquaredStar(p * 3n, N, 'C')).toThrow('C: not coprime to the modulus');
    expect(() => assertInZnSquaredStar('1', N, 'C')).toThrow('C: not an integer');
  });

  it('the public and the constant-time (secret) checks agree', () => {
    for (const x of [0n, 1n, 2n, p, q, p * 5n, N - 1n, N, N + 1n, 123_456_789n]) {
      const verdict = (f: () => void): boolean => {
        try {
          f();
          return true;
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidInputError);
          return false;
        }
      };
      expect(verdict(() => assertSecretInZnStar(x, N, 'r'))).toBe(verdict(() => assertInZnStar(x, N, 'r')));
    }
  });
});
