/**
 * Pure BigInt implementation of ArithBackend, for development and tests (DESIGN §3).
 *
 * VARIABLE-TIME, including `modPowSecret`: the sliding-window exponentiation branches on every
 * exponent bit and BigInt multiplication time depends on operand values, so a secret exponent
 * leaks through timing. `constantTime` is false and the sidecar refuses this backend outside
 * development runs. Argument checks and error messages match the native addon, so the two
 * backends are interchangeable in tests.
 */
import { ArithError } from '../errors.ts';
import { gcd } from './bigint.ts';
import type { ArithBackend, CrtContext, FixedBaseTable, ModulusContext, PaillierContext } from './backend.ts';
import { TABLE_MAX_EXP_BITS, tableWindowBits } from './fixed-base-window.ts';

/** Largest sliding-window width tried: 2^7 precomputed odd powers at most. */
const MAX_SLIDING_WINDOW_BITS = 8;

function assertModulus(m: bigint, op: string, mustBeOdd: boolean): void {
  if (m <= 1n) throw new ArithError(`${op}: modulus must be greater than 1`);
  if (mustBeOdd && (m & 1n) === 0n) throw new ArithError(`${op}: modulus must be odd`);
}

function assertNonNegative(v: bigint, op: string, name: string): void {
  if (v < 0n) throw new ArithError(`${op}: ${name} must be non-negative`);
}

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}

/** Window width minimising 2^(w−1) precomputed powers + bits/(w+1) window multiplications. */
function slidingWindowBits(bits: number): number {
  let best = 1;
  for (let w = 2; w <= MAX_SLIDING_WINDOW_BITS; w++) {
    if (2 ** (w - 1) + bits / (w + 1) < 2 ** (best - 1) + bits / (best + 1)) best = w;
  }
  return best;
}

/**
 * Left-to-right sliding-window recoding of e > 0: digits[j] is the odd window value whose lowest
 * bit is bit j, 0 elsewhere; e = Σ digits[j]·2^j.
 */
function slidingWindowDigits(e: bigint, w: number): Int32Array {
  const bin = e.toString(2);
  const len = bin.length;
  const bit = (i: number): number => (bin.charCodeAt(len - 1 - i) === 49 ? 1 : 0);
  const digits = new Int32Array(len);
  let i = len - 1;
  while (i >= 0) {
    if (bit(i) === 0) {
      i--;
      continue;
    }
    let j = Math.max(i - w + 1, 0);
    while (bit(j) === 0) j++;
    let value = 0;
    for (let k = i; k >= j; k--) value = (value << 1) | bit(k);
    digits[j] = value;
    i = j - 1;
  }
  return digits;
}

/** Π bases[i]^exps[i] mod m with interleaved sliding windows (one shared squaring chain). */
function multiPow(bases: readonly bigint[], exps: readonly bigint[], m: bigint): bigint {
  const terms: { digits: Int32Array; oddPowers: bigint[] }[] = [];
  let top = 0;
  for (let k = 0; k < bases.length; k++) {
    const e = exps[k]!;
    if (e === 0n) continue;
    const b = bases[k]! % m;
    const bits = bitLength(e);
    const w = slidingWindowBits(bits);
    const oddPowers = [b]; // b^1, b^3, …, b^(2^w − 1)
    const b2 = (b * b) % m;
    for (let i = 1; i < 2 ** (w - 1); i++) oddPowers.push((oddPowers[i - 1]! * b2) % m);
    terms.push({ digits: slidingWindowDigits(e, w), oddPowers });
    top = Math.max(top, bits);
  }
  let acc = 1n;
  let started = false;
  for (let i = top - 1; i >= 0; i--) {
    if (started) acc = (acc * acc) % m;
    for (const { digits, oddPowers } of terms) {
      const d = i < digits.length ? digits[i]! : 0;
      if (d === 0) continue;
      const p = oddPowers[d >> 1]!;
      acc = started ? (acc * p) % m : p;
      started = true;
    }
  }
  return acc;
}

function modPow(base: bigint, exp: bigint, m: bigint, op = 'modPow'): bigint {
  assertModulus(m, op, true);
  assertNonNegative(base, op, 'base');
  assertNonNegative(exp, op, 'exponent');
  return multiPow([base], [exp], m);
}

function modPow2(a: bigint, x: bigint, b: bigint, y: bigint, m: bigint): bigint {
  const op = 'modPow2';
  assertModulus(m, op, true);
  assertNonNegative(a, op, 'base a');
  assertNonNegative(x, op, 'exponent x');
  assertNonNegative(b, op, 'base b');
  assertNonNegative(y, op, 'exponent y');
  return multiPow([a, b], [x, y], m);
}

