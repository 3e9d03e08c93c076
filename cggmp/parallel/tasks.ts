/**
 * The proof work a protocol may hand to another thread: self-contained, CPU-bound steps that
 * neither read nor change session state, so running them elsewhere changes nothing but when they
 * finish. Each entry is the same function the protocols call inline.
 */
import { commitNonce, decryptMtaShare, mtaHalf } from '../protocols/presign-local.ts';
import { proveAffG, proveEncElg, verifyAffG, verifyEncElg } from '../zk/index.ts';

export const TASKS = { commitNonce, proveEncElg, verifyEncElg, proveAffG, verifyAffG, mtaHalf, decryptMtaShare } as const;

export type TaskName = keyof typeof TASKS;
export type TaskArgs<K extends TaskName> = Parameters<(typeof TASKS)[K]>;
export type TaskResult<K extends TaskName> = ReturnType<(typeof TASKS)[K]>;

export function isTaskName(name: unknown): name is TaskName {
  return typeof name === 'string' && Object.hasOwn(TASKS, name);
}
