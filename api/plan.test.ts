import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { p256 } from '@noble/curves/nist.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { ContractError } from './canonical.ts';
import { parsePlan, planHash, planHashHex, type Plan } from './plan.ts';

const identity = (): string => bytesToHex(p256.getPublicKey(p256.utils.randomSecretKey(), true));
const party = (i: number, key = identity()) => ({ index: i, name: `eu-west/vault/party-${i}`, identityKey: key, endpoint: `https://party-${i}.example:8443` });
const parties = [party(1), party(2), party(3)];

function keygen(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    protocol: 'keygen',
    keyId: 'treasury-1',
    epoch: 0,
    threshold: 2,
    parties,
    presignPool: 10,
    expiresAt: '2030-01-01T00:00:00Z',
    nonce: randomBytes(32).toString('hex'),
    ...over,
  };
}

function reshare(over: Record<string, unknown> = {}): Record<string, unknown> {
  return keygen({
    protocol: 'reshare',
    epoch: 3,
    threshold: 3,
    // Parties 2 and 3 stay with their numbers, 1 leaves, 4 and 5 join.
    parties: [parties[1]!, parties[2]!, party(4), party(5)],
    previous: { epoch: 2, threshold: 2, parties, dealers: [1, 3] },
    ...over,
  });
}

