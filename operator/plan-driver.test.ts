/** What ceremonies and rotations record while a plan is not progressing, or when it failed (one mapping for both). */
import { describe, expect, it } from 'vitest';
import { failedStep, isStalled, stalledStep, type DriveOutcome } from './plan-driver.ts';

const hash = 'ab'.repeat(32);

describe('stalledStep', () => {
  it('replaces an expired plan: approvals reset, a Normal Event, at once', () => {
    expect(stalledStep({ state: 'expired' }, hash)).toMatchObject({ republish: true, approvals: 0, requeueAfterMs: 0, event: { type: 'Normal', reason: 'PlanExpired' }, condition: { type: 'Progressing', reason: 'PlanExpired' } });
  });

  it('waits for approvals without an Event, and says what is short', () => {
    const st = stalledStep({ state: 'awaiting', approvals: 1, message: 'waiting for approvals: a has 1 of 2' }, hash);
    expect(st).toEqual({ approvals: 1, condition: { type: 'Progressing', status: 'True', reason: 'AwaitingApproval', message: 'waiting for approvals: a has 1 of 2' }, requeueAfterMs: 5000, republish: false });
  });

  it('reports a refused plan as Degraded with a Warning, retried slowly; an unreachable coordinator as Degraded', () => {
    expect(stalledStep({ state: 'refused', approvals: 2, message: 'no' }, hash)).toMatchObject({ republish: false, approvals: 2, requeueAfterMs: 30_000, event: { type: 'Warning', reason: 'PlanRefused' }, condition: { type: 'Degraded', status: 'True', reason: 'PlanRefused' } });
    const down = stalledStep({ state: 'unreachable', message: 'coordinator x: ECONNREFUSED' }, hash);
    expect(down).toMatchObject({ republish: false, condition: { type: 'Degraded', status: 'True', reason: 'CoordinatorUnreachable', message: 'coordinator x: ECONNREFUSED' } });
    expect(down.event).toBeUndefined();
    expect(down.approvals).toBeUndefined();
  });

  it('treats running, done and aborted plans as progressing', () => {
    const status = { planHash: hash, keyId: 'k', protocol: 'keygen', phase: 'running', timingsMs: {} } as const;
    for (const o of [{ state: 'running', approvals: 2, status }, { state: 'done', approvals: 2, status }, { state: 'aborted', approvals: 2, status }] as DriveOutcome[]) expect(isStalled(o)).toBe(false);
  });
});

describe('failedStep', () => {
  it('names the culprits in the Warning Event and the Ready condition, and keeps them in status', () => {
    const f = failedStep('Ceremony', 'E_PROTOCOL_ABORT: keygen round 4', [2], ['sa-east/vault/p'], 'the ceremony ended without a key');
    expect(f.event).toEqual({ type: 'Warning', reason: 'CeremonyAborted', message: 'E_PROTOCOL_ABORT: keygen round 4 (culprits: sa-east/vault/p)' });
    expect(f.patch).toEqual({ phase: 'Failed', failure: 'E_PROTOCOL_ABORT: keygen round 4', culprits: [2] });
    expect(f.ready).toMatchObject({ type: 'Ready', status: 'False', reason: 'AbortedWithCulprits' });
    expect(f.progressing).toEqual({ type: 'Progressing', status: 'False', reason: 'Failed', message: 'the ceremony ended without a key' });
  });

  it('without culprits: a Failed Event and reason, and an over-long failure cut in status', () => {
    const f = failedStep('Rotation', 'x'.repeat(5000), [], [], 'the key stays at its previous epoch');
    expect(f.event.reason).toBe('RotationFailed');
    expect(f.ready.reason).toBe('Failed');
    expect(f.patch.failure).toHaveLength(4096);
    expect(f.patch.culprits).toEqual([]);
  });
});
