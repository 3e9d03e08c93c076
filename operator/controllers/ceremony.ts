/**
 * MpcCeremony controller (DESIGN §5): Pending → Provisioning (parties resolved across clusters,
 * minRegions) → AwaitingApproval (plan and hash published, MpcApprovals collected) → KeyGen →
 * AuxInfo (driven through the coordinating sidecar) → Ready | Failed (culprits and an Event).
 * Ready ceremonies with a rotation schedule get a refresh ShardRotation when one is due. Status is
 * written with the object's resourceVersion, so a stale view (another replica, a restarted API
 * server) fails and is retried instead of overwriting newer facts.
 */
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { canonicalJson, parsePlan, planHashHex, type Plan } from '../../api/index.ts';
import { API_VERSION, GROUP, MpcCeremonySpecSchema, PLURALS, VERSION, type CeremonyPhase, type Condition } from '../../api/crd.ts';
import type { ConditionUpdate } from '../conditions.ts';
import { writeStatus, type StatusObject } from '../status-writer.ts';
import type { EventRecorder } from '../events.ts';
import type { OperatorMetrics } from '../metrics.ts';
import { drivePlan, failedStep, isStalled, stalledStep } from '../plan-driver.ts';
import { keygenPlan, toStatusHolder, type Holder, type StatusHolder } from '../plan-builder.ts';
import type { PartyResolver } from '../party-resolver.ts';
import type { SidecarClient } from '../sidecar-client.ts';
import { countByPhase, roundTimings, statusOf, utc } from '../kube-values.ts';
import type { Outcome } from '../work-queue.ts';

/** Deleting a ceremony passes through the operator first (an Event, metrics cleaned); shards are never destroyed. */
export const CEREMONY_FINALIZER = 'mpc.vilna.io/ceremony';
/** How long approvers have to sign a published plan before a fresh one replaces it. */
export const PLAN_TTL_MS = 24 * 3_600_000;
const WAIT_MS = 5_000;
const POLL_MS = 2_000;

export interface CeremonyStatusFields {
  observedGeneration?: number;
  phase?: CeremonyPhase;
  plan?: string;
  planHash?: string;
  approvals?: number;
  partyCount?: number;
  publicKey?: string;
  xpub?: string;
  epoch?: number;
  /** The key's threshold now (a reshare may change it). */
  threshold?: number;
  culprits?: number[];
  failure?: string;
  timingsMs?: Record<string, number>;
  lastRotation?: string;
  holders?: StatusHolder[];
  lastIndex?: number;
  coordinator?: number;
  startedAt?: string;
  conditions?: Condition[];
}

export type CeremonyObject = StatusObject<CeremonyStatusFields>;

export interface CeremonyControllerDeps {
  readonly kubeConfig: KubeConfig;
  readonly resolver: PartyResolver;
  readonly sidecars: SidecarClient;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly planTtlMs?: number;
}

const hoursOf = (every: string): number => Number(every.slice(0, -1));

export class CeremonyController {
  readonly #d: CeremonyControllerDeps;
  readonly #objects: CustomObjectsApi;
  /** Last phase seen per ceremony, for the by-phase gauge. */
  readonly #phases = new Map<string, CeremonyPhase>();

