/**
 * The native backend agrees with the BigInt backend on random and edge inputs, from 64-bit to
 * 6144-bit moduli, and rejects bad arguments with the same ArithError.
 *
 * These tests load both backends explicitly (loadBackend), whatever VILNA_MPC_ARITH says, and
 * fail (never skip) when the addon is not built.
 */
import { Worker } from 'node:worker_threads';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ArithError } from '../errors.ts';
import type { ArithBackend } from './backend.ts';
import { gcd } from './bigint.ts';
import { loadBackend } from './select.ts';

const native = loadBackend('native');
const js = loadBackend('js');

const pow2n = (bits: number): bigint => 1n << BigInt(bits);

/** Odd modulus of exactly `bits` bits (bits ≥ 2), biased towards all-ones and 2^(bits−1)+1. */
function oddModulus(bits: number): fc.Arbitrary<bigint> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.bigInt({ min: pow2n(bits - 1), max: pow2n(bits) - 1n }).map((m) => m | 1n) },
    { weight: 1, arbitrary: fc.constant(pow2n(bits) - 1n) },
    { weight: 1, arbitrary: fc.constant(pow2n(bits - 1) + 1n) },
  );
}

/** A base for modulus m: edge values (0, 1, m−1, m, m+1, 2m+3) and values below and above m. */
function baseFor(m: bigint, bits: number): fc.Arbitrary<bigint> {
  return fc.oneof(
    fc.constantFrom(0n, 1n, m - 1n, m, m + 1n, 2n * m + 3n),
    fc.bigInt({ min: 0n, max: m - 1n }),
    fc.bigInt({ min: 0n, max: pow2n(bits + 70) }),
  );
}

/** An exponent below 2^maxBits: 0, 1, 2, 2^maxBits − 1, 2^(maxBits−1), or random. */
function exponent(maxBits: number): fc.Arbitrary<bigint> {
  const edges = [0n, 1n, 2n, pow2n(maxBits) - 1n, pow2n(maxBits - 1)].filter((e) => e < pow2n(maxBits));
  return fc.oneof(
    fc.constantFrom(...edges),
    fc.integer({ min: 1, max: maxBits }).chain((b) => fc.bigInt({ min: 0n, max: pow2n(b) - 1n })),
  );
}

interface Case {
  m: bigint;
  a: bigint;
  x: bigint;
  b: bigint;
  y: bigint;
}

/** Moduli of the given sizes with two bases and two exponents up to modBits + 768 bits. */
function cases(sizes: readonly number[]): fc.Arbitrary<Case> {
  return fc
    .constantFrom(...sizes)
    .chain((bits) =>
      oddModulus(bits).chain((m) =>
        fc.record({
          m: fc.constant(m),
          a: baseFor(m, bits),
          x: exponent(bits + 768),
          b: baseFor(m, bits),
          y: exponent(bits + 768),
        }),
      ),
    );
}

const SMALL_SIZES = [64, 65, 127, 128, 192, 255, 256, 512, 1024] as const;
const LARGE_SIZES = [1536, 2048, 3072] as const;
/** N² at the 128-bit level: the JS side takes ~0.2 s per operation, so only a few runs. */
const HUGE_SIZES = [6144] as const;

/** Tiny odd moduli, where every residue is an edge case. */
const tinyCases: fc.Arbitrary<Case> = fc.record({
  m: fc.constantFrom(3n, 5n, 7n, 9n, 15n, 255n, 65_537n),
  a: fc.bigInt({ min: 0n, max: 200_000n }),
  x: fc.bigInt({ min: 0n, max: 1000n }),
  b: fc.bigInt({ min: 0n, max: 200_000n }),
  y: fc.bigInt({ min: 0n, max: 1000n }),
});

const RUNS: readonly [string, fc.Arbitrary<Case>, number][] = [
  ['tiny moduli', tinyCases, 100],
  ['64 to 1024-bit moduli', cases(SMALL_SIZES), 100],
  ['1536 to 3072-bit moduli', cases(LARGE_SIZES), 20],
  ['6144-bit moduli', cases(HUGE_SIZES), 4],
];

