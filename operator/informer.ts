/**
 * A watch that does not stay dead (DESIGN §5 "Controller mechanics"): client-node's informer
 * stops for good on most errors (an API server restart, a cut connection, an expired
 * resourceVersion), so this one restarts it after a growing delay; each start lists again, and
 * every object of the new list is reported, so a controller misses nothing that changed while
 * the watch was down. Keys, not objects, go to the controller: it reads the current state itself.
 */
import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** The watch path, e.g. /apis/mpc.vilna.io/v1alpha1/mpcceremonies (all namespaces). */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  /** Called for every add, update and delete, and for every object of each (re)list. */
  readonly changed: (obj: T, deleted: boolean) => void;
  readonly onError?: (e: unknown, restartInMs: number) => void;
  readonly labelSelector?: string;
  readonly minRestartMs?: number;
  readonly maxRestartMs?: number;
}

export class ResilientInformer<T extends KubernetesObject> {
  readonly #kc: KubeConfig;
  readonly #o: ResilientInformerOptions<T>;
  #informer: ReturnType<typeof makeInformer<T>> | undefined;
  #stopped = true;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(kc: KubeConfig, opts: ResilientInformerOptions<T>) {
    this.#kc = kc;
    this.#o = opts;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const inf = this.#informer;
    this.#informer = undefined;
    await inf?.stop().catch(() => undefined);
  }

  /** The objects as last listed or watched (empty while the watch is down and never listed). */
  objects(): readonly T[] {
    return this.#informer?.list() ?? [];
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    // Every (re)start lists: report each listed object, so nothing changed during an outage is missed.
    const list = async (): Promise<KubernetesListObject<T>> => {
      const l = await this.#o.list();
      this.#failures = 0;
      for (const obj of l.items) this.#o.changed(obj, false);
      return l;
    };
    const inf = makeInformer<T>(this.#kc, this.#o.path, list, this.#o.labelSelector);
    this.#informer = inf;
    inf.on('add', (o) => this.#o.changed(o, false));
    inf.on('update', (o) => this.#o.changed(o, false));
    inf.on('delete', (o) => this.#o.changed(o, true));
    inf.on('error', (e: unknown) => this.#restart(inf, e));
    try {
      await inf.start();
    } catch (e) {
      this.#restart(inf, e);
    }
  }

  #restart(inf: ReturnType<typeof makeInformer<T>>, e: unknown): void {
    if (this.#stopped || this.#informer !== inf) return;
    this.#informer = undefined;
    void inf.stop().catch(() => undefined);
    const delay = Math.min(this.#o.maxRestartMs ?? 30_000, (this.#o.minRestartMs ?? 250) * 2 ** this.#failures++);
    this.#o.onError?.(e, delay);
    this.#timer = setTimeout(() => void this.#run(), delay);
  }
}
