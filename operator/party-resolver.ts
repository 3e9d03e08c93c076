/**
 * Finds the MpcParty objects a ceremony names, in whichever cluster each lives (DESIGN §5
 * "Multi-cluster"): `local` through the operator's own credentials, others through the kubeconfig
 * Secrets of the ClusterRegistry. Reads spec (region, approvers) and status (identity key,
 * endpoint, readiness) as the party's own region operator published them; a remote object is
 * parsed like any input from another trust domain.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { z } from 'zod';
import { GROUP, MpcPartySpecSchema, PLURALS, VERSION, type PartyRef } from '../api/crd.ts';
import type { ClusterRegistry } from './clusters.ts';
import { refName, type ResolvedParty } from './plan-builder.ts';

export interface FoundParty extends ResolvedParty {
  readonly approvers: { readonly keys: readonly string[]; readonly quorum: number };
}

const StatusSchema = z.object({
  identityKey: z.string().regex(/^0[23][0-9a-f]{64}$/).optional(),
  endpoint: z.string().max(512).optional(),
  conditions: z.array(z.object({ type: z.string(), status: z.string() }).loose()).optional(),
}).loose();

export type Resolution = { readonly found: FoundParty } | { readonly missing: string };

export class PartyResolver {
  readonly #clusters: ClusterRegistry;
  #refreshedAt = 0;

  constructor(clusters: ClusterRegistry) {
    this.#clusters = clusters;
  }

  /** Resolves every reference; the Secrets are read again at most every few seconds. */
  async resolveAll(refs: readonly PartyRef[]): Promise<Resolution[]> {
    if (Date.now() - this.#refreshedAt > 5_000) {
      await this.#clusters.refresh();
      this.#refreshedAt = Date.now();
    }
    return Promise.all(refs.map((r) => this.#resolve(r)));
  }

  async #resolve(ref: PartyRef): Promise<Resolution> {
    let objects: CustomObjectsApi;
    try {
      objects = this.#clusters.get(ref.cluster).makeApiClient(CustomObjectsApi);
    } catch (e) {
      return { missing: `${refName(ref)}: ${(e as Error).message}` };
    }
    let obj: { spec?: unknown; status?: unknown };
    try {
      obj = (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: ref.namespace, name: ref.name })) as typeof obj;
    } catch (e) {
      const code = (e as { code?: number }).code;
      return { missing: code === 404 ? `${refName(ref)}: no such MpcParty` : `${refName(ref)}: cluster ${ref.cluster} did not answer (${code ?? (e as Error).message})` };
    }
    const spec = MpcPartySpecSchema.safeParse(obj.spec);
    const status = StatusSchema.safeParse(obj.status ?? {});
    if (!spec.success || !status.success) return { missing: `${refName(ref)}: its spec or status is malformed` };
    const s = status.data;
    return {
      found: {
        ref,
        region: spec.data.region,
        ...(s.identityKey ? { identityKey: s.identityKey } : {}),
        ...(s.endpoint ? { endpoint: s.endpoint } : {}),
        ready: s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        approvers: spec.data.approvers,
      },
    };
  }
}