  constructor(deps: CeremonyControllerDeps) {
    this.#d = deps;
    this.#objects = deps.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async reconcile(key: string): Promise<Outcome> {
    const [namespace, name] = key.split('/') as [string, string];
    let c: CeremonyObject;
    try {
      c = (await this.#objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony, namespace, name })) as CeremonyObject;
    } catch (e) {
      if (statusOf(e) === 404) return this.#forget(key);
      throw e;
    }
    if (c.metadata.deletionTimestamp) return this.#finalize(c, key);
    if (!c.metadata.finalizers?.includes(CEREMONY_FINALIZER)) {
      await this.#objects.patchNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony, namespace, name, body: [{ op: 'add', path: '/metadata/finalizers', value: [...(c.metadata.finalizers ?? []), CEREMONY_FINALIZER] }] });
      return { requeueAfterMs: 0 };
    }
    const out = await this.#step(c);
    this.#track(key, c.status?.phase);
    return out;
  }

  async #step(c: CeremonyObject): Promise<Outcome> {
    const parsed = MpcCeremonySpecSchema.safeParse(c.spec);
    if (!parsed.success) {
      if (c.status?.phase === 'Pending' || c.status?.phase === undefined) {
        return this.#fail(c, `invalid spec: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, []);
      }
      return;
    }
    const spec = parsed.data;
    const phase = c.status?.phase;
    if (phase === undefined) return this.#write(c, { phase: 'Pending', partyCount: spec.parties.length }, { type: 'Progressing', status: 'True', reason: 'Accepted', message: 'resolving the parties' });
    if (phase === 'Failed') return;
    if (phase === 'Ready') return this.#maybeRotate(c, spec.rotation?.every);

    if (phase === 'Pending' || phase === 'Provisioning' || (phase === 'AwaitingApproval' && !c.status?.plan)) return this.#publish(c, spec);

    // A plan is published: AwaitingApproval, KeyGen or AuxInfo.
    let plan: Plan;
    try {
      plan = parsePlan(JSON.parse(c.status!.plan!));
    } catch (e) {
      return this.#fail(c, `the published plan no longer parses: ${(e as Error).message}`, []);
    }
    const planHash = planHashHex(plan);
    const resolutions = await this.#d.resolver.resolveAll(spec.parties);
    const sets = resolutions.flatMap((r, i) => ('found' in r ? [{ name: plan.parties[i]?.name ?? `party ${i + 1}`, ...r.found.approvers }] : []));
    if (sets.length < resolutions.length && phase === 'AwaitingApproval') {
      const missing = resolutions.flatMap((r) => ('missing' in r ? [r.missing] : []));
      return this.#write(c, {}, { type: 'Progressing', status: 'False', reason: 'PartiesUnavailable', message: missing.join('; ') }, WAIT_MS);
    }
    const started = phase === 'KeyGen' || phase === 'AuxInfo';
    const out = await drivePlan({ objects: this.#objects, sidecars: this.#d.sidecars, namespace: c.metadata.namespace, plan, planHash, started, sets });
    if (isStalled(out)) {
      const st = stalledStep(out, planHash);
      if (st.event) await this.#d.events.record(c, st.event.type, st.event.reason, st.event.message);
      const patch = { ...(st.approvals !== undefined ? { approvals: st.approvals } : {}), ...(st.republish ? { phase: 'Provisioning' as const } : {}) };
      return this.#write(c, patch, st.condition, st.requeueAfterMs, st.republish ? ['plan', 'planHash'] : []);
    }
    switch (out.state) {
      case 'running': {
        const next: CeremonyPhase = out.status.step === 'aux-info' ? 'AuxInfo' : 'KeyGen';
        if (!started) await this.#d.events.record(c, 'Normal', 'CeremonyStarted', `a quorum approved plan ${planHash.slice(0, 16)}…; party ${plan.parties[0]!.name} coordinates the keygen`);
        return this.#write(
          c,
          { phase: next, ...(out.approvals >= 0 ? { approvals: out.approvals } : {}), coordinator: plan.parties[0]!.index, ...(started ? {} : { startedAt: utc(new Date()) }) },
          { type: 'Progressing', status: 'True', reason: next, message: next === 'KeyGen' ? 'distributed key generation is running' : 'auxiliary information (Paillier keys, ring-Pedersen parameters) is being generated' },
          POLL_MS,
          [],
          { type: 'Degraded', status: 'False', reason: 'Healthy', message: '' },
        );
      }
      case 'done': {
        const r = out.status.result;
        if (!r) return this.#fail(c, 'the coordinator reported the keygen done without a result', []);
        const holders: Holder[] = plan.parties.map((p, i) => ({ index: p.index, ref: spec.parties[i]! }));
        const total = c.status?.startedAt ? { total: Date.now() - Date.parse(c.status.startedAt) } : {};
        await this.#d.events.record(c, 'Normal', 'KeyReady', `key ${spec.keyName} ready: public key ${r.publicKey}, epoch ${r.epoch}`);
        await this.#write(
          c,
          { phase: 'Ready', publicKey: r.publicKey, xpub: r.xpub, epoch: r.epoch, threshold: plan.threshold, timingsMs: roundTimings({ ...out.status.timingsMs, ...total }), lastRotation: utc(new Date()), holders: holders.map(toStatusHolder), lastIndex: Math.max(...holders.map((h) => h.index)) },
          { type: 'Ready', status: 'True', reason: 'KeyReady', message: `every party holds a share of ${spec.keyName} at epoch ${r.epoch}` },
          undefined,
          [],
          { type: 'Progressing', status: 'False', reason: 'Done', message: 'the ceremony is complete' },
        );
        return { requeueAfterMs: 0 };
      }
      case 'aborted': {
        const culprits = out.status.error?.culprits ?? [];
        const names = culprits.map((i) => plan.parties.find((p) => p.index === i)?.name ?? `party ${i}`);
        const failure = `${out.status.error?.code ?? 'E_ABORTED'}: ${out.status.error?.message ?? 'the ceremony aborted'}`;
        return this.#fail(c, failure, culprits, names);
      }
    }
  }

