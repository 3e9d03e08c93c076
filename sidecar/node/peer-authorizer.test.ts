/**
 * Who may make a party's control calls: the parties of the key or plan concerned, as this node
 * knows them, and nobody else — not a party of another key, not a holder outside the signer
 * set, not a caller named only by a plan that does not verify here.
 */
import { describe, expect, it } from 'vitest';
import type { KeyState } from './key-state.ts';
import { PeerAuthorizer, type PeerAuthorizerDeps } from './peer-authorizer.ts';
import type { PlanView, VerifiedPlan } from './plan-view.ts';

const id = (n: number): string => `02${n.toString(16).padStart(64, '0')}`;
const party = (index: number, who = index) => ({ index, name: `party-${who}`, identityKey: id(who), endpoint: `https://127.0.0.1:${7000 + who}` });
const epoch = (n: number, planHash: string, members: number[]) => ({ epoch: n, planHash, publicKey: '02', xpub: 'xpub', threshold: 2, parties: members.map((m) => party(m)) });

const A_HASH = 'aa'.repeat(32);
const RESHARE_HASH = 'bb'.repeat(32);
const KEYGEN_HASH = 'cc'.repeat(32);

/** Key A: parties 1, 2, 3 at epoch 0; key B: parties 3, 4. */
const states: KeyState[] = [
  { keyId: 'key-a', current: epoch(0, A_HASH, [1, 2, 3]), aborted: [], appliedPolicyPlans: [], retiredBelow: 0 },
  { keyId: 'key-b', current: epoch(0, 'dd'.repeat(32), [3, 4]), aborted: [], appliedPolicyPlans: [], retiredBelow: 0 },
];

/** A keygen of key C on parties 5 and 6, accepted here but not run yet (no key state). */
const keygenC: PlanView = { protocol: 'keygen', keyId: 'key-c', epoch: 0, threshold: 2, parties: [party(1, 5), party(2, 6)] };
/** A reshare of key A to parties 2, 3 and newcomer 7, coordinated by 7. */
const reshareA: PlanView = {
  protocol: 'reshare',
  keyId: 'key-a',
  epoch: 1,
  threshold: 2,
  parties: [party(2), party(3), party(7)],
  previous: { epoch: 0, threshold: 2, parties: [party(1), party(2), party(3)], dealers: [2, 3] },
};

function authorizer(over: Partial<PeerAuthorizerDeps> = {}): PeerAuthorizer {
  return new PeerAuthorizer({
    keys: { get: (k) => Promise.resolve(states.find((s) => s.keyId === k)), list: () => Promise.resolve(states) },
    acceptedPlan: (h) => (h === KEYGEN_HASH ? keygenC : undefined),
    acceptedPlansOf: (k) => (k === 'key-c' ? [keygenC] : []),
    coordinatedPlan: () => Promise.resolve(undefined),
    verify: (plan): VerifiedPlan => {
      if (plan !== reshareA) throw Object.assign(new Error('unapproved'), { code: 'E_PLAN_UNAPPROVED' });
      return { plan: reshareA, planHash: new Uint8Array(Buffer.from(RESHARE_HASH, 'hex')) };
    },
    ...over,
  });
}

const refusal = async (p: Promise<unknown> | (() => unknown)): Promise<unknown> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return { code: (e as { code?: string }).code, reason: (e as { reason?: string }).reason };
  }
  return 'allowed';
};

