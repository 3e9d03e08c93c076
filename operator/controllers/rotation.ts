/**
 * ShardRotation controller (DESIGN §4–§5): a refresh or reshare of a Ready ceremony's key, through
 * the same plan and approval flow as the ceremony and the nodes' epoch switch. Pending (waits for
 * a Ready ceremony and for earlier rotations of it) → AwaitingApproval (plan, hash, from/to epoch
 * published) → Running → Committing → Done | Failed. On Done the ceremony's status takes the new
 * epoch, threshold and holders first, then the rotation reports `publicKeyUnchanged`.
 */
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { canonicalJson, parsePlan, planHashHex, type Plan } from '../../api/index.ts';
import { GROUP, MpcCeremonySpecSchema, PLURALS, ShardRotationSpecSchema, VERSION, type Condition, type PartyRef, type RotationPhase } from '../../api/crd.ts';
import type { ConditionUpdate } from '../conditions.ts';
import { drivePlan, failedStep, isStalled, stalledStep } from '../plan-driver.ts';
import { fromStatusHolder, refName, rotationPlan, toStatusHolder, type Holder, type ResolvedParty, type StatusHolder } from '../plan-builder.ts';
import type { FoundParty } from '../party-resolver.ts';
import { writeStatus, type StatusObject } from '../status-writer.ts';
import { countByPhase, roundTimings, statusOf, utc } from '../kube-values.ts';
import type { Outcome } from '../work-queue.ts';
import type { CeremonyControllerDeps, CeremonyObject } from './ceremony.ts';
import { PLAN_TTL_MS } from './ceremony.ts';

const WAIT_MS = 5_000;
const POLL_MS = 2_000;
const ACTIVE: readonly RotationPhase[] = ['AwaitingApproval', 'Running', 'Committing'];

interface RotationStatus {
  observedGeneration?: number;
  phase?: RotationPhase;
  plan?: string;
  planHash?: string;
  approvals?: number;
  fromEpoch?: number;
  toEpoch?: number;
  publicKeyUnchanged?: boolean;
  culprits?: number[];
  failure?: string;
  notRetired?: number[];
  timingsMs?: Record<string, number>;
  holders?: StatusHolder[];
  lastIndex?: number;
  coordinator?: number;
  startedAt?: string;
  conditions?: Condition[];
}
type RotationObject = StatusObject<RotationStatus>;

/** The same collaborators as the ceremony controller. */
export type RotationControllerDeps = CeremonyControllerDeps;

export class RotationController {
  readonly #d: RotationControllerDeps;
  readonly #objects: CustomObjectsApi;
  readonly #phases = new Map<string, RotationPhase>();

