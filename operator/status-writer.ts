/**
 * Status writes through the status subresource (DESIGN §5), with the object's resourceVersion: a
 * stale view (another replica, a restarted API server) is refused with 409 and the work queue
 * retries from a fresh read, instead of overwriting newer facts. Conditions are updated in place,
 * never replaced; nothing is written when nothing changed.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION, type Condition } from '../api/crd.ts';
import { withCondition, type ConditionUpdate } from './conditions.ts';

export interface StatusObject<S extends { conditions?: Condition[]; observedGeneration?: number }> {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string; generation?: number; resourceVersion?: string; finalizers?: string[]; deletionTimestamp?: unknown; creationTimestamp?: unknown };
  spec?: unknown;
  status?: S;
}

export async function writeStatus<S extends { conditions?: Condition[]; observedGeneration?: number }>(
  objects: CustomObjectsApi,
  plural: string,
  obj: StatusObject<S>,
  patch: Partial<S>,
  updates: readonly ConditionUpdate[],
  drop: readonly (keyof S)[] = [],
): Promise<void> {
  const generation = obj.metadata.generation ?? 0;
  const status = { ...obj.status, ...patch, observedGeneration: generation } as S;
  for (const k of drop) delete status[k];
  let conditions = obj.status?.conditions;
  for (const u of updates) conditions = withCondition(conditions, u, generation);
  if (conditions) status.conditions = conditions;
  if (JSON.stringify(status) === JSON.stringify(obj.status)) return;
  const res = (await objects.replaceNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, plural, namespace: obj.metadata.namespace, name: obj.metadata.name, body: { ...obj, status } })) as StatusObject<S>;
  obj.metadata = res.metadata;
  obj.status = res.status ?? status;
}
