/**
 * Arithmetic engine benchmarks (DESIGN §3 "Arithmetic engine"): modexp at the Paillier sizes
 * (N: 3072 bits, N²: 6144 bits), constant-time modexp, double exponentiation s^x·t^y with and
 * without the fixed-base table, and 1536-bit safe-prime generation.
 */
import { generatePrime, randomBytes } from 'node:crypto';

import { loadBackend, type BackendName } from '../cggmp/arith/index.ts';
import type { BenchCase, BenchSuite } from './harness.ts';

/** Paillier / ring-Pedersen modulus N at the 128-bit level, and N². */
const N_BITS = 3072;
const N2_BITS = 2 * N_BITS;
/** Exponents of s^x·t^y in the range proofs: about N̂·2^(ℓ+ε) = 3072 + 768 bits. */
const DOUBLE_EXP_BITS = N_BITS + 768;
const SAFE_PRIME_BITS = 1536;

/** Uniform integer of exactly `bits` bits (top bit set), from node:crypto. */
function randomBits(bits: number): bigint {
  const bytes = randomBytes(Math.ceil(bits / 8));
  let v = BigInt(`0x${bytes.toString('hex')}`) >> BigInt(bytes.length * 8 - bits);
  v |= 1n << BigInt(bits - 1);
  return v;
}

/** Odd modulus of exactly `bits` bits (timing does not depend on it being an RSA modulus). */
function randomModulus(bits: number): bigint {
  return randomBits(bits) | 1n;
}

function modexp(op: 'modexp' | 'modexp-secret', backend: BackendName, modBits: number, expBits: number): BenchCase {
  return {
    op,
    backend,
    params: { modBits, expBits },
    setup() {
      const b = loadBackend(backend);
      const m = randomModulus(modBits);
      const base = randomBits(modBits - 1);
      const exp = randomBits(expBits);
      return op === 'modexp' ? () => b.modPow(base, exp, m) : () => b.modPowSecret(base, exp, m);
    },
  };
}

function doubleExp(op: 'double-exp' | 'double-exp-table', backend: BackendName): BenchCase {
  return {
    op,
    backend,
    params: { modBits: N_BITS, expBits: DOUBLE_EXP_BITS },
    setup() {
      const b = loadBackend(backend);
      const m = randomModulus(N_BITS);
      const [s, t] = [randomBits(N_BITS - 1), randomBits(N_BITS - 1)];
      const [x, y] = [randomBits(DOUBLE_EXP_BITS), randomBits(DOUBLE_EXP_BITS)];
      if (op === 'double-exp') return () => b.modPow2(s, x, t, y, m);
      const table = b.fixedBaseTable(s, t, m, DOUBLE_EXP_BITS);
      return () => table.pow2(x, y);
    },
  };
}

const safePrime: BenchCase = {
  op: 'safe-prime',
  backend: 'node',
  params: { bits: SAFE_PRIME_BITS },
  // 0.1–6 s per prime: a few runs, no warm-up.
  budget: { minRuns: 3, maxRuns: 5, timeMs: 10_000, warmup: false },
  setup: () => () =>
    new Promise<bigint>((resolve, reject) => {
      generatePrime(SAFE_PRIME_BITS, { safe: true, bigint: true }, (err, p) => (err ? reject(err) : resolve(p)));
    }),
};

const suite: BenchSuite = [
  modexp('modexp', 'native', N_BITS, N_BITS),
  modexp('modexp', 'js', N_BITS, N_BITS),
  modexp('modexp', 'native', N2_BITS, N_BITS),
  modexp('modexp', 'js', N2_BITS, N_BITS),
  modexp('modexp-secret', 'native', N_BITS, N_BITS),
  modexp('modexp-secret', 'native', N2_BITS, N_BITS),
  doubleExp('double-exp', 'native'),
  doubleExp('double-exp', 'js'),
  doubleExp('double-exp-table', 'native'),
  doubleExp('double-exp-table', 'js'),
  safePrime,
];
export default suite;
