/**
 * A readers–writer gate over the sealed blobs: seals, unseals, writes and deletions of shards
 * share it; re-sealing every blob after an approver change holds it alone, so no blob can be
 * sealed under the old approver set, or brought back after its deletion, while the change runs.
 */
export class WriteGate {
  #shared = 0;
  #exclusive: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  /** Runs `fn` alongside other shared holders, after any exclusive holder finished. */
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    this.#shared++;
    try {
      return await fn();
    } finally {
      if (--this.#shared === 0) this.#drained?.();
    }
  }

  /** Runs `fn` alone: new shared holders wait, current ones are waited for. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    let release!: () => void;
    this.#exclusive = new Promise<void>((r) => (release = r));
    try {
      if (this.#shared > 0) await new Promise<void>((r) => (this.#drained = r));
      this.#drained = undefined;
      return await fn();
    } finally {
      this.#exclusive = undefined;
      release();
    }
  }
}
