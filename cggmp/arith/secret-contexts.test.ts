/**
 * Issue 10 item 1: secret moduli (Paillier p, q, p², q²; ring-Pedersen p̂, q̂) are held in
 * contexts built once per key — flagged constant-time, Montgomery contexts cached in the addon —
 * and every operation on them (exponentiation, reduction, CRT recombination, the L-function,
 * exponent reduction mod φ) agrees with the BigInt backend on random and edge inputs.
 *
 * Both backends are loaded explicitly (loadBackend), whatever VILNA_MPC_ARITH says.
 */
import { generatePrimeSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArithError } from '../errors.ts';
import { fixturePrimes } from '../../test/support/keys.ts';
import { nativeContextInfo, nativeMontContextsBuilt } from './native-backend.ts';
import { loadBackend } from './select.ts';

const native = loadBackend('native');
const js = loadBackend('js');
const Q = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const pow2 = (b: number): bigint => 1n << BigInt(b);

const [p128, q128, p2_128, q2_128] = fixturePrimes(1536) as [bigint, bigint, bigint, bigint];
/** Small safe primes (φ/2 odd: the exponent-reduction path) and plain primes ≡ 1 mod 4 (no reduction). */
const safe = [generatePrimeSync(256, { safe: true, bigint: true }), generatePrimeSync(256, { safe: true, bigint: true })] as const;
const plain = ((): readonly [bigint, bigint] => {
  const out: bigint[] = [];
  while (out.length < 2) {
    const p = generatePrimeSync(300, { bigint: true });
    if (p % 4n === 1n) out.push(p);
  }
  return [out[0]!, out[1]!];
})();

describe('secret-modulus contexts (native)', () => {
  it('holds every secret modulus of a Paillier key flagged constant-time, contexts built once per key', () => {
    const before = nativeMontContextsBuilt();
    const key = native.paillierContext(p128, q128);
    // p, q (decryption, CRT over N), p², q² (CRT over N²), and p', q' (φ/2 for exponent reduction) twice.
    const built = nativeMontContextsBuilt() - before;
    expect(nativeContextInfo(key)).toEqual({ kind: 'paillier', moduli: 4, constantTime: true });
    const N = p128 * q128;
    const C = (1n + 12345n * N) * native.modPow(777n, N, N * N) % (N * N);
    for (let i = 0; i < 20; i++) {
      expect(key.decrypt(C)).toBe(12345n);
      key.decryptCentredMod(C, native.modulusContext(Q));
      key.pow(C, -(pow2(700) + BigInt(i)));
    }
    // Only the scalar-field contexts made in the loop (one each), none for the key's moduli.
    expect(nativeMontContextsBuilt() - before).toBe(built + 20);
    expect(built).toBeGreaterThanOrEqual(4);
  });

  it('holds a CRT pair and a modulus flagged constant-time', () => {
    expect(nativeContextInfo(native.crtContext(p2_128, p2_128 - 1n, q2_128, q2_128 - 1n))).toEqual({ kind: 'crt', moduli: 2, constantTime: true });
    expect(nativeContextInfo(native.modulusContext(Q))).toEqual({ kind: 'modulus', moduli: 1, constantTime: true });
    expect(nativeContextInfo(js.modulusContext(Q))).toBeUndefined();
  });

  it('refuses another kind of handle, negative operands and out-of-range values with ArithError', () => {
    const m = native.modulusContext(Q);
    const crt = native.crtContext(safe[0], safe[0] - 1n, safe[1], safe[1] - 1n);
    for (const b of [native, js]) {
      const mm = b.modulusContext(Q);
      expect(() => mm.reduce(-1n)).toThrow(ArithError);
      expect(() => mm.pow(2n, -1n)).toThrow(ArithError);
      expect(() => mm.mulAdd(1n, -2n, 3n)).toThrow(ArithError);
      expect(() => b.addModSecret(Q, 1n, Q)).toThrow(ArithError);
      expect(() => b.affine(1n, 1n, 5n, 2n)).toThrow(ArithError);
      expect(() => b.modulusContext(10n)).toThrow(ArithError);
      const plainCrt = b.crtContext(plain[0], plain[0] - 1n, plain[1], plain[1] - 1n);
      // Without the reduction (φ/2 even), −e needs |e| ≤ φ.
      expect(() => plainCrt.pow(3n, -(plain[0] * plain[0]))).toThrow(ArithError);
    }
    expect(() => native.paillierContext(p128, p128)).toThrow(ArithError);
    expect(m.reduce(Q + 5n)).toBe(5n);
    expect(crt.pow(3n, 0n)).toBe(1n);
  });
});

