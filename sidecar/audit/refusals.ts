/**
 * Counted refusals (DESIGN §4 "Audit log"; issue 16 item 3): what keeps a flood of refused
 * requests from growing the audit log without bound, while every refusal is still counted.
 *
 * Refusals are grouped by kind, caller and a few bounded fields the recording code chooses (the
 * rule or error code, the key id when it names a key this party holds); never by anything the
 * caller picks freely, or varying it would open a group per request. The first refusals of a
 * group in a window are appended at once, in full, each with `count: 1`; the rest are only
 * counted, and at the window's end (or at shutdown) one entry of the same kind carries their
 * `count` and the times of the `first` and `last` of them. A group that saw no refusal in its
 * last window is closed. So a flood costs at most REFUSALS_IN_FULL + 1 lines per group and
 * window, and the counts of a kind's entries add up to every refusal of that kind.
 *
 * The caller is whatever identity the request carries (the peer's TLS client certificate, the
 * API client's configured name): a parameter, so that an authenticated identity key can take
 * its place. Every entry goes through the log's own append: signed and chained like any other.
 */

/**
 * Length of a counting window. Shorter windows cost more lines under a flood (at most
 * REFUSALS_IN_FULL + 1 per group per window); longer ones delay the count of a flood in the log
 * (a flood's count is written at the end of its window, or when the node stops).
 */
export const REFUSAL_WINDOW_MS = 60_000;
/**
 * Refusals of a group written in full, one entry each, before the rest of the window is only
 * counted: a client's few honest mistakes keep their request ids, a flood does not get a line
 * per request.
 */
export const REFUSALS_IN_FULL = 3;
/**
 * Groups with an open window at once. Past this many, new groups are counted under the caller
 * OVERFLOW_CALLER, so even many callers cost a bounded number of lines.
 */
export const MAX_OPEN_GROUPS = 1024;
/** The caller a group is counted under once MAX_OPEN_GROUPS are open. */
export const OVERFLOW_CALLER = '*';

/** Where the refusals a request meets are recorded (the node's RefusalCounter). */
export interface RefusalSink {
  /**
   * One refusal. `group` holds the bounded fields it is counted by (and which the counted entry
   * carries); `detail` the fields only an entry in full carries (request id, digest…). Resolves
   * once its entry is on disk, or at once when it was only counted.
   */
  refused(kind: string, caller: string, group: Readonly<Record<string, string | number | null>>, detail?: Readonly<Record<string, unknown>>): Promise<void>;
}

export interface RefusalCounterOptions {
  /** Appends one entry to the audit log (AuditLog#append). */
  readonly append: (kind: string, data: Readonly<Record<string, unknown>>) => Promise<unknown>;
  /** A counted entry that could not be written at the end of its window. */
  readonly onError?: (e: unknown) => void;
  readonly windowMs?: number;
  readonly inFull?: number;
  readonly maxGroups?: number;
  readonly now?: () => Date;
}

interface Group {
  readonly kind: string;
  readonly fields: Readonly<Record<string, unknown>>;
  /** Written in full in this window so far. */
  written: number;
  /** Counted but not yet written. */
  counted: number;
  first: Date | undefined;
  last: Date | undefined;
  timer: NodeJS.Timeout;
}

export class RefusalCounter implements RefusalSink {
  readonly #o: RefusalCounterOptions;
  readonly #groups = new Map<string, Group>();
  #closed = false;

  constructor(opts: RefusalCounterOptions) {
    this.#o = opts;
  }

  async refused(kind: string, caller: string, group: Readonly<Record<string, string | number | null>>, detail: Readonly<Record<string, unknown>> = {}): Promise<void> {
    if (this.#closed) {
      await this.#o.append(kind, { ...detail, ...group, caller, count: 1 });
      return;
    }
    let key = groupKey(kind, caller, group);
    let g = this.#groups.get(key);
    if (g === undefined && this.#groups.size >= (this.#o.maxGroups ?? MAX_OPEN_GROUPS)) {
      caller = OVERFLOW_CALLER;
      key = groupKey(kind, caller, group);
      g = this.#groups.get(key);
    }
    if (g === undefined) {
      g = { kind, fields: { ...group, caller }, written: 0, counted: 0, first: undefined, last: undefined, timer: this.#timer(key) };
      this.#groups.set(key, g);
    }
    if (g.written < (this.#o.inFull ?? REFUSALS_IN_FULL)) {
      g.written++;
      await this.#o.append(kind, { ...detail, ...g.fields, count: 1 });
      return;
    }
    const at = this.#now();
    g.counted++;
    g.first ??= at;
    g.last = at;
  }

  /** Writes every group's pending count and closes the groups; later refusals are written in full. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const groups = [...this.#groups.values()];
    this.#groups.clear();
    for (const g of groups) {
      clearTimeout(g.timer);
      await this.#writeCount(g).catch((e: unknown) => this.#o.onError?.(e));
    }
  }

  #timer(key: string): NodeJS.Timeout {
    const t = setTimeout(() => void this.#windowEnd(key), this.#o.windowMs ?? REFUSAL_WINDOW_MS);
    t.unref();
    return t;
  }

  async #windowEnd(key: string): Promise<void> {
    const g = this.#groups.get(key);
    if (g === undefined) return;
    if (g.counted === 0) {
      // A quiet window: the group is closed, and its next refusal is written in full again.
      this.#groups.delete(key);
      return;
    }
    // Still refusing: a new window opens at once, and it counts from its first refusal on.
    const pending = { ...g };
    g.written = this.#o.inFull ?? REFUSALS_IN_FULL;
    g.counted = 0;
    g.first = undefined;
    g.last = undefined;
    g.timer = this.#timer(key);
    await this.#writeCount(pending).catch((e: unknown) => this.#o.onError?.(e));
  }

  async #writeCount(g: Pick<Group, 'kind' | 'fields' | 'counted' | 'first' | 'last'>): Promise<void> {
    if (g.counted === 0 || g.first === undefined || g.last === undefined) return;
    await this.#o.append(g.kind, { ...g.fields, count: g.counted, first: g.first.toISOString(), last: g.last.toISOString() });
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }
}

function groupKey(kind: string, caller: string, group: Readonly<Record<string, unknown>>): string {
  return JSON.stringify([kind, caller, Object.entries(group).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}
