/** The Z*_N checks applied to received ciphertexts and to our own drawn randomness. */
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from './errors.ts';
import { assertDrawnUnit, assertInZnSquaredStar } from './validate.ts';

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

  it('drawn secret randomness is checked for its range only (its coprimality was tested when drawn)', () => {
    for (const x of [1n, 2n, N - 1n]) expect(() => assertDrawnUnit(x, N, 'r')).not.toThrow();
    for (const x of [0n, N, N + 1n, -1n]) expect(() => assertDrawnUnit(x, N, 'r')).toThrow(InvalidInputError);
  });
});
