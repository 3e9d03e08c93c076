/**
 * The BigInt backend against textbook definitions (binary exponentiation, a·a⁻¹ ≡ 1), and the
 * table window choice. Agreement with the native addon is in native-backend.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ArithError } from '../errors.ts';
import { TABLE_MAX_EXP_BITS, tableWindowBits } from './fixed-base-window.ts';
import { jsBackend as js } from './js-backend.ts';

/** Right-to-left binary exponentiation: slow, obviously correct. */
function referencePow(b: bigint, e: bigint, m: bigint): bigint {
  let result = 1n % m;
  let base = b % m;
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) result = (result * base) % m;
    base = (base * base) % m;
  }
  return result;
}

const oddModulus = fc.integer({ min: 2, max: 700 }).chain((bits) =>
  fc.bigInt({ min: 1n << BigInt(bits - 1), max: (1n << BigInt(bits)) - 1n }).map((m) => m | 1n),
);
const anyBigNonNeg = fc.bigInt({ min: 0n, max: 1n << 800n });

describe('jsBackend', () => {
  it('is named js and not constant-time', () => {
    expect(js.name).toBe('js');
    expect(js.constantTime).toBe(false);
  });

  it('modPow and modPowSecret equal binary exponentiation', () => {
    fc.assert(
      fc.property(oddModulus, anyBigNonNeg, anyBigNonNeg, (m, b, e) => {
        const expected = referencePow(b, e, m);
        expect(js.modPow(b, e, m)).toBe(expected);
        expect(js.modPowSecret(b, e, m)).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('modPow2 equals the product of two exponentiations', () => {
    fc.assert(
      fc.property(oddModulus, anyBigNonNeg, anyBigNonNeg, anyBigNonNeg, anyBigNonNeg, (m, a, x, b, y) => {
        expect(js.modPow2(a, x, b, y, m)).toBe((referencePow(a, x, m) * referencePow(b, y, m)) % m);
      }),
      { numRuns: 100 },
    );
  });

  it('modInverse inverts modulo odd and even moduli, and refuses non-units', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n, max: 1n << 600n }), anyBigNonNeg, (m, a) => {
        let inv: bigint;
        try {
          inv = js.modInverse(a, m);
        } catch (e) {
          expect(e).toBeInstanceOf(ArithError);
          // Not invertible: some d > 1 divides both.
          let [u, v] = [a % m, m];
          while (v !== 0n) [u, v] = [v, u % v];
          expect(u).not.toBe(1n);
          return;
        }
        expect(inv >= 0n && inv < m).toBe(true);
        expect((a * inv) % m).toBe(1n);
      }),
      { numRuns: 300 },
    );
  });

  it('a fixed-base table gives s^x·t^y for every exponent it covers', () => {
    fc.assert(
      fc.property(
        oddModulus,
        anyBigNonNeg,
        anyBigNonNeg,
        fc.integer({ min: 1, max: 600 }),
        fc.bigInt({ min: 0n, max: 1n << 600n }),
        fc.bigInt({ min: 0n, max: 1n << 600n }),
        (m, s, t, maxExpBits, x0, y0) => {
          const mask = (1n << BigInt(maxExpBits)) - 1n;
          const [x, y] = [x0 & mask, y0 & mask];
          const table = js.fixedBaseTable(s, t, m, maxExpBits);
          expect(table.pow2(x, y)).toBe((referencePow(s, x, m) * referencePow(t, y, m)) % m);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('tableWindowBits', () => {
  it('takes B = 2^8 for the protocol exponents (~3840 bits), as the spec suggests', () => {
    expect(tableWindowBits(3840)).toBe(8);
  });

  it('takes smaller digits for short exponents and stays within bounds', () => {
    expect(tableWindowBits(1)).toBe(1);
    expect(tableWindowBits(256)).toBeLessThan(8);
    for (const bits of [1, 2, 10, 100, 1000, 10_000, TABLE_MAX_EXP_BITS]) {
      const w = tableWindowBits(bits);
      expect(w).toBeGreaterThanOrEqual(1);
      expect(w).toBeLessThanOrEqual(16);
    }
  });

  it('returns 1 for an invalid size, which the backends then reject', () => {
    for (const bits of [0, -1, 1.5, TABLE_MAX_EXP_BITS + 1, Number.NaN]) expect(tableWindowBits(bits)).toBe(1);
  });
});
