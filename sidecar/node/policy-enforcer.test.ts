/**
 * A signer's rate limit counts requests, not releases (issue 11 item 1): a request released
 * again — a failover that asks a co-signer of both signer sets, a client retrying a failed
 * requestId — is charged once and is not refused by the limit it already counts against; another
 * request, or the same requestId with another digest or path, is a request of its own.
 */
import { describe, expect, it } from 'vitest';
import type { KeyState } from './key-state.ts';
import { PolicyEnforcer } from './policy-enforcer.ts';
import { PolicyDenied } from './signing-service.ts';

const STATE: KeyState = {
  keyId: 'k',
  current: { epoch: 1, planHash: 'aa', publicKey: '02'.repeat(33), xpub: 'xpub', threshold: 2, parties: [] },
  aborted: [],
  appliedPolicyPlans: [],
  retiredBelow: 0,
  policy: { version: 1, allowedPaths: ['m', 'm/*'], rateLimits: { perHour: 2 } },
};
const APPROVERS = { keys: [], quorum: 1 } as never;
const request = (requestId: string, over: { digest?: number; derivationPath?: string } = {}) => ({
  derivationPath: over.derivationPath ?? 'm',
  digest: new Uint8Array(32).fill(over.digest ?? 1),
  requestId,
  approvals: undefined,
});

describe('policy rate limits per request', () => {
  it('charges a request released twice once, and does not refuse it for the limit it already counts against', () => {
    let now = Date.parse('2026-05-01T12:00:00Z');
    const policy = new PolicyEnforcer(APPROVERS, () => new Date(now));
    policy.check(STATE, request('a'))();
    now += 1_000;
    // The same request again (another signer set, or a client's retry): no second charge.
    policy.check(STATE, request('a'))();
    policy.check(STATE, request('b'))();
    // Two requests in the hour: the limit is reached for new ones, not for those already counted.
    expect(() => policy.check(STATE, request('c'))).toThrow(PolicyDenied);
    expect(() => policy.check(STATE, request('a'))).not.toThrow();
    // An hour later both have aged out.
    now += 3_600_000;
    policy.check(STATE, request('c'))();
  });

  it('counts the same requestId with another digest or path as a request of its own', () => {
    const policy = new PolicyEnforcer(APPROVERS, () => new Date('2026-05-01T12:00:00Z'));
    policy.check(STATE, request('a'))();
    policy.check(STATE, request('a', { digest: 2 }))();
    expect(() => policy.check(STATE, request('a', { derivationPath: 'm/1' }))).toThrow(/rate limit/);
  });
});
