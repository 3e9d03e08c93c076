import { describe, expect, it } from 'vitest';
import { conditionHolds, withCondition } from './conditions.ts';

const t0 = new Date('2026-11-25T10:00:00Z');
const t1 = new Date('2026-11-25T11:00:00Z');

describe('conditions', () => {
  it('changes lastTransitionTime only when the status changes, and keeps other types', () => {
    const a = withCondition(undefined, { type: 'Ready', status: 'False', reason: 'Waiting', message: 'm' }, 1, t0);
    const b = withCondition(a, { type: 'Ready', status: 'False', reason: 'StillWaiting', message: 'n' }, 2, t1);
    expect(b[0]).toMatchObject({ reason: 'StillWaiting', observedGeneration: 2, lastTransitionTime: '2026-11-25T10:00:00Z' });
    const c = withCondition(b, { type: 'Ready', status: 'True', reason: 'Done', message: 'ok' }, 2, t1);
    expect(c[0]!.lastTransitionTime).toBe('2026-11-25T11:00:00Z');
    const d = withCondition(c, { type: 'Degraded', status: 'False', reason: 'Fine', message: '' }, 2, t1);
    expect(d.map((x) => x.type)).toEqual(['Ready', 'Degraded']);
  });

  it('says when an update would change nothing', () => {
    const u = { type: 'Ready', status: 'True', reason: 'Done', message: 'ok' } as const;
    const list = withCondition(undefined, u, 3, t0);
    expect(conditionHolds(list, u, 3)).toBe(true);
    expect(conditionHolds(list, u, 4)).toBe(false);
    expect(conditionHolds(list, { ...u, message: 'other' }, 3)).toBe(false);
    expect(conditionHolds(undefined, u, 3)).toBe(false);
  });
});
