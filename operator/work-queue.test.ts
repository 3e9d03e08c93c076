import { describe, expect, it } from 'vitest';
import { WorkQueue } from './work-queue.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('runs a key once however often it was added before a worker took it', async () => {
    const seen: string[] = [];
    const q = new WorkQueue(async (k) => {
      seen.push(k);
      if (k === 'busy') await tick(20);
    }, { concurrency: 1 });
    q.add('busy'); // the only worker is taken: the adds below wait in the queue
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('b');
    await q.drained();
    expect(seen).toEqual(['busy', 'a', 'b']);
  });

  it('never runs one key twice at once, and runs it again when added meanwhile', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const q = new WorkQueue(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      await tick(20);
      running--;
    }, { concurrency: 4 });
    q.add('k');
    await tick(2);
    q.add('k');
    q.add('k');
    await tick(60);
    await q.drained();
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
  });

  it('retries a failing key with a growing backoff and reports each failure', async () => {
    const times: number[] = [];
    const errors: number[] = [];
    const q = new WorkQueue(async () => {
      times.push(Date.now());
      if (times.length < 4) throw new Error('not yet');
    }, { baseDelayMs: 20, onError: (_k, _e, attempt) => errors.push(attempt) });
    q.add('k');
    for (let i = 0; i < 100 && times.length < 4; i++) await tick(10);
    expect(errors).toEqual([1, 2, 3]);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[2]).toBeGreaterThanOrEqual(75);
    expect(q.failures('k')).toBe(0);
    await q.stop();
  });

  it('looks at a key again when the handler asks, unless it is added sooner', async () => {
    let runs = 0;
    const q = new WorkQueue(async () => (++runs === 1 ? { requeueAfterMs: 30 } : undefined));
    q.add('k');
    await tick(10);
    expect(runs).toBe(1);
    await tick(50);
    expect(runs).toBe(2);
    await q.stop();
  });

  it('stops taking keys after stop()', async () => {
    let runs = 0;
    const q = new WorkQueue(async () => void runs++);
    await q.stop();
    q.add('k');
    await tick(10);
    expect(runs).toBe(0);
  });
});
