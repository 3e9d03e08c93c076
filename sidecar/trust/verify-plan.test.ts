import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { p256 } from '@noble/curves/nist.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { approverPublicKeyHex, makeApproverSet, planHash, signApproval, type Approval, type Plan } from '../../api/index.ts';
import { TrustError } from './errors.ts';
import { verifyPlan, type CurrentKey, type VerifyPlanContext } from './verify-plan.ts';

const identity = (): string => bytesToHex(p256.getPublicKey(p256.utils.randomSecretKey(), true));
const party = (i: number, key = identity()) => ({ index: i, name: `party-${i}`, identityKey: key, endpoint: `https://party-${i}.example:8443` });

const approverKeys: KeyObject[] = [0, 1, 2].map(() => generateKeyPairSync('ed25519').privateKey);
const outsider = generateKeyPairSync('ed25519').privateKey;
const approvers = makeApproverSet(approverKeys.map((k) => approverPublicKeyHex(k)), 2);

const parties = [party(1), party(2), party(3)];
const self = { identityKey: hexToBytes(parties[0]!.identityKey) };
const now = new Date('2026-05-04T12:00:00Z');
const ctx = (over: Partial<VerifyPlanContext> = {}): VerifyPlanContext => ({ approvers, self, now, ...over });
const held = (epoch: number, ps = parties, threshold = 2): CurrentKey => ({ keyId: 'treasury-1', epoch, threshold, parties: ps.map((p) => ({ index: p.index, identityKey: p.identityKey })) });

function plan(over: Record<string, unknown> = {}): Plan {
  return {
    version: 1,
    protocol: 'keygen',
    keyId: 'treasury-1',
    epoch: 0,
    threshold: 2,
    parties,
    expiresAt: '2026-05-05T00:00:00Z',
    nonce: randomBytes(32).toString('hex'),
    ...over,
  } as Plan;
}

/** Reshare of epoch 4 (parties 1..3, t = 2) to parties 2, 3 and newcomer 4, dealt by old 2 and 3. */
function reshare(over: Record<string, unknown> = {}): Plan {
  return plan({
    protocol: 'reshare',
    epoch: 5,
    threshold: 2,
    parties: [parties[1]!, parties[2]!, party(4)],
    previous: { epoch: 4, threshold: 2, parties, dealers: [2, 3] },
    ...over,
  });
}

const approve = (p: Plan, keys: readonly KeyObject[] = approverKeys.slice(0, 2)): Approval[] => keys.map((k) => signApproval(planHash(p), k));

function refusal(f: () => unknown): TrustError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TrustError);
    return e as TrustError;
  }
  throw new Error('expected a refusal');
}

describe('verifyPlan: approvals', () => {
  it('accepts a keygen plan with a quorum of pinned approvals and says where this party stands', () => {
    const p = plan();
    const v = verifyPlan(p, approve(p), ctx());
    expect(v.hashHex).toBe(bytesToHex(planHash(p)));
    expect(v.selfIndex).toBe(1);
    expect(v.previousIndex).toBeUndefined();
    expect(v.dealer).toBe(false);
    expect(v.approvers).toEqual(approve(p).map((a) => a.approver).sort());
    expect(v.plan).toEqual(p);
  });

  it('accepts a plan that arrived as JSON text parsed by the transport', () => {
    const p = plan();
    expect(verifyPlan(JSON.parse(JSON.stringify(p)), JSON.parse(JSON.stringify(approve(p, approverKeys))), ctx()).approvers).toHaveLength(3);
  });

  it('refuses too few approvals, saying how many of how many', () => {
    const p = plan();
    const e = refusal(() => verifyPlan(p, approve(p, approverKeys.slice(0, 1)), ctx()));
    expect(e.code).toBe('E_PLAN_UNAPPROVED');
    expect(e.message).toMatch(/1 distinct valid approval\(s\) of the 2 needed \(pinned set of 3\)/);
    expect(refusal(() => verifyPlan(p, [], ctx())).code).toBe('E_PLAN_UNAPPROVED');
  });

  it('counts an approver who signed twice once', () => {
    const p = plan();
    const [a] = approve(p, approverKeys.slice(0, 1));
    expect(refusal(() => verifyPlan(p, [a, a, { ...a! }], ctx())).code).toBe('E_PLAN_UNAPPROVED');
    const v = verifyPlan(p, [a, ...approve(p, approverKeys.slice(0, 2)), a], ctx());
    expect(v.approvers).toHaveLength(2);
  });

  it('refuses an approval whose signature is over another plan hash', () => {
    const p = plan();
    const other = plan();
    const forged = { ...approve(other, approverKeys.slice(2))[0]!, planHash: bytesToHex(planHash(p)) };
    const e = refusal(() => verifyPlan(p, [...approve(p), forged], ctx()));
    expect(e.code).toBe('E_APPROVAL_INVALID');
    expect(e.message).toContain(`approver ${forged.approver} does not verify`);
  });

  it('refuses an approval of another plan', () => {
    const p = plan();
    const foreign = approve(plan(), approverKeys.slice(2))[0]!;
    const e = refusal(() => verifyPlan(p, [...approve(p), foreign], ctx()));
    expect(e.code).toBe('E_APPROVAL_INVALID');
    expect(e.message).toMatch(new RegExp(`approvals\\[2\\]: approver ${foreign.approver} approved plan [0-9a-f]{16}…, not this plan`));
  });

  it('refuses a flipped bit in a signature', () => {
    const p = plan();
    const [a, b] = approve(p);
    const sig = Buffer.from(b!.signature, 'hex');
    sig[63] = sig[63]! ^ 0x01;
    const e = refusal(() => verifyPlan(p, [a, { ...b!, signature: sig.toString('hex') }], ctx()));
    expect(e.code).toBe('E_APPROVAL_INVALID');
    expect(e.message).toContain(b!.approver);
  });

  it('refuses a valid signature from an approver who is not pinned, naming it', () => {
    const p = plan();
    const stranger = signApproval(planHash(p), outsider);
    const e = refusal(() => verifyPlan(p, [...approve(p), stranger], ctx()));
    expect(e.code).toBe('E_APPROVAL_INVALID');
    expect(e.message).toContain(`approver ${stranger.approver} is not in the pinned approver set`);
  });

  it('refuses malformed approval lists', () => {
    const p = plan();
    expect(refusal(() => verifyPlan(p, { 0: approve(p)[0] }, ctx())).code).toBe('E_APPROVAL_INVALID');
    expect(refusal(() => verifyPlan(p, [{ ...approve(p)[0]!, note: 'x' }], ctx())).message).toMatch(/approvals\[0\]: .*note/);
    expect(refusal(() => verifyPlan(p, new Array(257).fill(approve(p)[0]), ctx())).message).toMatch(/more than 256/);
  });
});