describe('native backend equals the BigInt backend', () => {
  it('reports its name and constant-time secret exponentiation', () => {
    expect(native.name).toBe('native');
    expect(native.constantTime).toBe(true);
    expect(js.constantTime).toBe(false);
  });

  for (const [label, arb, numRuns] of RUNS) {
    it(`modPow on ${label}`, () => {
      fc.assert(
        fc.property(arb, ({ m, a, x }) => {
          expect(native.modPow(a, x, m)).toBe(js.modPow(a, x, m));
        }),
        { numRuns },
      );
    });

    it(`modPowSecret on ${label}`, () => {
      fc.assert(
        fc.property(arb, ({ m, a, x }) => {
          const r = native.modPowSecret(a, x, m);
          expect(r).toBe(js.modPowSecret(a, x, m));
          expect(r).toBe(native.modPow(a, x, m));
        }),
        { numRuns },
      );
    });

    it(`modPow2 on ${label}`, () => {
      fc.assert(
        fc.property(arb, ({ m, a, x, b, y }) => {
          const r = native.modPow2(a, x, b, y, m);
          expect(r).toBe(js.modPow2(a, x, b, y, m));
          expect(r).toBe((native.modPow(a, x, m) * native.modPow(b, y, m)) % m);
        }),
        { numRuns },
      );
    });
  }

  it('exponents 0 and 1', () => {
    for (const backend of [native, js]) {
      const m = (1n << 3071n) + 12_345n;
      const a = m - 2n;
      expect(backend.modPow(a, 0n, m)).toBe(1n);
      expect(backend.modPow(a, 1n, m)).toBe(a);
      expect(backend.modPow(a + 5n * m, 1n, m)).toBe(a);
      expect(backend.modPow(0n, 0n, m)).toBe(1n);
      expect(backend.modPow(0n, 7n, m)).toBe(0n);
      expect(backend.modPowSecret(a, 0n, m)).toBe(1n);
      expect(backend.modPowSecret(m, 5n, m)).toBe(0n);
      expect(backend.modPow2(a, 0n, a, 0n, m)).toBe(1n);
      expect(backend.modPow2(a, 1n, 1n, 1n, m)).toBe(a);
    }
  });
});

describe('modInverse', () => {
  /** Moduli of any parity (e.g. φ(N) is even) and sizes 2 to 3072 bits. */
  const modulus = fc.oneof(
    fc.bigInt({ min: 2n, max: 1000n }),
    fc.integer({ min: 2, max: 3072 }).chain((bits) => fc.bigInt({ min: pow2n(bits - 1), max: pow2n(bits) - 1n })),
  );

  it('agrees between backends and inverts', () => {
    fc.assert(
      fc.property(
        modulus.chain((m) => fc.record({ m: fc.constant(m), a: fc.bigInt({ min: 0n, max: 3n * m }) })),
        ({ m, a }) => {
          let expected: bigint | ArithError;
          try {
            expected = js.modInverse(a, m);
          } catch (e) {
            expect(e).toBeInstanceOf(ArithError);
            expected = e as ArithError;
          }
          if (expected instanceof ArithError) {
            expect(() => native.modInverse(a, m)).toThrow(expected.message);
          } else {
            const inv = native.modInverse(a, m);
            expect(inv).toBe(expected);
            expect((a * inv) % m).toBe(1n);
            expect(inv < m).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('throws ArithError when gcd(a, m) ≠ 1', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 2n, max: pow2n(1536) }),
        fc.bigInt({ min: 1n, max: pow2n(1536) }),
        fc.bigInt({ min: 1n, max: pow2n(1536) }),
        (g, k, j) => {
          const [a, m] = [g * k, g * j];
          for (const backend of [native, js]) {
            expect(() => backend.modInverse(a, m)).toThrow(ArithError);
            expect(() => backend.modInverse(a, m)).toThrow('not invertible');
          }
        },
      ),
      { numRuns: 50 },
    );
    for (const backend of [native, js]) {
      expect(() => backend.modInverse(0n, 7n)).toThrow(ArithError);
      expect(() => backend.modInverse(14n, 7n)).toThrow(ArithError);
    }
  });
});

describe('isCoprime', () => {
  it('agrees between backends and with Euclid, for coprime and shared-factor pairs up to 6144 bits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6144 }).chain((bits) => fc.bigInt({ min: pow2n(bits - 1), max: pow2n(bits) - 1n })),
        fc.bigInt({ min: 2n, max: pow2n(64) }),
        fc.bigInt({ min: 0n, max: pow2n(6200) }),
        fc.boolean(),
        (c, f, r, share) => {
          const [a, m] = share ? [f * r, f * c] : [r, c];
          const expected = gcd(a, m) === 1n;
          expect(js.isCoprime(a, m)).toBe(expected);
          expect(native.isCoprime(a, m)).toBe(expected);
        },
      ),
      { numRuns: 150 },
    );
    for (const backend of [native, js]) {
      expect(backend.isCoprime(0n, 7n)).toBe(false);
      expect(backend.isCoprime(14n, 21n)).toBe(false);
      expect(backend.isCoprime(1n, 2n)).toBe(true);
      expect(backend.isCoprime(10n, 21n)).toBe(true);
    }
  });
});