describe('secret-modulus contexts agree with the BigInt backend', () => {
  const runs = { numRuns: 60 };

  it('reduces, exponentiates and multiplies-adds modulo an odd modulus, for values of any width', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 1600 }).chain((bits) => fc.tuple(fc.constant(bits), fc.bigInt({ min: pow2(bits - 1), max: pow2(bits) - 1n }).map((n) => n | 1n))),
        fc.bigInt({ min: 0n, max: pow2(5000) }),
        fc.bigInt({ min: 0n, max: pow2(900) }),
        ([, n], x, e) => {
          const [a, b] = [native.modulusContext(n), js.modulusContext(n)];
          expect(a.reduce(x)).toBe(b.reduce(x));
          expect(a.reduce(n)).toBe(0n);
          expect(a.reduce(n - 1n)).toBe(n - 1n);
          expect(a.pow(x, e)).toBe(b.pow(x, e));
          expect(a.mulAdd(e, x, x + 1n)).toBe(b.mulAdd(e, x, x + 1n));
        },
      ),
      runs,
    );
  });

  it('exponentiates by CRT for both signs, with and without the exponent reduction mod φ', () => {
    for (const [p, q] of [safe, plain]) {
      const [a, b] = [native.crtContext(p, p - 1n, q, q - 1n), js.crtContext(p, p - 1n, q, q - 1n)];
      const n = p * q;
      fc.assert(
        fc.property(fc.bigInt({ min: 1n, max: n - 1n }), fc.bigInt({ min: 0n, max: pow2(700) }), (base, e) => {
          if (base % p === 0n || base % q === 0n) return;
          expect(a.pow(base, e)).toBe(b.pow(base, e));
          expect(a.pow(base, e)).toBe(native.modPow(base, e, n));
          const small = e % ((p < q ? p : q) - 1n);
          expect(a.pow(base, -small)).toBe(b.pow(base, -small));
          expect((a.pow(base, -small) * native.modPow(base, small, n)) % n).toBe(1n);
          expect(a.legendre(base)).toEqual(b.legendre(base));
        }),
        runs,
      );
    }
  });

  it('decrypts Paillier ciphertexts to [0, N) and to the centred plaintext mod q', () => {
    const [p, q] = safe;
    const N = p * q;
    const [a, b] = [native.paillierContext(p, q), js.paillierContext(p, q)];
    const [qa, qb] = [native.modulusContext(Q), js.modulusContext(Q)];
    const half = (N - 1n) / 2n;
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(0n, 1n, half, half + 1n, N - 1n), fc.bigInt({ min: 0n, max: N - 1n })),
        fc.bigInt({ min: 1n, max: N - 1n }),
        (m, r) => {
          if (r % p === 0n || r % q === 0n) return;
          const C = ((1n + m * N) * native.modPow(r, N, N * N)) % (N * N);
          expect(a.decrypt(C)).toBe(m);
          expect(b.decrypt(C)).toBe(m);
          const centred = m > half ? m - N : m;
          expect(a.decryptCentredMod(C, qa)).toBe(((centred % Q) + Q) % Q);
          expect(b.decryptCentredMod(C, qb)).toBe(a.decryptCentredMod(C, qa));
          expect(a.pow(r, N)).toBe(native.modPow(r, N, N * N));
        },
      ),
      runs,
    );
  });

  it('computes x^N mod N² through p and q (the Teichmüller shortcut) exactly as a plain exponentiation does', () => {
    // Safe primes take the shortcut (p − 1 = 2·odd); primes ≡ 1 mod 4 the general path; the
    // 1536-bit fixture primes are the production size.
    for (const [p, q, count] of [[...safe, 60], [...plain, 30], [p128, q128, 4]] as const) {
      const N = p * q;
      const N2 = N * N;
      const [a, b] = [native.paillierContext(p, q), js.paillierContext(p, q)];
      fc.assert(
        fc.property(fc.oneof(fc.constantFrom(0n, 1n, p, q, N - 1n, N, N + 1n, N2 - 1n, N2 + 5n, p * p), fc.bigInt({ min: 0n, max: 2n * N2 })), (x) => {
          const plainPow = native.modPow(x % N2, N, N2);
          expect(a.nthPower(x)).toBe(plainPow);
          expect(b.nthPower(x)).toBe(plainPow);
        }),
        { numRuns: count },
      );
      expect(() => a.nthPower(-1n)).toThrow(ArithError);
      expect(() => b.nthPower(-1n)).toThrow(ArithError);
    }
  });

  it('adds modulo an even secret modulus and computes proof responses without signed secrets', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 2n, max: pow2(3072) }), fc.bigInt({ min: 0n, max: pow2(3072) }), fc.bigInt({ min: 0n, max: pow2(3072) }), (m, x, y) => {
        const [u, v] = [x % m, y % m];
        expect(native.addModSecret(u, v, m)).toBe((u + v) % m);
        expect(js.addModSecret(u, v, m)).toBe((u + v) % m);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: pow2(800) }), fc.bigInt({ min: -pow2(256), max: pow2(256) }), fc.bigInt({ min: 1n, max: pow2(300) }), fc.nat(), (av, e, xo, t) => {
        const xv = BigInt(t) % (2n * xo + 1n);
        const want = e >= 0n ? av + e * xv : av - e * (2n * xo - xv);
        expect(native.affine(av, e, xv, xo)).toBe(want);
        expect(js.affine(av, e, xv, xo)).toBe(want);
      }),
      runs,
    );
  });
});