describe('verifyPlan: plan invariants and expiry', () => {
  it('refuses a schema violation as E_PLAN_INVALID naming the rule', () => {
    const e = refusal(() => verifyPlan({ ...plan(), threshold: 1 }, [], ctx()));
    expect(e.code).toBe('E_PLAN_INVALID');
    expect(e.message).toMatch(/threshold: 1 refused/);
    expect(refusal(() => verifyPlan({ ...plan(), threshold: 4 }, [], ctx())).message).toMatch(/exceeds the 3 parties/);
    expect(refusal(() => verifyPlan({ ...plan(), extra: 1 }, [], ctx())).message).toMatch(/extra/);
    expect(refusal(() => verifyPlan('not a plan', [], ctx())).code).toBe('E_PLAN_INVALID');
  });

  it('refuses an expired plan, at and after its expiry', () => {
    const p = plan();
    expect(refusal(() => verifyPlan(p, approve(p), ctx({ now: new Date(p.expiresAt) }))).code).toBe('E_PLAN_EXPIRED');
    expect(refusal(() => verifyPlan(p, approve(p), ctx({ now: new Date('2027-01-01T00:00:00Z') }))).message).toMatch(/expired at 2026-05-05T00:00:00Z/);
  });

  it('refuses a plan that does not name this party', () => {
    const p = plan();
    const e = refusal(() => verifyPlan(p, approve(p), ctx({ self: { identityKey: hexToBytes(identity()) } })));
    expect(e.code).toBe('E_IDENTITY_MISMATCH');
    expect(e.message).toMatch(/is not in the plan/);
  });

  it('changes nothing in its inputs when it refuses', () => {
    const p = plan({ protocol: 'refresh', epoch: 9 });
    const approvals = approve(p);
    const c = ctx({ current: held(4) });
    const before = JSON.stringify({ p, approvals, c });
    expect(refusal(() => verifyPlan(p, approvals, c)).code).toBe('E_EPOCH_DISCONTINUITY');
    expect(JSON.stringify({ p, approvals, c })).toBe(before);
  });
});