describe('fixed-base table', () => {
  const tableCases = fc
    .constantFrom(64, 256, 1024, 2048, 3072)
    .chain((bits) => oddModulus(bits))
    .chain((m) =>
      fc.integer({ min: 1, max: 4000 }).chain((maxExpBits) =>
        fc.record({
          m: fc.constant(m),
          s: fc.bigInt({ min: 0n, max: 2n * m }),
          t: fc.bigInt({ min: 0n, max: 2n * m }),
          maxExpBits: fc.constant(maxExpBits),
          xs: fc.array(exponent(maxExpBits), { minLength: 1, maxLength: 3 }),
          ys: fc.array(exponent(maxExpBits), { minLength: 1, maxLength: 3 }),
        }),
      ),
    );

  it('pow2 equals modPow2 on both backends', () => {
    fc.assert(
      fc.property(tableCases, ({ m, s, t, maxExpBits, xs, ys }) => {
        const nt = native.fixedBaseTable(s, t, m, maxExpBits);
        const jt = js.fixedBaseTable(s, t, m, maxExpBits);
        expect(nt.modulus).toBe(m);
        expect(nt.maxExpBits).toBe(maxExpBits);
        for (const [i, x] of xs.entries()) {
          const y = ys[i % ys.length]!;
          const expected = native.modPow2(s, x, t, y, m);
          expect(nt.pow2(x, y)).toBe(expected);
          expect(jt.pow2(x, y)).toBe(expected);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('covers exponents up to maxExpBits exactly, at the protocol size', () => {
    const m = pow2n(3072) - 1n - 2n * 12_345n;
    const [s, t] = [pow2n(3000) + 17n, pow2n(2999) + 5n];
    const maxExpBits = 3840;
    const nt = native.fixedBaseTable(s, t, m, maxExpBits);
    const jt = js.fixedBaseTable(s, t, m, maxExpBits);
    const top = pow2n(maxExpBits) - 1n;
    for (const [x, y] of [[0n, 0n], [1n, 0n], [0n, 1n], [top, top], [top, 0n], [pow2n(maxExpBits - 1), 3n]] as const) {
      const expected = native.modPow2(s, x, t, y, m);
      expect(nt.pow2(x, y)).toBe(expected);
      expect(jt.pow2(x, y)).toBe(expected);
    }
  });

  it('rejects exponents beyond the table on both backends', () => {
    for (const backend of [native, js]) {
      const table = backend.fixedBaseTable(3n, 5n, 1_000_003n, 100);
      expect(table.pow2(pow2n(100) - 1n, 0n)).toBe(backend.modPow(3n, pow2n(100) - 1n, 1_000_003n));
      expect(() => table.pow2(pow2n(100), 0n)).toThrow(new ArithError('pow2: exponent x has 101 bits, the table covers 100'));
      expect(() => table.pow2(0n, pow2n(200))).toThrow(new ArithError('pow2: exponent y has 201 bits, the table covers 100'));
      expect(() => table.pow2(-1n, 0n)).toThrow(new ArithError('pow2: exponent x must be non-negative'));
    }
  });
});

describe('bad arguments: an ArithError, never a crash, identical on both backends', () => {
  const BAD: readonly [string, (b: ArithBackend) => unknown][] = [
    ['modPow: modulus must be greater than 1', (b) => b.modPow(2n, 3n, 0n)],
    ['modPow: modulus must be greater than 1', (b) => b.modPow(2n, 3n, 1n)],
    ['modPow: modulus must be greater than 1', (b) => b.modPow(2n, 3n, -7n)],
    ['modPow: modulus must be odd', (b) => b.modPow(2n, 3n, 10n)],
    ['modPow: modulus must be odd', (b) => b.modPow(2n, 3n, pow2n(3072))],
    ['modPow: base must be non-negative', (b) => b.modPow(-2n, 3n, 11n)],
    ['modPow: exponent must be non-negative', (b) => b.modPow(2n, -3n, 11n)],
    ['modPowSecret: modulus must be odd', (b) => b.modPowSecret(2n, 3n, 12n)],
    ['modPowSecret: base must be non-negative', (b) => b.modPowSecret(-2n, 3n, 11n)],
    ['modPowSecret: exponent must be non-negative', (b) => b.modPowSecret(2n, -1n, 11n)],
    ['modPow2: modulus must be odd', (b) => b.modPow2(2n, 3n, 4n, 5n, 12n)],
    ['modPow2: base a must be non-negative', (b) => b.modPow2(-2n, 3n, 4n, 5n, 11n)],
    ['modPow2: exponent x must be non-negative', (b) => b.modPow2(2n, -3n, 4n, 5n, 11n)],
    ['modPow2: base b must be non-negative', (b) => b.modPow2(2n, 3n, -4n, 5n, 11n)],
    ['modPow2: exponent y must be non-negative', (b) => b.modPow2(2n, 3n, 4n, -5n, 11n)],
    ['modInverse: modulus must be greater than 1', (b) => b.modInverse(2n, 1n)],
    ['modInverse: modulus must be greater than 1', (b) => b.modInverse(2n, 0n)],
    ['modInverse: value must be non-negative', (b) => b.modInverse(-2n, 11n)],
    ['isCoprime: modulus must be greater than 1', (b) => b.isCoprime(2n, 1n)],
    ['isCoprime: value must be non-negative', (b) => b.isCoprime(-2n, 11n)],
    ['fixedBaseTable: modulus must be odd', (b) => b.fixedBaseTable(2n, 3n, 16n, 10)],
    ['fixedBaseTable: modulus must be greater than 1', (b) => b.fixedBaseTable(2n, 3n, 0n, 10)],
    ['fixedBaseTable: base s must be non-negative', (b) => b.fixedBaseTable(-2n, 3n, 15n, 10)],
    ['fixedBaseTable: base t must be non-negative', (b) => b.fixedBaseTable(2n, -3n, 15n, 10)],
    ['fixedBaseTable: maxExpBits must be an integer in [1, 65536]', (b) => b.fixedBaseTable(2n, 3n, 15n, 0)],
    ['fixedBaseTable: maxExpBits must be an integer in [1, 65536]', (b) => b.fixedBaseTable(2n, 3n, 15n, 1.5)],
    ['fixedBaseTable: maxExpBits must be an integer in [1, 65536]', (b) => b.fixedBaseTable(2n, 3n, 15n, 70_000)],
  ];
  const byMessage = Map.groupBy(BAD, ([message]) => message);
  for (const [message, calls] of byMessage) {
    it(`${message} (${calls.length} ${calls.length === 1 ? 'case' : 'cases'})`, () => {
      for (const [, call] of calls) {
        for (const backend of [native, js]) expect(() => call(backend)).toThrow(new ArithError(message));
      }
    });
  }

  it('an argument that is not a bigint is a TypeError from the addon', () => {
    const untyped = native as unknown as { modPow(b: unknown, e: unknown, m: unknown): bigint };
    expect(() => untyped.modPow(2, 3n, 11n)).toThrow(TypeError);
    expect(() => untyped.modPow(2n, '3', 11n)).toThrow(TypeError);
  });
});

describe('native addon in a worker thread', () => {
  it('loads and computes there too (proof work runs on workers)', async () => {
    const addonPath = new URL('./native/build/Release/vilna_arith.node', import.meta.url).pathname;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData);
      parentPort.postMessage(addon.modPow(3n, 1000n, 1000003n));`;
    const worker = new Worker(code, { eval: true, workerData: addonPath });
    const result = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(result).toBe(native.modPow(3n, 1000n, 1_000_003n));
  });
});
