/** Proof work off the protocol's thread: the interface, the inline default and the worker pool. */
export { inlineWork, settledValue, type ProofWork } from './work.ts';
export { workerPool, defaultWorkerCount, MAX_WORKERS, type WorkerPool } from './worker-pool.ts';
export type { TaskName } from './tasks.ts';
