/**
 * Public surface of the big-integer engine (DESIGN §3 "Arithmetic engine"): the backend
 * interface and its selection, sampling (random.ts) and signed/CRT exponentiation (pow.ts).
 * Other folders import from here only.
 */
export type { ArithBackend, BackendName, FixedBaseTable } from './backend.ts';
export { getBackend, loadBackend } from './select.ts';
export * from './random.ts';
export * from './pow.ts';