describe('PeerAuthorizer', () => {
  it('lets a holder of the key act on it and refuses a party of another key', async () => {
    const a = authorizer();
    expect(await refusal(a.keyParty(id(2), 'key-a'))).toBe('allowed');
    expect(await refusal(a.keyParty(id(4), 'key-a'))).toEqual({ code: 'E_PEER_NOT_A_PARTY', reason: 'not_a_party' });
    expect(await refusal(a.keyParty(id(4), 'key-z'))).toMatchObject({ code: 'E_UNKNOWN_KEY' });
  });

  it('lets only the signers of the current epoch presign and sign', async () => {
    const a = authorizer();
    expect(await refusal(a.signer(id(1), 'key-a', [1, 2]))).toBe('allowed');
    // A holder of the key outside the signer set, and a signer number of another key.
    expect(await refusal(a.signer(id(3), 'key-a', [1, 2]))).toEqual({ code: 'E_PEER_NOT_A_PARTY', reason: 'not_a_party' });
    expect(await refusal(a.signer(id(4), 'key-a', [1, 4]))).toEqual({ code: 'E_PEER_NOT_A_PARTY', reason: 'not_a_party' });
    expect(await refusal(a.signer(id(5), 'key-c', [1, 2]))).toMatchObject({ code: 'E_UNKNOWN_KEY' });
  });

  it('knows the parties of a plan accepted here before any key state exists', async () => {
    const a = authorizer();
    expect(await refusal(() => a.acceptedPlanMember(id(6), KEYGEN_HASH))).toBe('allowed');
    expect(await refusal(() => a.acceptedPlanMember(id(2), KEYGEN_HASH))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
    expect(await refusal(() => a.acceptedPlanMember(id(6), 'ee'.repeat(32)))).toMatchObject({ code: 'E_UNKNOWN_PLAN' });
    // Its abort may come before any share is pending.
    expect(await refusal(a.keyParty(id(5), 'key-c'))).toBe('allowed');
  });

  it('lets a plan be handed in only by one of the parties it names, dealers included', async () => {
    const a = authorizer();
    expect(await refusal(() => a.planBodyMember(id(7), reshareA))).toBe('allowed');
    // A dealer that leaves is a member of the session too; an old holder that neither deals nor stays is not.
    const leavingDealer = { ...reshareA, parties: [party(3), party(7)], previous: { ...reshareA.previous!, dealers: [1, 2] } };
    expect(await refusal(() => a.planBodyMember(id(1), leavingDealer))).toBe('allowed');
    expect(await refusal(() => a.planBodyMember(id(1), reshareA))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
    for (const garbage of [undefined, null, 'plan', { parties: 'x' }, { protocol: 'keygen', parties: [{ index: 1 }] }]) {
      expect(await refusal(() => a.planBodyMember(id(7), garbage))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
    }
  });

  it('lets a newcomer coordinator retire an old holder only with the reshare plan, verified and of that hash', async () => {
    const a = authorizer();
    const proof = { plan: reshareA, approvals: [] };
    expect(await refusal(a.retirer(id(7), 'key-a', RESHARE_HASH, proof))).toBe('allowed');
    expect(await refusal(a.retirer(id(7), 'key-a', RESHARE_HASH))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
    expect(await refusal(a.retirer(id(7), 'key-a', 'ee'.repeat(32), proof))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
    expect(await refusal(a.retirer(id(7), 'key-a', RESHARE_HASH, { plan: { ...reshareA }, approvals: [] }))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
    expect(await refusal(a.retirer(id(7), 'key-b', RESHARE_HASH, proof))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
    expect(await refusal(a.retirer(id(1), 'key-a', A_HASH))).toBe('allowed');
  });

  it('answers decisions to the parties of the plan only', async () => {
    const a = authorizer({ coordinatedPlan: (h) => Promise.resolve(h === RESHARE_HASH ? reshareA : undefined) });
    expect(await refusal(a.decisionReader(id(3), A_HASH))).toBe('allowed');
    expect(await refusal(a.decisionReader(id(4), A_HASH))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
    expect(await refusal(a.decisionReader(id(7), RESHARE_HASH))).toBe('allowed');
    expect(await refusal(a.decisionReader(id(7), 'ee'.repeat(32)))).toMatchObject({ code: 'E_UNKNOWN_PLAN' });
  });

  it('takes an audit head only from a holder of a key here, naming itself', async () => {
    const a = authorizer();
    expect(await refusal(a.headSender(id(4), id(4)))).toBe('allowed');
    expect(await refusal(a.headSender(id(4), id(3)))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
    expect(await refusal(a.headSender(id(9), id(9)))).toMatchObject({ code: 'E_PEER_NOT_A_PARTY' });
  });
});
