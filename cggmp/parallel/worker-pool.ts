/**
 * A fixed pool of proof worker threads (worker.ts). Tasks queue in order and each idle worker
 * takes the next; a worker holds the process open only while it has a task. A worker that dies
 * fails its task with a plain Error (never read as a peer's fault) and is replaced on demand.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { decode, encode } from './codec.ts';
import { errorFromWire, type WireError } from './errors.ts';
import type { TaskArgs, TaskName, TaskResult } from './tasks.ts';
import type { ProofWork } from './work.ts';

const WORKER_URL = new URL('./worker.ts', import.meta.url);
/** More threads than this buys nothing for one party's presign (at most 2·(n − 1) proofs at once). */
export const MAX_WORKERS = 16;

export interface WorkerPool extends ProofWork {
  readonly size: number;
  /** Stops every worker; tasks still queued or running fail. */
  close(): Promise<void>;
}

interface Pending {
  readonly id: number;
  readonly task: TaskName;
  readonly args: unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface Slot {
  worker: Worker | undefined;
  job: Pending | undefined;
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** The default size: one worker per core this process may use. */
export function defaultWorkerCount(): number {
  return Math.min(MAX_WORKERS, Math.max(1, availableParallelism()));
}

export function workerPool(opts: { size?: number } = {}): WorkerPool {
  const size = opts.size ?? defaultWorkerCount();
  if (!Number.isInteger(size) || size < 1 || size > MAX_WORKERS) throw new RangeError(`worker pool size must be an integer in [1, ${MAX_WORKERS}]`);
  const slots: Slot[] = Array.from({ length: size }, () => ({ worker: undefined, job: undefined }));
  const queue: Pending[] = [];
  let nextId = 1;
  let closed = false;

  const spawn = (slot: Slot): Worker => {
    const w = new Worker(WORKER_URL);
    w.on('message', (r: Reply) => {
      const job = slot.job;
      if (!job || job.id !== r.id) return;
      slot.job = undefined;
      if (r.ok) {
        try {
          job.resolve(decode(r.value));
        } catch (e) {
          job.reject(e);
        }
      } else job.reject(errorFromWire(r.error));
      dispatch();
    });
    const lost = (why: string): void => {
      if (slot.worker !== w) return;
      slot.worker = undefined;
      const job = slot.job;
      slot.job = undefined;
      job?.reject(new Error(`proof worker ${why}`));
      if (!closed) dispatch();
    };
    w.on('error', (e) => lost(`failed: ${e.message}`));
    w.on('exit', (code) => lost(`exited with code ${code}`));
    return w;
  };

  const dispatch = (): void => {
    for (const slot of slots) {
      if (slot.job) continue;
      const job = queue.shift();
      if (!job) {
        slot.worker?.unref();
        continue;
      }
      slot.worker ??= spawn(slot);
      slot.worker.ref();
      slot.job = job;
      slot.worker.postMessage({ id: job.id, task: job.task, args: job.args });
    }
  };

  return {
    size,
    run<K extends TaskName>(task: K, ...args: TaskArgs<K>): Promise<TaskResult<K>> {
      if (closed) return Promise.reject(new Error('proof worker pool is closed'));
      return new Promise<TaskResult<K>>((resolve, reject) => {
        queue.push({ id: nextId++, task, args: encode(args), resolve: resolve as (v: unknown) => void, reject });
        dispatch();
      });
    },
    async close(): Promise<void> {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new Error('proof worker pool is closed'));
      await Promise.all(slots.map(async (slot) => {
        const w = slot.worker;
        if (!w) return;
        const job = slot.job;
        slot.job = undefined;
        slot.worker = undefined;
        job?.reject(new Error('proof worker pool is closed'));
        await w.terminate();
      }));
    },
  };
}
