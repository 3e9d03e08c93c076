/**
 * The controllers' keyed work queue (DESIGN §5 "Controller mechanics"): a key is queued at most
 * once however often it is added; one key is never processed by two workers at once (an add while
 * it is processed runs it again afterwards); a failed key is retried after an exponential,
 * per-key backoff; a processed key may ask to be looked at again after a delay (polling a
 * ceremony in progress). Workers take keys in the order they became ready.
 */
export interface WorkQueueOptions {
  /** Keys processed at once (different keys only). */
  readonly concurrency?: number;
  /** First retry delay after a failure; doubled per consecutive failure of that key. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Called when processing a key threw (the key is retried). */
  readonly onError?: (key: string, error: unknown, attempt: number) => void;
}

/** What a handler may answer: nothing (done), or when to look at the key again. */
export type Outcome = void | { readonly requeueAfterMs: number };

export class WorkQueue {
  readonly #handler: (key: string) => Promise<Outcome>;
  readonly #concurrency: number;
  readonly #base: number;
  readonly #max: number;
  readonly #onError: WorkQueueOptions['onError'];
  /** Keys ready to run, in order; never one that is running. */
  readonly #ready: string[] = [];
  readonly #queued = new Set<string>();
  readonly #running = new Set<string>();
  /** Keys added while running: run again once done. */
  readonly #dirty = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #failures = new Map<string, number>();
  #active = 0;
  #stopped = false;
  #idle: (() => void)[] = [];

  constructor(handler: (key: string) => Promise<Outcome>, opts: WorkQueueOptions = {}) {
    this.#handler = handler;
    this.#concurrency = opts.concurrency ?? 2;
    this.#base = opts.baseDelayMs ?? 200;
    this.#max = opts.maxDelayMs ?? 60_000;
    this.#onError = opts.onError;
  }

  /** Queues `key` now (a pending delayed retry of it is superseded). */
  add(key: string): void {
    if (this.#stopped) return;
    clearTimeout(this.#timers.get(key));
    this.#timers.delete(key);
    if (this.#running.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (!this.#queued.has(key)) {
      this.#queued.add(key);
      this.#ready.push(key);
    }
    this.#pump();
  }

  /** Queues `key` after `ms` unless it is added sooner. */
  addAfter(key: string, ms: number): void {
    if (this.#stopped || this.#queued.has(key)) return;
    const existing = this.#timers.get(key);
    if (existing) clearTimeout(existing);
    const t = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.#timers.set(key, t);
  }

  /** Consecutive failures of `key` (0 after a success). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Resolves when nothing is queued or running (delayed keys do not count). */
  drained(): Promise<void> {
    if (this.#active === 0 && this.#ready.length === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  /** Stops taking keys; resolves when the keys being processed are done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#ready.length = 0;
    this.#queued.clear();
    await this.drained();
  }

  #pump(): void {
    while (!this.#stopped && this.#active < this.#concurrency && this.#ready.length > 0) {
      const key = this.#ready.shift()!;
      this.#queued.delete(key);
      this.#running.add(key);
      this.#active++;
      void this.#process(key);
    }
  }

  async #process(key: string): Promise<void> {
    let next: number | undefined;
    try {
      const outcome = await this.#handler(key);
      this.#failures.delete(key);
      if (outcome && Number.isFinite(outcome.requeueAfterMs)) next = Math.max(0, outcome.requeueAfterMs);
    } catch (e) {
      const attempt = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, attempt);
      this.#onError?.(key, e, attempt);
      next = Math.min(this.#max, this.#base * 2 ** (attempt - 1));
    } finally {
      this.#running.delete(key);
      this.#active--;
    }
    if (this.#dirty.delete(key)) this.add(key);
    else if (next !== undefined) this.addAfter(key, next);
    this.#pump();
    if (this.#active === 0 && this.#ready.length === 0) for (const r of this.#idle.splice(0)) r();
  }
}
