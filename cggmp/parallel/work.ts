/**
 * Where a protocol's proof work runs (DESIGN §3 "Arithmetic engine": proof work spread over
 * worker threads). A protocol asks for independent steps at once and awaits them together; the
 * caller decides whether they run in this thread (`inlineWork`, the default) or in a pool of
 * worker threads (worker-pool.ts). Results and thrown errors are the same either way.
 */
import { TASKS, type TaskArgs, type TaskName, type TaskResult } from './tasks.ts';

export interface ProofWork {
  run<K extends TaskName>(task: K, ...args: TaskArgs<K>): Promise<TaskResult<K>>;
}

/** Runs every task in the calling thread when asked: what a protocol does without a pool. */
export const inlineWork: ProofWork = {
  run<K extends TaskName>(task: K, ...args: TaskArgs<K>): Promise<TaskResult<K>> {
    try {
      return Promise.resolve((TASKS[task] as unknown as (...a: TaskArgs<K>) => TaskResult<K>)(...args));
    } catch (e) {
      return Promise.reject(e);
    }
  },
};

/** The value of a settled task, or its error thrown again (inside a `blame`, which names the sender). */
export function settledValue<T>(r: PromiseSettledResult<T>): T {
  if (r.status === 'rejected') throw r.reason;
  return r.value;
}