describe('verifyPlan: epoch continuity', () => {
  it('refuses keygen of a key this party already holds', () => {
    const p = plan();
    expect(refusal(() => verifyPlan(p, approve(p), ctx({ current: held(0) }))).code).toBe('E_EPOCH_DISCONTINUITY');
  });

  it('accepts a refresh to epoch current + 1 and refuses any other epoch', () => {
    const ok = plan({ protocol: 'refresh', epoch: 5 });
    expect(verifyPlan(ok, approve(ok), ctx({ current: held(4) })).selfIndex).toBe(1);
    for (const epoch of [4, 6, 1]) {
      const p = plan({ protocol: 'refresh', epoch });
      const e = refusal(() => verifyPlan(p, approve(p), ctx({ current: held(4) })));
      expect(e.code).toBe('E_EPOCH_DISCONTINUITY');
      expect(e.message).toMatch(/must name epoch 5/);
    }
  });

  it('refuses a refresh of a key this party does not hold', () => {
    const p = plan({ protocol: 'refresh', epoch: 1 });
    expect(refusal(() => verifyPlan(p, approve(p), ctx())).code).toBe('E_EPOCH_DISCONTINUITY');
  });

  it('refuses a refresh in which an identity key differs from the key held', () => {
    const p = plan({ protocol: 'refresh', epoch: 5, parties: [parties[0], party(2), parties[2]] });
    const e = refusal(() => verifyPlan(p, approve(p), ctx({ current: held(4) })));
    expect(e.code).toBe('E_IDENTITY_MISMATCH');
    expect(e.message).toMatch(/party 2 has identity key/);
  });

  it('refuses a refresh that changes the threshold or the number of parties', () => {
    const p = plan({ protocol: 'refresh', epoch: 5, threshold: 3 });
    expect(refusal(() => verifyPlan(p, approve(p), ctx({ current: held(4) }))).message).toMatch(/use reshare/);
  });

  it('refuses a plan for another key id than the one given', () => {
    const p = plan({ protocol: 'refresh', epoch: 5, keyId: 'treasury-2' });
    expect(refusal(() => verifyPlan(p, approve(p), ctx({ current: held(4) }))).code).toBe('E_PLAN_INVALID');
  });

  it('accepts a policy plan at the current epoch only', () => {
    const policy = { version: 1, allowedPaths: ['m/0/*'] };
    const ok = plan({ protocol: 'policy', epoch: 4, policy });
    expect(verifyPlan(ok, approve(ok), ctx({ current: held(4) })).plan.policy).toEqual(policy);
    const next = plan({ protocol: 'policy', epoch: 5, policy });
    expect(refusal(() => verifyPlan(next, approve(next), ctx({ current: held(4) }))).code).toBe('E_EPOCH_DISCONTINUITY');
  });

  it('accepts a reshare at a dealer that leaves the key', () => {
    const p = reshare();
    const v = verifyPlan(p, approve(p), ctx({ current: held(4) }));
    expect(v.selfIndex).toBeUndefined();
    expect(v.previousIndex).toBe(1);
    expect(v.dealer).toBe(false);
    const dealer = verifyPlan(p, approve(p), ctx({ current: held(4), self: { identityKey: hexToBytes(parties[1]!.identityKey) } }));
    expect(dealer).toMatchObject({ selfIndex: 2, previousIndex: 2, dealer: true });
  });

  it('accepts a reshare at a newcomer that holds nothing yet', () => {
    const p = reshare();
    const v = verifyPlan(p, approve(p), ctx({ self: { identityKey: hexToBytes(p.parties[2]!.identityKey) } }));
    expect(v).toMatchObject({ selfIndex: 4, previousIndex: undefined, dealer: false });
  });

  it('accepts an expired reshare only when asked to (a leaving party retiring after the commit)', () => {
    const p = reshare();
    const late = new Date('2026-05-06T00:00:00Z');
    expect(refusal(() => verifyPlan(p, approve(p), ctx({ current: held(4), now: late }))).code).toBe('E_PLAN_EXPIRED');
    expect(verifyPlan(p, approve(p), ctx({ current: held(4), now: late, allowExpired: true })).previousIndex).toBe(1);
  });

  it('accepts a refresh of a key whose party numbers have a gap, and only with exactly its holders', () => {
    const gapped = [parties[0]!, parties[2]!, party(4)];
    const p = plan({ protocol: 'refresh', epoch: 5, parties: gapped });
    expect(verifyPlan(p, approve(p), ctx({ current: held(4, gapped) })).selfIndex).toBe(1);
    const e = refusal(() => verifyPlan(p, approve(p), ctx({ current: held(4) })));
    expect(e.code).toBe('E_IDENTITY_MISMATCH');
    expect(e.message).toMatch(/party 3 has identity key|party 4 holds no share/);
  });

  it('refuses a reshare at an old holder that holds no key', () => {
    const p = reshare();
    expect(refusal(() => verifyPlan(p, approve(p), ctx())).code).toBe('E_EPOCH_DISCONTINUITY');
  });

  it('refuses a reshare whose previous does not match the key held exactly', () => {
    const p = reshare();
    expect(refusal(() => verifyPlan(p, approve(p), ctx({ current: held(3) }))).code).toBe('E_EPOCH_DISCONTINUITY');
    expect(refusal(() => verifyPlan(p, approve(p), ctx({ current: held(4, parties, 3) }))).code).toBe('E_EPOCH_DISCONTINUITY');
    expect(refusal(() => verifyPlan(p, approve(p), ctx({ current: held(4, [...parties, party(4)]) }))).code).toBe('E_EPOCH_DISCONTINUITY');
    const e = refusal(() => verifyPlan(p, approve(p), ctx({ current: held(4, [parties[0]!, parties[1]!, party(3)]) })));
    expect(e.code).toBe('E_IDENTITY_MISMATCH');
    expect(e.message).toMatch(/previous\.parties: party 3/);
  });
});
