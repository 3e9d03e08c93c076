import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SIM_ROUND_TIMEOUT_MS } from '../../test/support/timeouts.ts';
import { CURVE_ORDER, mulG } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';
import { corruptSession, type Behaviour, type SessionTamper } from '../sim/adversary.ts';
import { refreshDealOfConstant } from '../sim/dishonest-dealer.ts';
import { corruptWrap, runSession, simGroup, type Outcome, type SimGroup } from '../sim/run.ts';
import { ProtocolAbort } from './abort.ts';
import { verifyAbortEvidence } from './evidence.ts';
import type { KeyShare } from './key-share.ts';
import { keygen } from './keygen.ts';
import { lagrangeAtZero } from './polynomial.ts';
import { refresh, REFRESH_ROUNDS } from './refresh.ts';
import type { Session } from './session.ts';

const TIMEOUT_MS = SIM_ROUND_TIMEOUT_MS;

interface Key {
  readonly parties: number[];
  readonly group: SimGroup;
  readonly shares: Map<number, KeyShare>;
}

function values<T>(outcomes: Map<number, Outcome<T>>): Map<number, T> {
  return new Map(
    [...outcomes].map(([p, o]) => {
      if (!o.ok) throw o.error;
      return [p, o.value] as const;
    }),
  );
}

async function startingKey(n: number, t: number): Promise<Key> {
  const parties = Array.from({ length: n }, (_, i) => i + 1);
  const group = simGroup(parties);
  const shares = values(await runSession({ protocol: 'keygen', group, parties }, (s) => keygen(s, { keyId: 'test-key', threshold: t })));
  return { parties, group, shares };
}

/** A copy that shares nothing mutable with `share`, to compare against after a run. */
function copyShare(share: KeyShare): KeyShare {
  const pub = share.public;
  return {
    public: { ...pub, parties: [...pub.parties], publicShares: [...pub.publicShares], chainCode: pub.chainCode.slice() },
    secret: { ...share.secret },
  };
}

/** Σ λ_p·x_p over the holders of `shares` (Lagrange at 0 over exactly those holders). */
function interpolate(shares: readonly { index: number; x: bigint }[]): bigint {
  const xs = shares.map((s) => BigInt(s.index));
  return shares.reduce((acc, s) => (acc + lagrangeAtZero(xs, BigInt(s.index)) * s.x) % CURVE_ORDER, 0n);
}

function subsets<T>(xs: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (xs.length < k) return [];
  const [head, ...rest] = xs as [T, ...T[]];
  return [...subsets(rest, k - 1).map((s) => [head, ...s]), ...subsets(rest, k)];
}

/**
 * How the corrupt party deviates: through the adversarial channel, or (`tamper`) as a party that
 * believes its own lie; either is given the session id.
 */
type Corruption = { readonly channel: (sid: Uint8Array) => Behaviour } | { readonly tamper: (sid: Uint8Array) => SessionTamper };

async function runRefresh(key: Key, corrupt?: { party: number } & Corruption, parties: number[] = key.parties) {
  const sid = randomBytes(32);
  const wrap = corrupt && 'channel' in corrupt ? corruptWrap(key.group, parties, corrupt.party, corrupt.channel(sid)) : undefined;
  const tamper = corrupt && 'tamper' in corrupt ? corrupt.tamper(sid) : undefined;
  const wrapSession = tamper ? (p: number, s: Session) => (p === corrupt?.party ? corruptSession(s, tamper) : s) : undefined;
  const honest = parties.filter((p) => p !== corrupt?.party);
  return runSession(
    { protocol: 'refresh', group: key.group, parties, sid, timeoutMs: TIMEOUT_MS, awaitParties: honest, ...(wrap ? { wrap } : {}), ...(wrapSession ? { wrapSession } : {}) },
    (s) => refresh(s, key.shares.get(s.params.self)!),
  );
}

