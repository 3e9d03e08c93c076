/**
 * The refusal throttle (issue 16 item 3): a caller is answered 429 once it has collected
 * REFUSAL_BURST refusals, gets one request more per REFUSAL_REFILL_MS, and a caller that is never
 * refused is never throttled; over a real HTTP listener, the 429 comes before the handler runs.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { MAX_THROTTLE_CALLERS, REFUSAL_BURST, REFUSAL_REFILL_MS, RefusalThrottle } from './refusal-throttle.ts';

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('refusal throttle', () => {
  it('throttles a caller after REFUSAL_BURST refusals, then lets one request through per refill interval', () => {
    const c = clock();
    const t = new RefusalThrottle({ now: c.now });
    for (let i = 0; i < REFUSAL_BURST - 1; i++) t.refused('api-client:a');
    expect(t.retryAfterMs('api-client:a')).toBeUndefined();
    t.refused('api-client:a');
    expect(t.retryAfterMs('api-client:a')).toBe(REFUSAL_REFILL_MS);
    c.advance(REFUSAL_REFILL_MS / 2);
    expect(t.retryAfterMs('api-client:a')).toBe(REFUSAL_REFILL_MS / 2);
    c.advance(REFUSAL_REFILL_MS / 2);
    expect(t.retryAfterMs('api-client:a')).toBeUndefined();
    // That one request refused again: throttled again at once.
    t.refused('api-client:a');
    expect(t.retryAfterMs('api-client:a')).toBe(REFUSAL_REFILL_MS);
    // Others are not touched by it.
    expect(t.retryAfterMs('api-client:b')).toBeUndefined();
  });

  it('never throttles a caller that is not refused, and forgets a caller whose bucket refilled', () => {
    const c = clock();
    const t = new RefusalThrottle({ now: c.now });
    for (let i = 0; i < 10_000; i++) expect(t.retryAfterMs('peer:honest')).toBeUndefined();
    for (let i = 0; i < REFUSAL_BURST; i++) t.refused('peer:x');
    c.advance(REFUSAL_BURST * REFUSAL_REFILL_MS);
    expect(t.retryAfterMs('peer:x')).toBeUndefined();
    // Forgotten: a fresh burst, not the remainder of an old one.
    for (let i = 0; i < REFUSAL_BURST - 1; i++) t.refused('peer:x');
    expect(t.retryAfterMs('peer:x')).toBeUndefined();
  });

  it('remembers at most MAX_THROTTLE_CALLERS callers, forgetting the one refused longest ago', () => {
    const t = new RefusalThrottle({ now: () => 0, burst: 1, maxCallers: 3 });
    for (const who of ['a', 'b', 'c', 'd']) t.refused(who);
    expect(['a', 'b', 'c', 'd'].map((w) => t.retryAfterMs(w) !== undefined)).toEqual([false, true, true, true]);
    expect(MAX_THROTTLE_CALLERS).toBeGreaterThan(0);
  });

  it('answers 429 E_TOO_MANY_REFUSALS with Retry-After before the handler runs, and counts it', async () => {
    const c = clock();
    const t = new RefusalThrottle({ now: c.now });
    const throttled: string[] = [];
    let handled = 0;
    const app = express();
    app.use(t.guard((req) => String(req.headers['x-caller']), (who) => throttled.push(who)));
    app.post('/x', (_req, res) => {
      handled++;
      t.refused('mallory');
      res.status(403).json({ error: { code: 'E_POLICY_DENIED' } });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    try {
      const send = (who: string) => fetch(url, { method: 'POST', headers: { 'x-caller': who } });
      for (let i = 0; i < REFUSAL_BURST; i++) expect((await send('mallory')).status).toBe(403);
      const res = await send('mallory');
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe(String(REFUSAL_REFILL_MS / 1000));
      expect(await res.json()).toMatchObject({ error: { code: 'E_TOO_MANY_REFUSALS', retryAfterMs: REFUSAL_REFILL_MS } });
      expect(handled).toBe(REFUSAL_BURST);
      expect(throttled).toEqual(['mallory']);
      expect((await send('alice')).status).toBe(403);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
