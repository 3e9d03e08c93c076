/**
 * Status conditions of the custom resources (DESIGN §5: Ready / Progressing / Degraded, each with
 * observedGeneration, a list-map keyed by type), kept the Kubernetes way: lastTransitionTime
 * changes only when the status does.
 */
import type { Condition, ConditionType } from '../api/crd.ts';
import { utc } from './kube-values.ts';

export interface ConditionUpdate {
  readonly type: ConditionType;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

/** `current` with `update` applied for `generation`; other types are kept as they are. */
export function withCondition(current: readonly Condition[] | undefined, update: ConditionUpdate, generation: number, now: Date = new Date()): Condition[] {
  const list = [...(current ?? [])];
  const at = list.findIndex((c) => c.type === update.type);
  const previous = at >= 0 ? list[at] : undefined;
  const next: Condition = {
    ...update,
    observedGeneration: generation,
    lastTransitionTime: previous && previous.status === update.status ? previous.lastTransitionTime : utc(now),
  };
  if (at >= 0) list[at] = next;
  else list.push(next);
  return list;
}

/** True when applying `update` would change nothing (so no status write is needed). */
export function conditionHolds(current: readonly Condition[] | undefined, update: ConditionUpdate, generation: number): boolean {
  const c = current?.find((x) => x.type === update.type);
  return c !== undefined && c.status === update.status && c.reason === update.reason && c.message === update.message && c.observedGeneration === generation;
}