describe('refresh', () => {
  for (const [n, t] of [[3, 2], [5, 3]] as const) {
    it(`${t}-of-${n}: keeps the public key, bumps the epoch and gives every holder a new share of the same secret`, async () => {
      const key = await startingKey(n, t);
      const before = new Map([...key.shares].map(([p, s]) => [p, copyShare(s)] as const));
      const fresh = values(await runRefresh(key));
      const old = key.shares.get(1)!.public;
      const pub = fresh.get(1)!.public;
      for (const [p, s] of fresh) {
        expect(s.public.publicKey.equals(old.publicKey)).toBe(true);
        expect(s.public.epoch).toBe(old.epoch + 1);
        expect(s.public.threshold).toBe(t);
        expect(s.public.parties).toEqual(old.parties);
        expect(s.public.keyId).toBe(old.keyId);
        expect(Buffer.from(s.public.chainCode).equals(Buffer.from(old.chainCode))).toBe(true);
        expect(s.public.aux).toBeUndefined();
        expect(s.public.publicShares.every((X, k) => X.equals(pub.publicShares[k]!))).toBe(true);
        expect(mulG(s.secret.x).equals(s.public.publicShares[p - 1]!)).toBe(true);
        // The share and its public share actually changed.
        expect(s.secret.x).not.toBe(key.shares.get(p)!.secret.x);
        expect(s.public.publicShares[p - 1]!.equals(old.publicShares[p - 1]!)).toBe(false);
      }
      for (const subset of subsets(key.parties, t)) {
        const newShares = subset.map((p) => fresh.get(p)!.secret);
        expect(mulG(interpolate(newShares)).equals(old.publicKey)).toBe(true);
        // DESIGN acceptance: an old-epoch share mixed with new-epoch ones does not give the secret.
        const mixed = [key.shares.get(subset[0]!)!.secret, ...newShares.slice(1)];
        expect(mulG(interpolate(mixed)).equals(old.publicKey)).toBe(false);
      }
      expect(key.shares).toEqual(before);
    });
  }

  it("refuses a session whose parties are not the key's holders", async () => {
    const key = await startingKey(3, 2);
    const outcomes = await runRefresh(key, undefined, [1, 2]);
    for (const o of outcomes.values()) {
      expect(o.ok).toBe(false);
      expect((o as { error: unknown }).error).toBeInstanceOf(InvalidInputError);
      expect(String((o as { error: unknown }).error)).toMatch(/exactly the key's holders/);
    }
  });
});

const CORRUPT = 2;

async function expectCulprit(corruption: Behaviour | Corruption, reason: string, check: string): Promise<void> {
  const key = await startingKey(3, 2);
  const before = new Map([...key.shares].map(([p, s]) => [p, copyShare(s)] as const));
  const outcomes = await runRefresh(key, { party: CORRUPT, ...(typeof corruption === 'function' ? { channel: () => corruption } : corruption) });
  for (const [p, o] of outcomes) {
    if (p === CORRUPT) continue;
    expect(o.ok, `party ${p} should abort`).toBe(false);
    const e = (o as { error: unknown }).error;
    expect(e).toBeInstanceOf(ProtocolAbort);
    const abort = e as ProtocolAbort;
    expect(abort.culprits).toEqual([CORRUPT]);
    expect(abort.reason).toBe(reason);
    expect(abort.evidence?.check).toBe(check);
    expect(verifyAbortEvidence(abort, { identities: key.group.identities, refresh: key.shares.get(p)!.public })).toBe(true);
    expect(key.shares.get(p)).toEqual(before.get(p));
  }
}

const field = (m: { value: unknown }, k: string): unknown => (m.value as Record<string, unknown>)[k];

describe('refresh under a corrupt party', () => {
  it('names a dealer whose sub-share does not match its commitments', () =>
    expectCulprit(
      (m) =>
        m.round === REFRESH_ROUNDS.decommit && m.recipient !== 0 ? { value: { delta: ((field(m, 'delta') as bigint) + 1n) % CURVE_ORDER } } : undefined,
      'vss-share',
      'refresh-vss-share',
    ));

  it('names a dealer whose constant-term commitment is not the identity, even with a consistent deal', () =>
    expectCulprit(
      { tamper: (sid) => refreshDealOfConstant({ sid, party: CORRUPT }, { threshold: 2 }, 12345n) },
      'vss-share',
      'refresh-zero-constant',
    ));

  it('names a dealer whose decommitment does not open its commitment', () =>
    expectCulprit(
      (m) => (m.round === REFRESH_ROUNDS.decommit && m.recipient === 0 ? { value: { ...(m.value as object), u: new Uint8Array(32) } as never } : undefined),
      'commitment-mismatch',
      'refresh-commitment',
    ));

  it('names a holder with an invalid Schnorr proof of its new share', () =>
    expectCulprit(
      (m) => (m.round === REFRESH_ROUNDS.prove && m.recipient === 0 ? { value: { z: ((field(m, 'z') as bigint) + 1n) % CURVE_ORDER } } : undefined),
      'invalid-proof',
      'refresh-sch',
    ));

  it('names a dealer that equivocates on its commitment', () =>
    expectCulprit(
      (m) =>
        m.round === REFRESH_ROUNDS.commit && m.recipient === 0
          ? { perRecipient: (to) => (to === 1 ? (m.value as never) : { V: new Uint8Array(32).fill(to), state: field(m, 'state') as Uint8Array }) }
          : undefined,
      'equivocation',
      'equivocation',
    ));

  it('names a party that claims another state of the key than the majority', () =>
    expectCulprit(
      (m) => (m.round === REFRESH_ROUNDS.commit && m.recipient === 0 ? { value: { ...(m.value as object), state: new Uint8Array(32) } as never } : undefined),
      'malformed-message',
      'refresh-state',
    ));
});