/** Extended Euclid; the modulus may be even. */
function modInverse(a: bigint, m: bigint): bigint {
  const op = 'modInverse';
  assertModulus(m, op, false);
  assertNonNegative(a, op, 'value');
  let [r0, r1] = [m, a % m];
  let [t0, t1] = [0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  if (r0 !== 1n) throw new ArithError(`${op}: value is not invertible (gcd with modulus is not 1)`);
  return t0 < 0n ? t0 + m : t0;
}

/** gcd(a, m) = 1 by Euclid (variable time: the BigInt backend is for development only). */
function isCoprime(a: bigint, m: bigint): boolean {
  const op = 'isCoprime';
  assertModulus(m, op, false);
  assertNonNegative(a, op, 'value');
  return gcd(a, m) === 1n;
}

/** Base-2^w digits of e, least significant first, padded to `count` digits. */
function digitsOf(e: bigint, w: number, count: number): Int32Array {
  const bin = e === 0n ? '' : e.toString(2);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const end = bin.length - i * w;
    if (end <= 0) break;
    out[i] = parseInt(bin.slice(Math.max(0, end - w), end), 2);
  }
  return out;
}

/** Spec "Speeding up Fixed-Based Multiexponentiation Using Preprocessing", algorithm "Computing s^x t^y". */
function fixedBaseTable(s: bigint, t: bigint, m: bigint, maxExpBits: number): FixedBaseTable {
  const op = 'fixedBaseTable';
  assertModulus(m, op, true);
  assertNonNegative(s, op, 'base s');
  assertNonNegative(t, op, 'base t');
  if (!Number.isInteger(maxExpBits) || maxExpBits < 1 || maxExpBits > TABLE_MAX_EXP_BITS) {
    throw new ArithError(`${op}: maxExpBits must be an integer in [1, ${TABLE_MAX_EXP_BITS}]`);
  }
  const w = tableWindowBits(maxExpBits);
  const B = 2 ** w;
  const k = Math.ceil(maxExpBits / w);
  // Preprocessing: s_i = s^(B^i), t_i = t^(B^i), each from the previous by w squarings.
  const powers = (base: bigint): bigint[] => {
    const out = [base % m];
    for (let i = 1; i < k; i++) {
      let v = out[i - 1]!;
      for (let j = 0; j < w; j++) v = (v * v) % m;
      out.push(v);
    }
    return out;
  };
  const s_i = powers(s);
  const t_i = powers(t);

  const pow2 = (x: bigint, y: bigint): bigint => {
    for (const [name, e] of [['x', x], ['y', y]] as const) {
      assertNonNegative(e, 'pow2', `exponent ${name}`);
      const bits = bitLength(e);
      if (bits > maxExpBits) {
        throw new ArithError(`pow2: exponent ${name} has ${bits} bits, the table covers ${maxExpBits}`);
      }
    }
    const xd = digitsOf(x, w, k);
    const yd = digitsOf(y, w, k);
    // Bucket the entries by digit so that each b = B−1..1 visits only its own entries.
    const buckets: bigint[][] = Array.from({ length: B }, () => []);
    for (let i = 0; i < k; i++) {
      if (yd[i] !== 0) buckets[yd[i]!]!.push(t_i[i]!);
      if (xd[i] !== 0) buckets[xd[i]!]!.push(s_i[i]!);
    }
    let res: bigint | undefined;
    let tmp: bigint | undefined;
    for (let b = B - 1; b >= 1; b--) {
      for (const v of buckets[b]!) tmp = tmp === undefined ? v : (tmp * v) % m;
      if (tmp !== undefined) res = res === undefined ? tmp : (res * tmp) % m;
    }
    return res ?? 1n;
  };
  return Object.freeze({ modulus: m, maxExpBits, pow2 });
}

function modulusContext(n: bigint): ModulusContext {
  assertModulus(n, 'secretModulus', true);
  return Object.freeze({
    n,
    reduce(x: bigint): bigint {
      assertNonNegative(x, 'modReduce', 'x');
      return x % n;
    },
    pow(base: bigint, exp: bigint): bigint {
      assertNonNegative(base, 'modPowSecretModulus', 'base');
      return modPow(base % n, exp, n, 'modPowSecretModulus');
    },
    mulAdd(a: bigint, x: bigint, y: bigint): bigint {
      for (const [name, v] of [['a', a], ['x', x], ['y', y]] as const) assertNonNegative(v, 'modMulAdd', name);
      return (a + x * y) % n;
    },
  });
}

/**
 * base^exp mod m for one CRT half as the addon computes it: the exponent reduced mod phi when
 * phi/2 is odd (safe primes), a negative exponent as phi − |exp|.
 */
