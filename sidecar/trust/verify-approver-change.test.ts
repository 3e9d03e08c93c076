import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { approverChangeHashHex, approverPublicKeyHex, approverSetHash, makeApproverSet, signApproval, type ApproverChange, type ApproverSet } from '../../api/index.ts';
import { TrustError } from './errors.ts';
import { verifyApproverChange } from './verify-approver-change.ts';

const keys = (n: number): KeyObject[] => Array.from({ length: n }, () => generateKeyPairSync('ed25519').privateKey);
const setOf = (ks: readonly KeyObject[], quorum: number): ApproverSet => makeApproverSet(ks.map((k) => approverPublicKeyHex(k)), quorum);

const current = keys(3);
const next = keys(2);
const now = new Date('2026-05-04T12:00:00Z');
const change = (over: Partial<ApproverChange> = {}): ApproverChange => ({
  version: 1,
  kind: 'approver-change',
  from: setOf(current, 2),
  to: setOf(next, 2),
  expiresAt: '2026-05-05T00:00:00Z',
  nonce: randomBytes(32).toString('hex'),
  ...over,
});
const sign = (c: ApproverChange, ks: readonly KeyObject[]) => ks.map((k) => signApproval(approverChangeHashHex(c), k));
const ctx = (c: ApproverChange, over: object = {}) => ({ pinned: approverSetHash(c.from), now, ...over });

function refusal(f: () => unknown): TrustError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TrustError);
    return e as TrustError;
  }
  throw new Error('expected a refusal');
}

describe('verifyApproverChange', () => {
  it('accepts a quorum of the current set and a quorum of the new set', () => {
    const c = change();
    const v = verifyApproverChange(c, [...sign(c, current.slice(1)), ...sign(c, next)], ctx(c));
    expect(v.toHash).toEqual(approverSetHash(c.to));
    expect(v.hashHex).toBe(approverChangeHashHex(c));
  });

  it('refuses without a quorum on either side', () => {
    const c = change();
    expect(refusal(() => verifyApproverChange(c, [...sign(c, current.slice(0, 1)), ...sign(c, next)], ctx(c))).message).toMatch(/1 valid approval\(s\) of the current approvers, 2 needed/);
    expect(refusal(() => verifyApproverChange(c, [...sign(c, current), ...sign(c, next.slice(0, 1))], ctx(c))).message).toMatch(/of the new approvers, 2 needed/);
  });

  it('refuses a forged approval, one for another document and one from a key in neither set', () => {
    const c = change();
    const good = [...sign(c, current.slice(0, 2)), ...sign(c, next)];
    const forged = [...good.slice(0, 3), { ...good[3]!, signature: good[2]!.signature }];
    expect(refusal(() => verifyApproverChange(c, forged, ctx(c))).code).toBe('E_APPROVAL_INVALID');
    const other = change();
    expect(refusal(() => verifyApproverChange(c, [...good, ...sign(other, current.slice(2))], ctx(c))).message).toMatch(/approved change [0-9a-f]{16}…, not this change/);
    expect(refusal(() => verifyApproverChange(c, [...good, ...sign(c, keys(1))], ctx(c))).message).toMatch(/is not in the current or the new approver set/);
  });

  it('refuses a change of another set than the one pinned, an expired change, and a change to the same set', () => {
    const c = change();
    const approvals = [...sign(c, current), ...sign(c, next)];
    expect(refusal(() => verifyApproverChange(c, approvals, ctx(c, { pinned: approverSetHash(c.to) }))).code).toBe('E_TRUST_ANCHOR_MISMATCH');
    expect(refusal(() => verifyApproverChange(c, approvals, ctx(c, { now: new Date('2026-05-06T00:00:00Z') }))).code).toBe('E_PLAN_EXPIRED');
    expect(verifyApproverChange(c, approvals, ctx(c, { now: new Date('2026-05-06T00:00:00Z'), allowExpired: true })).hashHex).toBe(approverChangeHashHex(c));
    const same = change({ to: setOf(current, 2) });
    expect(refusal(() => verifyApproverChange(same, [], ctx(same))).message).toMatch(/to: is the same approver set as from/);
  });
});
