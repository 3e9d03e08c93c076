import { describe, expect, it } from 'vitest';
import { WriteGate } from './write-gate.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('WriteGate', () => {
  it('lets shared holders overlap and runs an exclusive holder alone, after them and before later ones', async () => {
    const gate = new WriteGate();
    const log: string[] = [];
    const shared = (name: string, ms: number) => gate.shared(async () => {
      log.push(`${name}+`);
      await tick(ms);
      log.push(`${name}-`);
    });
    const a = shared('a', 20);
    const b = shared('b', 10);
    await tick(1);
    const x = gate.exclusive(async () => {
      log.push('x+');
      await tick(10);
      log.push('x-');
    });
    await tick(1);
    const c = shared('c', 1);
    await Promise.all([a, b, x, c]);
    expect(log.slice(0, 2)).toEqual(['a+', 'b+']);
    expect(log.indexOf('x+')).toBeGreaterThan(Math.max(log.indexOf('a-'), log.indexOf('b-')));
    expect(log.indexOf('c+')).toBeGreaterThan(log.indexOf('x-'));
  });

  it('releases the gate when the exclusive holder throws', async () => {
    const gate = new WriteGate();
    await expect(gate.exclusive(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await gate.shared(async () => 7)).toBe(7);
  });
});