function crtHalf(base: bigint, exp: bigint, m: bigint, phi: bigint): bigint {
  const reduces = phi % 4n === 2n;
  const abs = exp < 0n ? -exp : exp;
  if (exp < 0n && !reduces && abs > phi) throw new ArithError('crtPow: the operation failed');
  const e = reduces ? abs % phi : abs;
  return modPow(base % m, exp < 0n ? phi - e : e, m, 'crtPow');
}

function crtContext(n1: bigint, phi1: bigint, n2: bigint, phi2: bigint): CrtContext {
  assertModulus(n1, 'secretCrt', true);
  assertModulus(n2, 'secretCrt', true);
  const beta = modInverse(n1 % n2, n2);
  const combine = (r1: bigint, r2: bigint): bigint => r1 + ((((r2 - r1) % n2) + n2) * beta % n2) * n1;
  const euler = (v: bigint, p: bigint): -1 | 0 | 1 => {
    const r = modPow(v % p, (p - 1n) / 2n, p, 'crtLegendre');
    return r === 1n ? 1 : r === 0n ? 0 : -1;
  };
  return Object.freeze({
    n: n1 * n2,
    pow(base: bigint, exp: bigint): bigint {
      assertNonNegative(base, 'crtPow', 'base');
      return combine(crtHalf(base, exp, n1, phi1), crtHalf(base, exp, n2, phi2));
    },
    legendre: (v: bigint) => [euler(v, n1), euler(v, n2)] as const,
  });
}

function paillierContext(p: bigint, q: bigint): PaillierContext {
  if (p === q) throw new ArithError('secretPaillier: p and q must be distinct odd primes');
  assertModulus(p, 'secretPaillier', true);
  assertModulus(q, 'secretPaillier', true);
  const N = p * q;
  const N2 = N * N;
  const overN2 = crtContext(p * p, p * (p - 1n), q * q, q * (q - 1n));
  const hp = modInverse(((p - 1n) * q) % p, p);
  const hq = modInverse(((q - 1n) * p) % q, q);
  const decrypt = (C: bigint): bigint => {
    if (C < 0n || C >= N2) throw new ArithError('paillierDecrypt: the operation failed');
    // m_p = L_p(C^(p-1) mod p²)·hp mod p with L_p(u) = (u − 1)/p; likewise for q; then CRT.
    const up = modPow(C % (p * p), p - 1n, p * p);
    const uq = modPow(C % (q * q), q - 1n, q * q);
    if (up === 0n || uq === 0n) throw new ArithError('paillierDecrypt: the operation failed');
    const mp = (((up - 1n) / p) * hp) % p;
    const mq = (((uq - 1n) / q) * hq) % q;
    return mp + ((((mq - mp) % q) + q) * modInverse(p % q, q) % q) * p;
  };
  return Object.freeze({
    decrypt,
    decryptCentredMod(C: bigint, qc: ModulusContext): bigint {
      const m = decrypt(C);
      const centred = m > (N - 1n) / 2n ? m - N : m;
      return ((centred % qc.n) + qc.n) % qc.n;
    },
    pow: (base: bigint, exp: bigint) => overN2.pow(base, exp),
    nthPower(x: bigint): bigint {
      assertNonNegative(x, 'paillierNthPower', 'base');
      return modPow(x % N2, N, N2);
    },
  });
}

function addModSecret(a: bigint, b: bigint, m: bigint): bigint {
  if (m <= 0n || a < 0n || b < 0n || a >= m || b >= m) throw new ArithError('addModSecret: operands must be below the modulus');
  return (a + b) % m;
}

function affine(av: bigint, e: bigint, xv: bigint, xo: bigint): bigint {
  for (const [name, v] of [['av', av], ['xv', xv], ['xo', xo]] as const) assertNonNegative(v, 'affine', name);
  if (xv > 2n * xo) throw new ArithError('affine: xv must lie in [0, 2 xo]');
  return e >= 0n ? av + e * xv : av - e * (2n * xo - xv);
}

/** The pure BigInt backend (variable-time). */
export const jsBackend: ArithBackend = Object.freeze({
  name: 'js',
  constantTime: false,
  modPow: (base: bigint, exp: bigint, m: bigint) => modPow(base, exp, m),
  /** Same algorithm as modPow: NOT constant-time (see the module comment). */
  modPowSecret: (base: bigint, exp: bigint, m: bigint) => modPow(base, exp, m, 'modPowSecret'),
  modPow2,
  modInverse,
  isCoprime,
  fixedBaseTable,
  modulusContext,
  crtContext,
  paillierContext,
  addModSecret,
  affine,
});