  constructor(deps: RotationControllerDeps) {
    this.#d = deps;
    this.#objects = deps.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async reconcile(key: string): Promise<Outcome> {
    const [namespace, name] = key.split('/') as [string, string];
    let r: RotationObject;
    try {
      r = (await this.#objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.ShardRotation, namespace, name })) as RotationObject;
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
      this.#phases.delete(key);
      this.#d.metrics.rotations(countByPhase(this.#phases));
      return;
    }
    const out = await this.#step(r);
    if (r.status?.phase) this.#phases.set(key, r.status.phase);
    this.#d.metrics.rotations(countByPhase(this.#phases));
    return out;
  }

  async #step(r: RotationObject): Promise<Outcome> {
    const phase = r.status?.phase;
    if (phase === 'Done' || phase === 'Failed') return;
    const spec = ShardRotationSpecSchema.safeParse(r.spec);
    if (!spec.success) return this.#fail(r, `invalid spec: ${spec.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, []);
    if (phase === undefined) return this.#write(r, { phase: 'Pending' }, [{ type: 'Progressing', status: 'True', reason: 'Accepted', message: `waiting for ceremony ${spec.data.ceremony}` }], 0);

    let c: CeremonyObject;
    try {
      c = (await this.#objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony, namespace: r.metadata.namespace, name: spec.data.ceremony })) as CeremonyObject;
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
      return this.#write(r, {}, [{ type: 'Progressing', status: 'True', reason: 'CeremonyMissing', message: `no MpcCeremony ${spec.data.ceremony} in this namespace` }], WAIT_MS);
    }
    const cspec = MpcCeremonySpecSchema.safeParse(c.spec);
    if (!cspec.success) return this.#fail(r, `ceremony ${spec.data.ceremony} has an invalid spec`, []);

    if (phase === 'Pending') {
      if (c.status?.phase !== 'Ready') return this.#write(r, {}, [{ type: 'Progressing', status: 'True', reason: 'CeremonyNotReady', message: `ceremony ${spec.data.ceremony} is ${c.status?.phase ?? 'new'}; a rotation needs a Ready key` }], WAIT_MS);
      // One rotation of a key at a time, oldest first: the epoch switch is serial.
      const earlier = await this.#earlierActive(r, spec.data.ceremony);
      if (earlier) return this.#write(r, {}, [{ type: 'Progressing', status: 'True', reason: 'Queued', message: `waiting for rotation ${earlier} of the same key` }], WAIT_MS);
      return this.#publish(r, spec.data, c, cspec.data.keyName, cspec.data.policy, cspec.data.presignaturePool);
    }

    let plan: Plan;
    try {
      plan = parsePlan(JSON.parse(r.status!.plan!));
    } catch (e) {
      return this.#fail(r, `the published plan no longer parses: ${(e as Error).message}`, []);
    }
    const planHash = planHashHex(plan);
    const members = [...plan.parties, ...(plan.previous?.parties ?? [])];
    const refs = uniqueRefs([...(r.status?.holders ?? []).map((h) => fromStatusHolder(h).ref), ...(c.status?.holders ?? []).map((h) => fromStatusHolder(h).ref)]);
    const found = (await this.#d.resolver.resolveAll(refs)).flatMap((x) => ('found' in x ? [x.found] : []));
    const sets = found.map((f) => ({ name: refName(f.ref), ...f.approvers }));
    const started = phase === 'Running' || phase === 'Committing';
    const out = await drivePlan({ objects: this.#objects, sidecars: this.#d.sidecars, namespace: r.metadata.namespace, plan, planHash, started, sets });
    if (isStalled(out)) {
      const st = stalledStep(out, planHash);
      if (st.event) await this.#d.events.record(r, st.event.type, st.event.reason, st.event.message);
      const patch = { ...(st.approvals !== undefined ? { approvals: st.approvals } : {}), ...(st.republish ? { phase: 'Pending' as const } : {}) };
      return this.#write(r, patch, [st.condition], st.requeueAfterMs, st.republish ? ['plan', 'planHash'] : []);
    }
    switch (out.state) {
      case 'running': {
        const next: RotationPhase = out.status.phase === 'preparing' || out.status.phase === 'running' ? 'Running' : 'Committing';
        if (!started) await this.#d.events.record(r, 'Normal', 'RotationStarted', `a quorum approved plan ${planHash.slice(0, 16)}…; ${plan.protocol} to epoch ${plan.epoch} coordinated by ${plan.parties[0]!.name}`);
        return this.#write(
          r,
          { phase: next, ...(out.approvals >= 0 ? { approvals: out.approvals } : {}), coordinator: plan.parties[0]!.index, ...(started ? {} : { startedAt: utc(new Date()) }) },
          [{ type: 'Progressing', status: 'True', reason: next, message: next === 'Running' ? `${plan.protocol} is running` : 'the new epoch is being committed and tested' }, { type: 'Degraded', status: 'False', reason: 'Healthy', message: '' }],
          POLL_MS,
        );
      }
      case 'done': {
        const result = out.status.result;
        if (!result || result.epoch !== plan.epoch) return this.#fail(r, 'the coordinator reported the rotation done without the new epoch', []);
        const unchanged = result.publicKey === c.status?.publicKey;
        // The ceremony first: a failed write here is retried, and the rotation is not Done before it.
        if ((c.status?.epoch ?? -1) < plan.epoch) {
          await writeStatus(this.#objects, PLURALS.MpcCeremony, c, { epoch: plan.epoch, threshold: plan.threshold, holders: r.status!.holders!, lastIndex: r.status!.lastIndex!, lastRotation: utc(new Date()) }, []);
        }
        const total = r.status?.startedAt ? { total: Date.now() - Date.parse(r.status.startedAt) } : {};
        await this.#d.events.record(r, unchanged ? 'Normal' : 'Warning', 'RotationDone', `${plan.protocol} done: epoch ${plan.epoch - 1} → ${plan.epoch}, public key ${unchanged ? 'unchanged' : 'CHANGED'}${out.status.notRetired?.length ? `; not yet told to shred: parties ${out.status.notRetired.join(', ')}` : ''}`);
        return this.#write(
          r,
          { phase: 'Done', publicKeyUnchanged: unchanged, timingsMs: roundTimings({ ...out.status.timingsMs, ...total }), ...(out.status.notRetired?.length ? { notRetired: [...out.status.notRetired] } : {}) },
          [{ type: 'Ready', status: unchanged ? 'True' : 'False', reason: unchanged ? 'EpochSwitched' : 'PublicKeyChanged', message: `epoch ${plan.epoch} in force` }, { type: 'Progressing', status: 'False', reason: 'Done', message: 'the rotation is complete' }],
        );
      }
      case 'aborted': {
        const culprits = out.status.error?.culprits ?? [];
        const names = culprits.map((i) => members.find((p) => p.index === i)?.name ?? `party ${i}`);
        return this.#fail(r, `${out.status.error?.code ?? 'E_ABORTED'}: ${out.status.error?.message ?? 'the rotation aborted'}`, culprits, names);
      }
    }
  }

  async #publish(r: RotationObject, spec: ReturnType<typeof ShardRotationSpecSchema.parse>, c: CeremonyObject, keyId: string, policy: unknown, presignPool: number): Promise<Outcome> {
    const s = c.status!;
    const holders = (s.holders ?? []).map(fromStatusHolder);
    const refs = uniqueRefs([...holders.map((h) => h.ref), ...(spec.parties ?? [])]);
    const resolutions = await this.#d.resolver.resolveAll(refs);
    const byName = new Map<string, FoundParty>();
    for (const x of resolutions) if ('found' in x) byName.set(refName(x.found.ref), x.found);
    const resolve = (ref: PartyRef): ResolvedParty | undefined => byName.get(refName(ref));
    const expiresAt = utc(new Date(Date.now() + (this.#d.planTtlMs ?? PLAN_TTL_MS)));
    const out = rotationPlan(
      spec,
      { keyId, epoch: s.epoch ?? 0, threshold: s.threshold ?? (c.spec as { threshold: number }).threshold, holders, lastIndex: s.lastIndex ?? Math.max(0, ...holders.map((h) => h.index)), ...(policy !== undefined ? { policy } : {}), presignPool },
      resolve,
      { expiresAt, nonce: randomBytes(32).toString('hex') },
    );
    if ('refused' in out && out.refused !== undefined) return this.#fail(r, out.refused, []);
    if ('waiting' in out && out.waiting !== undefined) {
      const missing = resolutions.flatMap((x) => ('missing' in x ? [x.missing] : []));
      return this.#write(r, {}, [{ type: 'Progressing', status: 'True', reason: 'WaitingForParties', message: [out.waiting, ...missing].join('; ') }], WAIT_MS);
    }
    const { plan, holders: next, lastIndex } = out as { plan: Plan; holders: readonly Holder[]; lastIndex: number };
    const planHash = planHashHex(plan);
    await this.#write(
      r,
      { phase: 'AwaitingApproval', plan: canonicalJson(plan), planHash, approvals: 0, fromEpoch: plan.epoch - 1, toEpoch: plan.epoch, holders: next.map(toStatusHolder), lastIndex },
      [{ type: 'Progressing', status: 'True', reason: 'AwaitingApproval', message: `approvers: check the plan in status and sign hash ${planHash} (vilna-mpc approve)` }],
    );
    await this.#d.events.record(r, 'Normal', 'PlanPublished', `${plan.protocol} plan ${planHash} published for approval (epoch ${plan.epoch - 1} → ${plan.epoch}, expires ${expiresAt})`);
    return { requeueAfterMs: 0 };
  }

  /** The oldest other active (or earlier pending) rotation of the same ceremony, by name. */
  async #earlierActive(r: RotationObject, ceremony: string): Promise<string | undefined> {
    const list = (await this.#objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.ShardRotation, namespace: r.metadata.namespace })) as { items: RotationObject[] };
    const mine = String(r.metadata.creationTimestamp ?? '');
    const other = list.items.find((o) => {
      if (o.metadata.uid === r.metadata.uid || (o.spec as { ceremony?: string })?.ceremony !== ceremony) return false;
      if (o.status?.phase && ACTIVE.includes(o.status.phase)) return true;
      const theirs = String(o.metadata.creationTimestamp ?? '');
      return (o.status?.phase === 'Pending' || o.status?.phase === undefined) && (theirs < mine || (theirs === mine && o.metadata.name < r.metadata.name));
    });
    return other?.metadata.name;
  }

  async #fail(r: RotationObject, failure: string, culprits: readonly number[], names: readonly string[] = []): Promise<Outcome> {
    const f = failedStep('Rotation', failure, culprits, names, 'the key stays at its previous epoch');
    await this.#d.events.record(r, f.event.type, f.event.reason, f.event.message);
    return this.#write(r, f.patch, [f.ready, f.progressing]);
  }

  async #write(r: RotationObject, patch: Partial<RotationStatus>, updates: readonly ConditionUpdate[], requeueAfterMs?: number, drop: readonly (keyof RotationStatus)[] = []): Promise<Outcome> {
    await writeStatus(this.#objects, PLURALS.ShardRotation, r, patch, updates, drop);
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }
}

function uniqueRefs(refs: readonly PartyRef[]): PartyRef[] {
  const seen = new Map<string, PartyRef>();
  for (const r of refs) seen.set(refName(r), r);
  return [...seen.values()];
}
