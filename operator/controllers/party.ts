/**
 * MpcParty controller (DESIGN §5): applies the party's ConfigMap, Service, StatefulSet and
 * NetworkPolicy with server-side apply (field manager vilna-mpc-operator), and reports in status
 * the endpoint other parties reach and whether its pod is ready; once it is, the node's own answer
 * over mTLS gives the identity key in its HSM, the pinned approver set, HSM health and the keys
 * and epochs it holds (public values only).
 */
import { AppsV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { GROUP, MpcPartySpecSchema, PLURALS, VERSION, type Condition } from '../../api/crd.ts';
import { conditionHolds, withCondition, type ConditionUpdate } from '../conditions.ts';
import type { Outcome } from '../work-queue.ts';
import type { SidecarClient } from '../sidecar-client.ts';
import { PORTS, partyResources } from './party-resources.ts';
import { statusOf } from '../kube-values.ts';

export const FIELD_MANAGER = 'vilna-mpc-operator';
/** While the pod is not ready yet, look again this often (a watch on pods is not kept). */
const POD_POLL_MS = 5_000;
/** A ready party's node is asked again this often (keys held, HSM health). */
const NODE_POLL_MS = 30_000;

interface PartyObject {
  metadata: { name: string; namespace: string; uid: string; generation?: number };
  spec?: unknown;
  status?: { observedGeneration?: number; conditions?: Condition[]; endpoint?: string; [k: string]: unknown };
}


export class PartyController {
  readonly #objects: CustomObjectsApi;
  readonly #apply: KubernetesObjectApi;
  readonly #apps: AppsV1Api;
  readonly #image: string;
  readonly #sidecars: SidecarClient | undefined;

  /** Without `sidecars` (no peer certificate configured) status carries no node facts. */
  constructor(kc: KubeConfig, opts: { readonly defaultImage: string; readonly sidecars?: SidecarClient }) {
    this.#objects = kc.makeApiClient(CustomObjectsApi);
    this.#apply = KubernetesObjectApi.makeApiClient(kc);
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#image = opts.defaultImage;
    this.#sidecars = opts.sidecars;
  }

  async reconcile(key: string): Promise<Outcome> {
    const [namespace, name] = key.split('/') as [string, string];
    const args = { group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace, name };
    let party: PartyObject;
    try {
      party = (await this.#objects.getNamespacedCustomObject(args)) as PartyObject;
    } catch (e) {
      if (statusOf(e) === 404) return; // deleted: its objects go with it (owner references), its PVC stays
      throw e;
    }
    const generation = party.metadata.generation ?? 0;
    const parsed = MpcPartySpecSchema.safeParse(party.spec);
    if (!parsed.success) {
      return this.#status(party, { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') }, generation);
    }
    for (const obj of partyResources({ name, namespace, uid: party.metadata.uid }, parsed.data, { defaultImage: this.#image })) {
      await this.#apply.patch(obj as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    }
    const sts = await this.#apps.readNamespacedStatefulSet({ name, namespace });
    const podReady = (sts.status?.readyReplicas ?? 0) >= 1;
    const endpoint = parsed.data.endpoint ?? `https://${name}.${namespace}.svc:${PORTS.peer}`;
    const apiEndpoint = `https://${name}.${namespace}.svc:${PORTS.api}`;
    if (!podReady) {
      await this.#status(party, { type: 'Ready', status: 'False', reason: 'PodNotReady', message: 'waiting for the party pod to pass its health check' }, generation, { endpoint, apiEndpoint });
      return { requeueAfterMs: POD_POLL_MS };
    }
    if (!this.#sidecars) {
      await this.#status(party, { type: 'Ready', status: 'True', reason: 'PodReady', message: 'the party node answers its health check (no peer certificate configured: node facts not read)' }, generation, { endpoint, apiEndpoint });
      return { requeueAfterMs: NODE_POLL_MS };
    }
    let node;
    try {
      node = await this.#sidecars.status(endpoint);
    } catch (e) {
      await this.#status(party, { type: 'Ready', status: 'False', reason: 'NodeUnreachable', message: `the pod is ready but its node does not answer at ${endpoint}: ${(e as Error).message}` }, generation, { endpoint, apiEndpoint });
      return { requeueAfterMs: POD_POLL_MS };
    }
    const healthy = node.hsm.state === 'Healthy';
    await this.#status(
      party,
      healthy
        ? { type: 'Ready', status: 'True', reason: 'NodeReady', message: `the node answers at ${endpoint} and its HSM is healthy` }
        : { type: 'Ready', status: 'False', reason: 'HsmUnavailable', message: `the node answers but its HSM does not (${node.hsm.message ?? 'unavailable'})` },
      generation,
      {
        endpoint,
        apiEndpoint,
        identityKey: node.identityKey,
        ...(node.approvers ? { approvers: node.approvers } : {}),
        hsm: { state: node.hsm.state, ...(node.hsm.message ? { message: node.hsm.message } : {}) },
        keyCount: node.keys.length,
        keys: node.keys.map((k) => ({ keyId: k.keyId, epoch: k.epoch, threshold: k.threshold, publicKey: k.publicKey })),
      },
    );
    return { requeueAfterMs: healthy ? NODE_POLL_MS : POD_POLL_MS };
  }

  async #status(party: PartyObject, update: ConditionUpdate, generation: number, extra: Record<string, unknown> = {}): Promise<Outcome> {
    const unchanged = conditionHolds(party.status?.conditions, update, generation) && Object.entries(extra).every(([k, v]) => JSON.stringify(party.status?.[k]) === JSON.stringify(v));
    if (unchanged) return;
    const status = { ...party.status, ...extra, observedGeneration: generation, conditions: withCondition(party.status?.conditions, update, generation) };
    await this.#objects.replaceNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: party.metadata.namespace, name: party.metadata.name, body: { ...party, status } });
  }
}
