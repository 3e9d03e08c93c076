/**
 * A per-caller limit on refused requests (issue 16 item 3): a caller that keeps sending what this
 * node refuses — plans it will not take, signing requests its policy denies, control calls it is
 * not a party to — is answered 429 `E_TOO_MANY_REFUSALS` for a while, before anything of its
 * requests is read. The counted audit entries (audit/refusals.ts) already bound the lines a flood
 * costs; this bounds the work: schema checks, approval signatures verified, policy evaluated, log
 * lines written, for requests that were going to be refused anyway.
 *
 * Only refusals are charged, never requests that succeed, so an honest client or party that gets
 * nothing refused is never slowed down, whatever its rate (its own rate limit is the signing
 * policy's job). Each caller has a bucket of REFUSAL_BURST refusals that refills by one every
 * REFUSAL_REFILL_MS; while it is empty, the caller's requests are throttled, and `Retry-After`
 * says when the next one is taken. The callers are the identities the listeners authenticate
 * (http/caller.ts): an API client's configured name, a peer's proven identity key, or for a peer
 * certificate without a valid binding the certificate's fingerprint. What is kept is one small
 * record per caller refused lately, in memory, at most MAX_THROTTLE_CALLERS of them.
 */
import type { Request, RequestHandler, Response } from 'express';

/** Refusals a caller may collect at once before it is throttled. */
export const REFUSAL_BURST = 30;
/** One more refusal is allowed per this interval: 30 a minute, sustained. */
export const REFUSAL_REFILL_MS = 2_000;
/** Callers remembered at once; past this, the one refused longest ago is forgotten. */
export const MAX_THROTTLE_CALLERS = 4096;

interface Bucket {
  /** Refusals still allowed at `at`. */
  tokens: number;
  at: number;
}

export interface RefusalThrottleOptions {
  readonly burst?: number;
  readonly refillMs?: number;
  readonly maxCallers?: number;
  readonly now?: () => number;
}

export class RefusalThrottle {
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #maxCallers: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(opts: RefusalThrottleOptions = {}) {
    this.#burst = opts.burst ?? REFUSAL_BURST;
    this.#refillMs = opts.refillMs ?? REFUSAL_REFILL_MS;
    this.#maxCallers = opts.maxCallers ?? MAX_THROTTLE_CALLERS;
    this.#now = opts.now ?? Date.now;
  }

  #level(b: Bucket, now: number): number {
    return Math.min(this.#burst, b.tokens + (now - b.at) / this.#refillMs);
  }

  /** A request of this caller was refused: one refusal less allowed. */
  refused(caller: string): void {
    const now = this.#now();
    const b = this.#buckets.get(caller);
    const tokens = Math.max(0, (b ? this.#level(b, now) : this.#burst) - 1);
    // Re-inserted, so that the map's order is the order of the last refusals (the oldest goes first).
    this.#buckets.delete(caller);
    this.#buckets.set(caller, { tokens, at: now });
    if (this.#buckets.size > this.#maxCallers) this.#buckets.delete(this.#buckets.keys().next().value as string);
  }

  /** Milliseconds until this caller's next request is taken, or undefined when it is taken now. */
  retryAfterMs(caller: string): number | undefined {
    const b = this.#buckets.get(caller);
    if (!b) return undefined;
    const now = this.#now();
    const level = this.#level(b, now);
    if (level >= this.#burst) this.#buckets.delete(caller); // refilled: nothing left to remember
    return level >= 1 ? undefined : Math.ceil((1 - level) * this.#refillMs);
  }

  /**
   * Express middleware: answers 429 for a caller that is throttled now, before the request is
   * handled. `callerOf` names the authenticated caller (undefined: not throttled here);
   * `throttled` hears of each request answered so (metrics, counted audit entries).
   */
  guard(callerOf: (req: Request, res: Response) => string | undefined, throttled: (caller: string) => void): RequestHandler {
    return (req, res, next) => {
      const caller = callerOf(req, res);
      const wait = caller === undefined ? undefined : this.retryAfterMs(caller);
      if (caller === undefined || wait === undefined) return next();
      throttled(caller);
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      res.status(429).json({ error: { code: 'E_TOO_MANY_REFUSALS', message: `too many refused requests from this caller; retry in ${Math.ceil(wait / 1000)} s`, retryAfterMs: wait } });
    };
  }
}
