/**
 * A counting decorator over an ArithBackend (issue 11 item 3): every exponentiation that passes
 * through the backend is recorded with its kind, the modulus it ran under, the party whose
 * session made it and the proof or protocol step that asked for it. Test and bench only: the
 * core never sees it except through `getBackend()` when counting-select.ts stands in for
 * cggmp/arith/select.ts (counting-hooks.ts). The decorated backend computes exactly what the
 * inner one does.
 *
 * Counting rules (the same ones bench/modexp-spec.ts applies to the spec's text):
 * - `exp`: one single-base exponentiation b^e (public or secret exponent: modPow, modPowSecret,
 *   a ModulusContext's pow);
 * - `dexp`: one double exponentiation a^x·b^y in one call (modPow2);
 * - `table`: one evaluation s^x·t^y of a fixed-base multi-exponentiation table;
 * - `crt`: one exponentiation through a CRT context (CrtContext.pow, PaillierContext.pow, a
 *   Paillier decryption, a pair of Legendre symbols): one modexp made of two half-size exps, mod
 *   p², q² for N², mod p, q (or p̂, q̂) for N (or N̂), listed under the full modulus it stands for
 *   but never mixed with the exps at that full size;
 * - `table-build` (the one-time preprocessing of a table) and `inverse` are recorded but are not
 *   modexps and never enter the totals.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ArithBackend, CrtContext, FixedBaseTable, ModulusContext, PaillierContext } from '../../cggmp/arith/index.ts';

export type OpKind = 'exp' | 'dexp' | 'table' | 'crt' | 'table-build' | 'inverse';
/** Kinds that are modexps (enter the totals). */
export const MODEXP_KINDS: readonly OpKind[] = ['exp', 'dexp', 'table', 'crt'];

export interface OpRecord {
  readonly party: number | undefined;
  readonly phase: string | undefined;
  readonly kind: OpKind;
  /** The modulus it ran under (the full one for a CRT exponentiation); `classify` names it. */
  readonly m: bigint;
  /** The proof function or protocol step that asked for it (innermost named caller we know). */
  readonly step: string;
}

interface Where {
  readonly party: number;
  readonly phase: string;
}

const where = new AsyncLocalStorage<Where>();
const records: OpRecord[] = [];
const moduli = new Map<bigint, string>();
let recording = false;

/** Runs `f` with every operation it causes (through awaits) attributed to `party` in `phase`. */
export function attribute<T>(party: number, phase: string, f: () => T): T {
  return where.run({ party, phase }, f);
}

/** Names a modulus (N_i, N_i², N̂_i, …) so that records say which class it is. */
export function nameModulus(m: bigint, name: string): void {
  moduli.set(m, name);
}

/** Starts recording (clearing what was recorded before). */
export function startRecording(): void {
  records.length = 0;
  recording = true;
}

/** Stops recording and returns what was recorded. */
export function stopRecording(): readonly OpRecord[] {
  recording = false;
  return records.slice();
}

/** A modulus by the name given with nameModulus ('N²', 'N', 'N̂', 'q', …), else its bit size. */
export function classify(m: bigint): string {
  return moduli.get(m) ?? `${m.toString(2).length}-bit`;
}

/**
 * The proof functions and protocol steps we attribute to, innermost first wins: a Paillier
 * encryption inside proveAffG is proveAffG's; verifierTable's table build is its own step.
 */
const STEPS = new Set([
  'verifierTable',
  'proveEncElg',
  'verifyEncElg',
  'proveAffG',
  'verifyAffG',
  'proveElog',
  'verifyElog',
  'proveMod',
  'verifyMod',
  'provePrm',
  'verifyPrm',
  'proveFac',
  'verifyFac',
  'commitNonce',
  'mtaHalf',
  'decryptCentredMod',
  'decrypt',
  'paillierSecretKeyFromPrimes',
  'ringPedersenFromPrimes',
  'identifyDeltaCulprit',
]);
const FRAME = /^\s*at (?:async )?(?:Object\.)?([\w$]+)[ (]/;

function stepOf(stack: string | undefined): string {
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const name = FRAME.exec(line)?.[1];
    if (name !== undefined && STEPS.has(name)) return name;
  }
  return 'other';
}