function refusal(v: unknown): string {
  try {
    parsePlan(v);
  } catch (e) {
    expect(e).toBeInstanceOf(ContractError);
    expect((e as ContractError).code).toBe('E_PLAN_INVALID');
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('plan schema', () => {
  it('round-trips every protocol through JSON unchanged, with the same hash', () => {
    const plans = [
      keygen(),
      keygen({ protocol: 'refresh', epoch: 1 }),
      reshare(),
      keygen({ protocol: 'policy', epoch: 4, policy: { version: 1, allowedPaths: ['m/0/*'], rateLimits: { perHour: 10 } } }),
    ];
    for (const p of plans) {
      const parsed = parsePlan(JSON.parse(JSON.stringify(p)));
      expect(parsed).toEqual(p);
      expect(planHash(parsed)).toEqual(planHash(p as Plan));
    }
  });

  it('refuses t = 1 as a single point of compromise', () => {
    expect(refusal(keygen({ threshold: 1 }))).toMatch(/threshold: 1 refused.*single point of compromise/);
  });

  it('refuses t > n and a non-integer t', () => {
    expect(refusal(keygen({ threshold: 4 }))).toMatch(/threshold: 4 exceeds the 3 parties/);
    expect(refusal(keygen({ threshold: 2.5 }))).toMatch(/threshold/);
  });

  it('refuses a duplicate identity key, name or endpoint', () => {
    expect(refusal(keygen({ parties: [parties[0], party(2, parties[0]!.identityKey), parties[2]] }))).toMatch(/parties\[1\]\.identityKey: duplicates parties\[0\]\.identityKey/);
    expect(refusal(keygen({ parties: [parties[0], { ...parties[1], name: parties[0]!.name }, parties[2]] }))).toMatch(/parties\[1\]\.name/);
    // Another spelling of the same URL (host case, default port, trailing slash) is the same endpoint.
    const a = { ...parties[0], endpoint: 'https://Party-A.example' };
    const b = { ...parties[1], endpoint: 'https://party-a.example:443/' };
    expect(refusal(keygen({ parties: [a, b, parties[2]] }))).toMatch(/parties\[1\]\.endpoint: duplicates/);
  });

  it('refuses endpoints that are not plain https URLs', () => {
    const withEndpoint = (endpoint: string) => keygen({ parties: [{ ...parties[0], endpoint }, parties[1], parties[2]] });
    expect(refusal(withEndpoint('http://party-1.example'))).toMatch(/parties\[0\]\.endpoint: must use https/);
    expect(refusal(withEndpoint('https://user:pw@party-1.example'))).toMatch(/credentials/);
    expect(refusal(withEndpoint('https://party-1.example/?x=1'))).toMatch(/query or fragment/);
    expect(refusal(withEndpoint('party-1.example'))).toMatch(/not a URL/);
    expect(refusal(withEndpoint('https://party-1.example/\u001b[31m'))).toMatch(/printable ASCII/);
  });

  it('refuses unknown fields at the top, in a party and in previous', () => {
    expect(refusal(keygen({ comment: 'hi' }))).toMatch(/comment/);
    expect(refusal(keygen({ parties: [{ ...parties[0], role: 'admin' }, parties[1], parties[2]] }))).toMatch(/role/);
    const r = reshare();
    expect(refusal({ ...r, previous: { ...(r.previous as object), note: 1 } })).toMatch(/note/);
  });

  it('refuses a keygen whose parties are not numbered 1..n in order', () => {
    expect(refusal(keygen({ parties: [parties[0], { ...parties[2], index: 3 }, { ...parties[1], index: 2 }] }))).toMatch(/parties\[1\]\.index: must be 2/);
    expect(refusal(keygen({ parties: [{ ...parties[0], index: 0 }, parties[1], parties[2]] }))).toMatch(/parties\[0\]\.index/);
    expect(refusal(keygen({ parties: [parties[0], parties[1], { ...parties[2], index: 4 }] }))).toMatch(/parties\[2\]\.index: must be 3/);
  });

  it('lets later plans keep the numbers a key has after a party left, ascending', () => {
    const gapped = [parties[0]!, { ...parties[2]!, index: 3 }, { ...party(4) }];
    expect(parsePlan(keygen({ protocol: 'refresh', epoch: 2, parties: gapped })).parties.map((p) => p.index)).toEqual([1, 3, 4]);
    expect(refusal(keygen({ protocol: 'refresh', epoch: 2, parties: [gapped[1], gapped[0], gapped[2]] }))).toMatch(/parties\[1\]\.index: party numbers must be strictly ascending/);
    expect(refusal(keygen({ protocol: 'refresh', epoch: 2, parties: [gapped[0], gapped[1], { ...gapped[2], index: 3 }] }))).toMatch(/strictly ascending/);
    expect(refusal(keygen({ protocol: 'refresh', epoch: 2, parties: [gapped[0], gapped[1], { ...gapped[2], index: 1025 }] }))).toMatch(/parties\.2\.index|parties\[2\]\.index/);
  });

  it("keeps each staying party's number through a reshare and gives newcomers unused ones", () => {
    const r = reshare();
    const [two, three, four, five] = r.parties as ReturnType<typeof party>[];
    // A staying party renumbered would be evaluated at another point: its share would not fit.
    expect(refusal(reshare({ parties: [{ ...two!, index: 1 }, three, four, five] }))).toMatch(/parties\[0\]\.index: must stay 2/);
    // A newcomer under a previous party's number would take over that party's point.
    expect(refusal(reshare({ parties: [{ ...parties[0]!, identityKey: identity() }, two, three, four] }))).toMatch(/parties\[0\]\.index: 1 belongs to another previous party/);
    expect(refusal(reshare({ threshold: 2, parties }))).toMatch(/parties: a reshare must change the parties or the threshold/);
    expect(parsePlan(reshare({ threshold: 3, parties })).threshold).toBe(3);
    expect(parsePlan(reshare({ threshold: 2, parties: [parties[0], parties[1]] })).parties).toHaveLength(2);
  });

  it('refuses malformed identity keys, key ids, nonces and expiries', () => {
    expect(refusal(keygen({ parties: [{ ...parties[0], identityKey: parties[0]!.identityKey.toUpperCase() }, parties[1], parties[2]] }))).toMatch(/identityKey/);
    expect(refusal(keygen({ parties: [{ ...parties[0], identityKey: '02' + 'ff'.repeat(32) }, parties[1], parties[2]] }))).toMatch(/not a point on P-256/);
    expect(refusal(keygen({ keyId: '../etc' }))).toMatch(/keyId/);
    expect(refusal(keygen({ keyId: 'k'.repeat(65) }))).toMatch(/keyId/);
    expect(refusal(keygen({ nonce: 'AB'.repeat(32) }))).toMatch(/nonce/);
    expect(refusal(keygen({ expiresAt: '2026-02-30T00:00:00Z' }))).toMatch(/expiresAt/);
    expect(refusal(keygen({ expiresAt: '2026-05-01T12:00:00+02:00' }))).toMatch(/expiresAt/);
    expect(refusal(keygen({ expiresAt: '2026-05-01' }))).toMatch(/expiresAt/);
    expect(refusal(keygen({ presignPool: 1001 }))).toMatch(/presignPool/);
    expect(refusal(keygen({ version: 2 }))).toMatch(/version/);
  });

  it('ties the epoch to the protocol', () => {
    expect(refusal(keygen({ epoch: 1 }))).toMatch(/epoch: must be 0 for keygen/);
    expect(refusal(keygen({ protocol: 'refresh', epoch: 0 }))).toMatch(/epoch: must be at least 1/);
  });

  it('requires a policy in policy plans and allows an initial one in a keygen or reshare, never in a refresh', () => {
    expect(refusal(keygen({ protocol: 'policy', epoch: 2 }))).toMatch(/policy: is required/);
    expect(parsePlan(keygen({ policy: { version: 1, allowedPaths: ['m/0/*'] } })).policy).toEqual({ version: 1, allowedPaths: ['m/0/*'] });
    expect(refusal(keygen({ protocol: 'refresh', epoch: 1, policy: { version: 1, allowedPaths: [] } }))).toMatch(/policy: is not allowed in a refresh/);
    expect(parsePlan(reshare({ policy: { version: 1, allowedPaths: ['m'] } })).policy).toEqual({ version: 1, allowedPaths: ['m'] });
  });

  it('requires previous exactly in reshare plans, with exactly t_old dealers among the old parties', () => {
    expect(refusal(keygen({ protocol: 'reshare', epoch: 1 }))).toMatch(/previous: is required/);
    expect(refusal(keygen({ protocol: 'refresh', epoch: 1, previous: { epoch: 0, threshold: 2, parties, dealers: [1, 2] } }))).toMatch(/previous: is only allowed/);
    const prev = reshare().previous as Record<string, unknown>;
    expect(refusal(reshare({ previous: { ...prev, dealers: [1] } }))).toMatch(/exactly previous\.threshold = 2 dealers, not 1/);
    expect(refusal(reshare({ previous: { ...prev, dealers: [1, 4] } }))).toMatch(/previous\.dealers\[1\]: 4 is not one of the previous parties \(1,2,3\)/);
    expect(refusal(reshare({ previous: { ...prev, dealers: [3, 1] } }))).toMatch(/strictly ascending/);
    expect(refusal(reshare({ previous: { ...prev, epoch: 1 } }))).toMatch(/previous\.epoch: must be 2/);
    expect(refusal(reshare({ previous: { ...prev, threshold: 1, dealers: [1] } }))).toMatch(/previous\.threshold: 1 refused/);
  });
});

describe('plan hash', () => {
  const base = keygen() as Plan;

  it('is 32 bytes, lowercase hex in planHashHex, and independent of key order', () => {
    const reordered = Object.fromEntries(Object.entries(base).reverse()) as Plan;
    expect(planHash(base)).toHaveLength(32);
    expect(planHashHex(reordered)).toBe(planHashHex(base));
    expect(planHashHex(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when any field changes', () => {
    const variants: Record<string, unknown>[] = [
      { protocol: 'refresh', epoch: 1 },
      { keyId: 'treasury-2' },
      { threshold: 3 },
      { parties: [parties[0], parties[1], party(3)] },
      { parties: [parties[0], parties[1], { ...parties[2], name: 'renamed' }] },
      { parties: [parties[0], parties[1], { ...parties[2], endpoint: 'https://elsewhere.example' }] },
      { parties: [parties[1], parties[0], parties[2]].map((p, i) => ({ ...p!, index: i + 1 })) },
      { presignPool: 11 },
      { expiresAt: '2030-01-01T00:00:01Z' },
      { nonce: randomBytes(32).toString('hex') },
    ];
    const hashes = new Set([planHashHex(base), ...variants.map((v) => planHashHex({ ...base, ...v } as Plan))]);
    expect(hashes.size).toBe(variants.length + 1);
    const without: Record<string, unknown> = { ...base };
    delete without.presignPool;
    expect(planHashHex(without as Plan)).not.toBe(planHashHex(base));
  });

  it('refuses to hash something that is not a valid plan', () => {
    expect(() => planHash({ ...base, threshold: 1 })).toThrow(/E_PLAN_INVALID/);
  });
});
