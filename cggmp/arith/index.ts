/**
 * Public surface of the big-integer engine (DESIGN §3 "Arithmetic engine"): the backend
 * interface and its selection, sampling, signed and CRT exponentiation, secrets in shifted
 * (never negative) form, safe primes and the small BigInt helpers. Other folders import from here only.
 */
export type { ArithBackend, BackendName, CrtContext, FixedBaseTable, ModulusContext, PaillierContext } from './backend.ts';
export { getBackend, loadBackend } from './select.ts';
export * from './bigint.ts';
export * from './random.ts';
export * from './pow.ts';
export * from './crt.ts';
export * from './shifted.ts';
export * from './primes.ts';