  /** Resolves the parties and publishes the keygen plan, or says what it waits for. */
  async #publish(c: CeremonyObject, spec: ReturnType<typeof MpcCeremonySpecSchema.parse>): Promise<Outcome> {
    const resolutions = await this.#d.resolver.resolveAll(spec.parties);
    const missing = resolutions.flatMap((r) => ('missing' in r ? [r.missing] : []));
    if (missing.length > 0) {
      return this.#write(c, { phase: 'Provisioning' }, { type: 'Progressing', status: 'True', reason: 'WaitingForParties', message: missing.join('; ') }, WAIT_MS);
    }
    const found = resolutions.map((r) => (r as { found: NonNullable<Extract<typeof r, { found: unknown }>['found']> }).found);
    const expiresAt = utc(new Date(Date.now() + (this.#d.planTtlMs ?? PLAN_TTL_MS)));
    const out = keygenPlan(spec, found, { expiresAt, nonce: randomBytes(32).toString('hex') });
    if ('refused' in out) return this.#fail(c, out.refused, []);
    if ('waiting' in out) return this.#write(c, { phase: 'Provisioning' }, { type: 'Progressing', status: 'True', reason: 'WaitingForParties', message: out.waiting }, WAIT_MS);
    const planHash = planHashHex(out.plan);
    await this.#write(
      c,
      { phase: 'AwaitingApproval', plan: canonicalJson(out.plan), planHash, approvals: 0, partyCount: spec.parties.length },
      { type: 'Progressing', status: 'True', reason: 'AwaitingApproval', message: `approvers: check the plan in status and sign hash ${planHash} (vilna-mpc approve)` },
    );
    await this.#d.events.record(c, 'Normal', 'PlanPublished', `plan ${planHash} published for approval (expires ${expiresAt})`);
    return { requeueAfterMs: 0 };
  }

  /** A Ready ceremony with a schedule: creates the refresh ShardRotation that is due (once per epoch). */
  async #maybeRotate(c: CeremonyObject, every: string | undefined): Promise<Outcome> {
    const since = c.status?.lastRotation ? Date.parse(c.status.lastRotation) : Date.now();
    this.#d.metrics.rotationAge(`${c.metadata.namespace}/${c.metadata.name}`, Math.max(0, (Date.now() - since) / 1000));
    if (!every) return { requeueAfterMs: 60_000 };
    const due = since + hoursOf(every) * 3_600_000;
    if (Date.now() < due) return { requeueAfterMs: Math.min(due - Date.now(), 3_600_000) };
    const epoch = c.status?.epoch ?? 0;
    const name = `${c.metadata.name}-refresh-${epoch + 1}`.slice(0, 253);
    try {
      await this.#objects.createNamespacedCustomObject({
        group: GROUP, version: VERSION, plural: PLURALS.ShardRotation, namespace: c.metadata.namespace,
        body: {
          apiVersion: API_VERSION, kind: 'ShardRotation',
          metadata: { name, namespace: c.metadata.namespace, labels: { 'mpc.vilna.io/ceremony': c.metadata.name, 'mpc.vilna.io/scheduled': 'true' }, ownerReferences: [{ apiVersion: API_VERSION, kind: 'MpcCeremony', name: c.metadata.name, uid: c.metadata.uid }] },
          spec: { ceremony: c.metadata.name, protocol: 'refresh' },
        },
      });
      await this.#d.events.record(c, 'Normal', 'RotationScheduled', `refresh ${name} created (every ${every}); it needs approvals like any plan`);
    } catch (e) {
      if (statusOf(e) !== 409) throw e; // already created for this epoch
    }
    return { requeueAfterMs: 3_600_000 };
  }

  async #fail(c: CeremonyObject, failure: string, culprits: readonly number[], names: readonly string[] = []): Promise<Outcome> {
    const f = failedStep('Ceremony', failure, culprits, names, 'the ceremony ended without a key');
    await this.#d.events.record(c, f.event.type, f.event.reason, f.event.message);
    return this.#write(c, f.patch, f.ready, undefined, [], f.progressing);
  }

  async #finalize(c: CeremonyObject, key: string): Promise<Outcome> {
    if (!c.metadata.finalizers?.includes(CEREMONY_FINALIZER)) return;
    if (c.status?.phase === 'Ready') {
      await this.#d.events.record(c, 'Normal', 'ShardsKept', `ceremony deleted; the parties keep their shards of ${(c.spec as { keyName?: string })?.keyName ?? 'the key'} (the operator never destroys shards)`);
    }
    const finalizers = c.metadata.finalizers.filter((f) => f !== CEREMONY_FINALIZER);
    await this.#objects.patchNamespacedCustomObject({
      group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony, namespace: c.metadata.namespace, name: c.metadata.name,
      body: [{ op: 'test', path: '/metadata/resourceVersion', value: c.metadata.resourceVersion }, { op: 'replace', path: '/metadata/finalizers', value: finalizers }],
    });
    return this.#forget(key);
  }

  #forget(key: string): Outcome {
    this.#phases.delete(key);
    this.#d.metrics.ceremonies(countByPhase(this.#phases));
    this.#d.metrics.forgetRotationAge(key);
  }

  #track(key: string, phase: CeremonyPhase | undefined): void {
    if (phase) this.#phases.set(key, phase);
    this.#d.metrics.ceremonies(countByPhase(this.#phases));
  }

  async #write(c: CeremonyObject, patch: Partial<CeremonyStatusFields>, update: ConditionUpdate, requeueAfterMs?: number, drop: readonly (keyof CeremonyStatusFields)[] = [], also?: ConditionUpdate): Promise<Outcome> {
    await writeStatus(this.#objects, PLURALS.MpcCeremony, c, patch, also ? [update, also] : [update], drop);
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }
}