function note(kind: OpKind, m: bigint): void {
  if (!recording) return;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64;
  const stack = new Error().stack;
  Error.stackTraceLimit = limit;
  const w = where.getStore();
  records.push({ party: w?.party, phase: w?.phase, kind, m, step: stepOf(stack) });
}

/** The same backend, with every exponentiation (and table, context, inverse) recorded. */
export function countingBackend(inner: ArithBackend): ArithBackend {
  return Object.freeze({
    name: inner.name,
    constantTime: inner.constantTime,
    modPow: (b: bigint, e: bigint, m: bigint) => (note('exp', m), inner.modPow(b, e, m)),
    modPowSecret: (b: bigint, e: bigint, m: bigint) => (note('exp', m), inner.modPowSecret(b, e, m)),
    modPow2: (a: bigint, x: bigint, b: bigint, y: bigint, m: bigint) => (note('dexp', m), inner.modPow2(a, x, b, y, m)),
    modInverse: (a: bigint, m: bigint) => (note('inverse', m), inner.modInverse(a, m)),
    isCoprime: (a: bigint, m: bigint) => inner.isCoprime(a, m),
    fixedBaseTable(s: bigint, t: bigint, m: bigint, maxExpBits: number): FixedBaseTable {
      note('table-build', m);
      const table = inner.fixedBaseTable(s, t, m, maxExpBits);
      return Object.freeze({
        modulus: table.modulus,
        maxExpBits: table.maxExpBits,
        pow2: (x: bigint, y: bigint) => (note('table', m), table.pow2(x, y)),
      });
    },
    modulusContext(n: bigint): ModulusContext {
      const ctx = inner.modulusContext(n);
      const wrapped = wrapModulus(ctx);
      // decryptCentredMod hands this context back to the inner backend, which wants its own.
      contexts.set(wrapped, ctx);
      return wrapped;
    },
    crtContext(n1: bigint, phi1: bigint, n2: bigint, phi2: bigint): CrtContext {
      const ctx = inner.crtContext(n1, phi1, n2, phi2);
      const n = n1 * n2;
      return Object.freeze({
        n: ctx.n,
        pow: (b: bigint, e: bigint) => (note('crt', n), ctx.pow(b, e)),
        legendre: (v: bigint) => (note('crt', n), ctx.legendre(v)),
      });
    },
    paillierContext(p: bigint, q: bigint): PaillierContext {
      const ctx = inner.paillierContext(p, q);
      const N2 = p * q * p * q;
      return Object.freeze({
        decrypt: (C: bigint) => (note('crt', N2), ctx.decrypt(C)),
        decryptCentredMod: (C: bigint, qc: ModulusContext) => (note('crt', N2), ctx.decryptCentredMod(C, contexts.get(qc) ?? qc)),
        pow: (b: bigint, e: bigint) => (note('crt', N2), ctx.pow(b, e)),
        nthPower: (x: bigint) => (note('crt', N2), ctx.nthPower(x)),
      });
    },
    addModSecret: (a: bigint, b: bigint, m: bigint) => inner.addModSecret(a, b, m),
    affine: (av: bigint, e: bigint, xv: bigint, xo: bigint) => inner.affine(av, e, xv, xo),
  });
}

// Wrapped modulus context → the inner backend's own context.
const contexts = new WeakMap<ModulusContext, ModulusContext>();

function wrapModulus(ctx: ModulusContext): ModulusContext {
  return Object.freeze({
    n: ctx.n,
    reduce: (x: bigint) => ctx.reduce(x),
    pow: (b: bigint, e: bigint) => (note('exp', ctx.n), ctx.pow(b, e)),
    mulAdd: (a: bigint, x: bigint, y: bigint) => ctx.mulAdd(a, x, y),
  });
}
