/**
 * The operator's count of MpcApprovals: only valid Ed25519 signatures over this plan's hash, by
 * approvers some party knows, one per approver; the plan starts only when every party's quorum is met.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { approverPublicKeyHex, signApproval } from '../api/index.ts';
import { tallyOf } from './approvals.ts';

const keys = (): KeyObject[] => [0, 1, 2].map(() => generateKeyPairSync('ed25519').privateKey);
const eu = keys();
const us = keys();
const outsider = generateKeyPairSync('ed25519').privateKey;
const pub = (k: KeyObject): string => approverPublicKeyHex(k);
const planHash = randomBytes(32).toString('hex');
const otherPlan = randomBytes(32).toString('hex');
const sets = [
  { name: 'eu-west/vault/a', keys: eu.map(pub), quorum: 2 },
  { name: 'us-east/vault/b', keys: us.map(pub), quorum: 2 },
];
const item = (spec: unknown): { spec: unknown } => ({ spec });

describe('tallyOf', () => {
  it('meets the quorum only when every party\'s set has its quorum', () => {
    const two = [item(signApproval(planHash, eu[0]!)), item(signApproval(planHash, eu[1]!))];
    const half = tallyOf(two, planHash, sets);
    expect(half).toMatchObject({ quorumMet: false, rejected: 0, short: 'us-east/vault/b has 0 of 2' });
    expect(half.approvals).toHaveLength(2);
    const all = tallyOf([...two, item(signApproval(planHash, us[2]!)), item(signApproval(planHash, us[0]!))], planHash, sets);
    expect(all).toMatchObject({ quorumMet: true, rejected: 0, short: '' });
    expect(all.approvals.map((a) => a.approver)).toEqual([eu[0]!, eu[1]!, us[2]!, us[0]!].map(pub).sort());
  });

  it('counts an approver once however many objects it signed', () => {
    const a = signApproval(planHash, eu[0]!);
    const t = tallyOf([item(a), item({ ...a }), item(signApproval(planHash, eu[0]!))], planHash, sets);
    expect(t.approvals).toHaveLength(1);
    expect(t.short).toBe('eu-west/vault/a has 1 of 2; us-east/vault/b has 0 of 2');
  });

  it('rejects a bad signature by a real approver and a valid one by an unknown key; they count for nothing', () => {
    const good = signApproval(planHash, eu[0]!);
    const forged = { ...signApproval(planHash, eu[1]!), signature: signApproval(otherPlan, eu[1]!).signature };
    const unknown = signApproval(planHash, outsider);
    const t = tallyOf([item(good), item(forged), item(unknown)], planHash, sets);
    expect(t.rejected).toBe(2);
    expect(t.approvals.map((a) => a.approver)).toEqual([pub(eu[0]!)]);
    expect(t.quorumMet).toBe(false);
  });

  it('ignores approvals of other plans and objects that are not approvals', () => {
    const t = tallyOf([item(signApproval(otherPlan, eu[0]!)), item({ planHash }), item(undefined), item({ ...signApproval(planHash, eu[1]!), planHash: 'zz' })], planHash, sets);
    expect(t).toMatchObject({ approvals: [], rejected: 0, quorumMet: false });
  });

  it('never meets a quorum when no party\'s approver set is known', () => {
    const t = tallyOf([item(signApproval(planHash, eu[0]!)), item(signApproval(planHash, eu[1]!))], planHash, []);
    expect(t).toMatchObject({ quorumMet: false, short: 'no party\'s approver set is known' });
  });
});
