/**
 * Which derived paths get presignatures waiting for them (issue 11 item 2, decision 0005): a
 * presignature is bound to its derivation path (DESIGN §3 "Presignatures"), so the pool filled
 * for `m` does nothing for a signature at `m/0/7`, and without this every such signature pays a
 * whole presign. A path is *hot* for a key when
 *  - the key's policy names it exactly (an entry of `allowedPaths` without `*`), or
 *  - it was signed for HOT_AFTER times within HOT_WINDOW_MS (a deposit address swept again, a
 *    hot wallet's change path) — recent demand, forgotten once it stops.
 * The pool refill keeps `presignPool.pathSize` presignatures for each of at most MAX_HOT_PATHS
 * hot paths per key besides `m`, policy paths first, then the most recently signed. What is
 * remembered is the last HOT_AFTER request times of at most MAX_TRACKED_PATHS (key, path) pairs,
 * the least recently signed forgotten first; the pool itself stays bounded per key.
 */
import { isPathPattern, pathAllowed, type Policy } from '../../api/index.ts';

/** Requests at one path within HOT_WINDOW_MS that make it hot. */
export const HOT_AFTER = 2;
/** How long the demand for a path is remembered after its last request. */
export const HOT_WINDOW_MS = 15 * 60_000;
/** Hot paths pooled per key besides `m`: bounds the presigning a burst of demand can cause. */
export const MAX_HOT_PATHS = 8;
/** (key, path) pairs whose demand is tracked at once, over all keys. */
export const MAX_TRACKED_PATHS = 1024;

export class HotPaths {
  readonly #now: () => number;
  /** By `keyId \0 path`, in the order of the last request (the oldest first). */
  readonly #demand = new Map<string, { readonly keyId: string; readonly path: string; times: number[] }>();

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  /** A signature at this path was asked for (and allowed by the policy). */
  requested(keyId: string, path: string): void {
    if (path === 'm') return;
    const id = `${keyId}\u0000${path}`;
    const d = this.#demand.get(id) ?? { keyId, path, times: [] };
    d.times = [...d.times, this.#now()].slice(-HOT_AFTER);
    this.#demand.delete(id);
    this.#demand.set(id, d);
    if (this.#demand.size > MAX_TRACKED_PATHS) this.#demand.delete(this.#demand.keys().next().value as string);
  }

  /** The key's hot paths other than `m`, policy paths first, then by the latest request; at most MAX_HOT_PATHS. */
  hot(keyId: string, policy: Policy | undefined): string[] {
    const out = new Set<string>();
    for (const p of policy?.allowedPaths ?? []) if (p !== 'm' && !p.includes('*') && isPathPattern(p)) out.add(p);
    const since = this.#now() - HOT_WINDOW_MS;
    const recent = [...this.#demand.values()].filter((d) => d.keyId === keyId && d.times.length >= HOT_AFTER && d.times[0]! >= since).reverse();
    for (const d of recent) if (!policy || pathAllowed(policy, d.path)) out.add(d.path);
    return [...out].slice(0, MAX_HOT_PATHS);
  }
}
