/**
 * Leader election on a coordination.k8s.io/v1 Lease (DESIGN §5 "Controller mechanics"), in the
 * manner of client-go: a candidate takes the Lease when it does not exist, or when the record it
 * last observed has not changed for a whole lease duration *by its own clock* (so clocks of
 * different replicas need not agree); the holder renews it well inside the duration; every write
 * is conditional on the resourceVersion read, so two candidates never both win. A holder that
 * cannot renew within the lease duration stops leading before another may start.
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { statusOf } from './kube-values.ts';

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica (pod name and a random suffix). */
  readonly identity: string;
  readonly leaseDurationMs?: number;
  /** How often the holder renews and a candidate tries. */
  readonly retryMs?: number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly onError?: (e: unknown) => void;
}


export class LeaderElector {
  readonly #api: CoordinationV1Api;
  readonly #o: Required<Omit<LeaderElectionOptions, 'onError'>> & Pick<LeaderElectionOptions, 'onError'>;
  #leading = false;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  /** The record as last read, and when (local clock) it last changed. */
  #observed: { key: string; at: number } | undefined;
  #lastRenewed = 0;

  constructor(kc: KubeConfig, opts: LeaderElectionOptions) {
    this.#api = kc.makeApiClient(CoordinationV1Api);
    this.#o = { leaseDurationMs: 15_000, retryMs: 2_000, ...opts };
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  /** Stops trying; a leader gives the Lease up so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    if (this.#leading) {
      this.#setLeading(false);
      try {
        const lease = await this.#read();
        if (lease?.spec?.holderIdentity === this.#o.identity) {
          const spec: V1LeaseSpec = { ...lease.spec, leaseDurationSeconds: 1 };
          delete spec.holderIdentity;
          await this.#api.replaceNamespacedLease({ namespace: this.#o.namespace, name: this.#o.name, body: { ...lease, spec } });
        }
      } catch (e) {
        this.#o.onError?.(e);
      }
    }
  }

  async #loop(): Promise<void> {
    if (!this.#running) return;
    try {
      this.#setLeading(await this.#tryAcquireOrRenew());
    } catch (e) {
      this.#o.onError?.(e);
    }
    // Not renewed within the lease duration: another replica may take over now, so stop first.
    if (this.#leading && Date.now() - this.#lastRenewed > this.#o.leaseDurationMs * 0.8) this.#setLeading(false);
    if (this.#running) this.#timer = setTimeout(() => void this.#loop(), this.#o.retryMs);
  }

  #setLeading(value: boolean): void {
    if (value === this.#leading) return;
    this.#leading = value;
    if (value) this.#o.onStartedLeading();
    else this.#o.onStoppedLeading();
  }

  async #read(): Promise<V1Lease | undefined> {
    try {
      return await this.#api.readNamespacedLease({ namespace: this.#o.namespace, name: this.#o.name });
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    // MicroTime: the API server wants six fractional digits, which Date's ISO form lacks.
    const now = new V1MicroTime();
    const { namespace, name, identity } = this.#o;
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    const lease = await this.#read();
    if (!lease) {
      try {
        await this.#api.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
        });
      } catch (e) {
        if (statusOf(e) === 409) return false; // another candidate created it first
        throw e;
      }
      this.#lastRenewed = Date.now();
      return true;
    }
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${String(spec.renewTime?.valueOf() ?? '')}|${lease.metadata?.resourceVersion ?? ''}`;
    if (this.#observed?.key !== key) this.#observed = { key, at: Date.now() };
    const held = spec.holderIdentity !== undefined && spec.holderIdentity !== null && spec.holderIdentity !== '';
    const mine = spec.holderIdentity === identity;
    const expired = Date.now() - this.#observed.at > (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (!mine && held && !expired) return false;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      // Conditional on the resourceVersion read: a concurrent writer makes this a 409.
      await this.#api.replaceNamespacedLease({ namespace, name, body });
    } catch (e) {
      if (statusOf(e) === 409) return false;
      throw e;
    }
    this.#lastRenewed = Date.now();
    return true;
  }
}
