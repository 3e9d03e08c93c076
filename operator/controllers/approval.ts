/**
 * MpcApproval controller: tells the approver, in the object's status, whether their signature
 * is a valid Ed25519 signature by the named key over the named plan hash (Ready True/False).
 * Only a convenience for humans: every party verifies each approval itself against the
 * approvers pinned in its HSM token, whatever this status says.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, MpcApprovalSpecSchema, PLURALS, VERSION, type Condition } from '../../api/crd.ts';
import { verifyApproval } from '../../api/index.ts';
import { conditionHolds, withCondition, type ConditionUpdate } from '../conditions.ts';
import type { Outcome } from '../work-queue.ts';
import { statusOf } from '../kube-values.ts';

interface ApprovalObject {
  metadata: { name: string; namespace: string; generation?: number };
  spec?: unknown;
  status?: { observedGeneration?: number; conditions?: Condition[] };
}


export function judgeApproval(spec: unknown): ConditionUpdate {
  const r = MpcApprovalSpecSchema.safeParse(spec);
  if (!r.success) return { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'the spec is not a plan hash, an approver key and a signature in lowercase hex' };
  const { planHash, approver, signature } = r.data;
  return verifyApproval({ planHash, approver, signature })
    ? { type: 'Ready', status: 'True', reason: 'SignatureValid', message: `a valid signature by ${approver.slice(0, 16)}… over plan ${planHash.slice(0, 16)}… (each party still checks that this approver is pinned)` }
    : { type: 'Ready', status: 'False', reason: 'SignatureInvalid', message: `the signature does not verify under ${approver.slice(0, 16)}… for plan ${planHash.slice(0, 16)}…: parties will refuse it` };
}

export class ApprovalController {
  readonly #objects: CustomObjectsApi;

  constructor(objects: CustomObjectsApi) {
    this.#objects = objects;
  }

  /** Reconciles the approval `namespace/name`. */
  async reconcile(key: string): Promise<Outcome> {
    const [namespace, name] = key.split('/') as [string, string];
    const args = { group: GROUP, version: VERSION, plural: PLURALS.MpcApproval, namespace, name };
    let obj: ApprovalObject;
    try {
      obj = (await this.#objects.getNamespacedCustomObject(args)) as ApprovalObject;
    } catch (e) {
      if (statusOf(e) === 404) return; // deleted
      throw e;
    }
    const generation = obj.metadata.generation ?? 0;
    const verdict = judgeApproval(obj.spec);
    if (conditionHolds(obj.status?.conditions, verdict, generation)) return;
    const status = { observedGeneration: generation, conditions: withCondition(obj.status?.conditions, verdict, generation) };
    await this.#objects.replaceNamespacedCustomObjectStatus({ ...args, body: { ...obj, status } });
  }
}
