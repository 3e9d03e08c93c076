/**
 * A proof worker thread: runs the tasks of tasks.ts one at a time as the pool sends them.
 * Paillier secret keys arrive as their primes; the context over them is built once per key and
 * kept (bounded) so that a key's constant-time Montgomery contexts are not rebuilt per task.
 * The primes were checked where the key was made: this thread only rebuilds the context.
 */
import { parentPort } from 'node:worker_threads';
import { paillierSecretKeyUnchecked, type PaillierSecretKey } from '../paillier/index.ts';
import { decode, encode } from './codec.ts';
import { errorToWire } from './errors.ts';
import { TASKS, isTaskName } from './tasks.ts';

const MAX_KEYS = 8;
const keys = new Map<bigint, PaillierSecretKey>();

function secretKey(p: bigint, q: bigint): PaillierSecretKey {
  const N = p * q;
  let sk = keys.get(N);
  if (!sk) {
    sk = paillierSecretKeyUnchecked(p, q);
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value as bigint);
    keys.set(N, sk);
  }
  return sk;
}

interface Job {
  readonly id: number;
  readonly task: unknown;
  readonly args: unknown;
}

parentPort?.on('message', (job: Job) => {
  try {
    if (!isTaskName(job.task)) throw new Error(`unknown task ${String(job.task)}`);
    const args = decode(job.args, secretKey) as unknown[];
    const value = (TASKS[job.task] as (...a: unknown[]) => unknown)(...args);
    parentPort!.postMessage({ id: job.id, ok: true, value: encode(value) });
  } catch (e) {
    parentPort!.postMessage({ id: job.id, ok: false, error: errorToWire(e) });
  }
});
