import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SIM_ROUND_TIMEOUT_MS } from '../../test/support/timeouts.ts';
import { randomBelow } from '../arith/index.ts';
import { CURVE_ORDER, mulG, mulPointPublic } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';
import { decodeValue } from '../transcript/index.ts';
import { corruptSession, type Behaviour, type SessionTamper } from '../sim/adversary.ts';
import { reshareDealOfConstant } from '../sim/dishonest-dealer.ts';
import { corruptWrap, runSession, simGroup, type Outcome, type SimGroup } from '../sim/run.ts';
import { ProtocolAbort } from './abort.ts';
import { verifyAbortEvidence } from './evidence.ts';
import type { KeyShare } from './key-share.ts';
import { keygen } from './keygen.ts';
import { lagrangeAtZero, modInverseQ } from './polynomial.ts';
import { refresh } from './refresh.ts';
import { readReshareDeal, reshare, RESHARE_ROUNDS, reshareParticipants, type ResharePlan } from './reshare.ts';
import type { Session } from './session.ts';

const TIMEOUT_MS = SIM_ROUND_TIMEOUT_MS;

interface Key {
  /** Identities of every party any test uses, old and new. */
  readonly group: SimGroup;
  readonly shares: Map<number, KeyShare>;
}

interface Change {
  readonly dealers: number[];
  readonly newParties: number[];
  readonly newThreshold: number;
}

/** The same identities, limited to a session's participants (evidence checkers know exactly those). */
function restrict(group: SimGroup, parties: readonly number[]): SimGroup {
  return {
    signers: new Map([...group.signers].filter(([p]) => parties.includes(p))),
    identities: new Map([...group.identities].filter(([p]) => parties.includes(p))),
  };
}

function values<T>(outcomes: Map<number, Outcome<T>>): Map<number, T> {
  return new Map(
    [...outcomes].map(([p, o]) => {
      if (!o.ok) throw o.error;
      return [p, o.value] as const;
    }),
  );
}

/** A 2-of-3 key of parties 1–3; party 4 has an identity but no share. */
async function startingKey(): Promise<Key> {
  const group = simGroup([1, 2, 3, 4]);
  const parties = [1, 2, 3];
  const shares = values(
    await runSession({ protocol: 'keygen', group: restrict(group, parties), parties }, (s) => keygen(s, { keyId: 'test-key', threshold: 2 })),
  );
  return { group, shares };
}

function planOf(key: Key, change: Change): ResharePlan {
  const pub = key.shares.get(1)!.public;
  return {
    keyId: pub.keyId,
    oldEpoch: pub.epoch,
    publicKey: pub.publicKey,
    chainCode: pub.chainCode,
    oldThreshold: pub.threshold,
    oldParties: pub.parties,
    oldPublicShares: pub.publicShares,
    ...change,
  };
}

function copyShare(share: KeyShare): KeyShare {
  const pub = share.public;
  return {
    public: { ...pub, parties: [...pub.parties], publicShares: [...pub.publicShares], chainCode: pub.chainCode.slice() },
    secret: { ...share.secret },
  };
}

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

type Corruption = { readonly channel: (sid: Uint8Array) => Behaviour } | { readonly tamper: (sid: Uint8Array) => SessionTamper };

async function runReshare(key: Key, plan: ResharePlan, corrupt?: { party: number } & Corruption) {
  const sid = randomBytes(32);
  const parties = reshareParticipants(plan);
  const group = restrict(key.group, parties);
  const wrap = corrupt && 'channel' in corrupt ? corruptWrap(group, parties, corrupt.party, corrupt.channel(sid)) : undefined;
  const tamper = corrupt && 'tamper' in corrupt ? corrupt.tamper(sid) : undefined;
  const wrapSession = tamper ? (p: number, s: Session) => (p === corrupt?.party ? corruptSession(s, tamper) : s) : undefined;
  const outcomes = await runSession(
    {
      protocol: 'reshare',
      group,
      parties,
      sid,
      timeoutMs: TIMEOUT_MS,
      awaitParties: parties.filter((p) => p !== corrupt?.party),
      ...(wrap ? { wrap } : {}),
      ...(wrapSession ? { wrapSession } : {}),
    },
    (s) => {
      const self = s.params.self;
      return reshare(s, plan.dealers.includes(self) ? { ...plan, share: key.shares.get(self)! } : plan);
    },
  );
  return { outcomes, group };
}

function expectReshared(key: Key, plan: ResharePlan, fresh: Map<number, KeyShare | undefined>): Map<number, KeyShare> {
  const old = key.shares.get(1)!.public;
  const holders = new Map<number, KeyShare>();
  for (const [p, s] of fresh) {
    if (!plan.newParties.includes(p)) {
      expect(s, `party ${p} leaves and keeps nothing`).toBeUndefined();
      continue;
    }
    expect(s).toBeDefined();
    holders.set(p, s!);
  }
  const pub = holders.get(plan.newParties[0]!)!.public;
  for (const [p, s] of holders) {
    expect(s.public.publicKey.equals(old.publicKey)).toBe(true);
    expect(s.public.epoch).toBe(old.epoch + 1);
    expect(s.public.threshold).toBe(plan.newThreshold);
    expect(s.public.parties).toEqual(plan.newParties);
    expect(Buffer.from(s.public.chainCode).equals(Buffer.from(old.chainCode))).toBe(true);
    expect(s.public.aux).toBeUndefined();
    expect(s.secret.index).toBe(p);
    expect(s.public.publicShares.every((X, k) => X.equals(pub.publicShares[k]!))).toBe(true);
    expect(mulG(s.secret.x).equals(s.public.publicShares[plan.newParties.indexOf(p)]!)).toBe(true);
    const before = key.shares.get(p);
    if (before) expect(s.secret.x).not.toBe(before.secret.x);
  }
  for (const subset of subsets(plan.newParties, plan.newThreshold)) {
    const newShares = subset.map((p) => holders.get(p)!.secret);
    expect(mulG(interpolate(newShares)).equals(old.publicKey)).toBe(true);
    // An old share in place of a new one does not give the key's secret.
    const oldHolder = subset.find((p) => key.shares.has(p));
    if (oldHolder !== undefined) {
      const mixed = newShares.map((s) => (s.index === oldHolder ? key.shares.get(oldHolder)!.secret : s));
      expect(mulG(interpolate(mixed)).equals(old.publicKey)).toBe(false);
    }
  }
  // Fewer than t_new new shares give something else.
  const fewer = plan.newParties.slice(0, plan.newThreshold - 1).map((p) => holders.get(p)!.secret);
  expect(mulG(interpolate(fewer)).equals(old.publicKey)).toBe(false);
  return holders;
}

describe('reshare', () => {
  it('2-of-3 → 2-of-4: party 4 joins (dealers 1, 2)', async () => {
    const key = await startingKey();
    const before = new Map([...key.shares].map(([p, s]) => [p, copyShare(s)] as const));
    const plan = planOf(key, { dealers: [1, 2], newParties: [1, 2, 3, 4], newThreshold: 2 });
    const { outcomes } = await runReshare(key, plan);
    expectReshared(key, plan, values(outcomes));
    expect(key.shares).toEqual(before);
  });

  it('2-of-3 → 3-of-3: party 3 leaves, party 4 joins (dealers 2, 3), and the new key refreshes', async () => {
    const key = await startingKey();
    const before = new Map([...key.shares].map(([p, s]) => [p, copyShare(s)] as const));
    const plan = planOf(key, { dealers: [2, 3], newParties: [1, 2, 4], newThreshold: 3 });
    const { outcomes, group } = await runReshare(key, plan);
    const holders = expectReshared(key, plan, values(outcomes));
    expect(key.shares).toEqual(before);
    // The reshared key is an ordinary key of the new set: refresh takes it to epoch 2.
    const refreshed = values(await runSession({ protocol: 'refresh', group: restrict(group, plan.newParties), parties: plan.newParties }, (s) => refresh(s, holders.get(s.params.self)!)));
    const secret = interpolate(plan.newParties.map((p) => refreshed.get(p)!.secret));
    expect(mulG(secret).equals(plan.publicKey)).toBe(true);
    expect(refreshed.get(1)!.public.epoch).toBe(2);
  });

  describe('refuses', () => {
    async function expectRefused(change: Change, message: RegExp): Promise<void> {
      const key = await startingKey();
      const { outcomes } = await runReshare(key, planOf(key, change));
      for (const o of outcomes.values()) {
        expect(o.ok).toBe(false);
        const error = (o as { error: unknown }).error;
        expect(error).toBeInstanceOf(InvalidInputError);
        expect(String(error)).toMatch(message);
      }
    }

    it('a new threshold of 1', () => expectRefused({ dealers: [1, 2], newParties: [1, 2, 4], newThreshold: 1 }, /2 ≤ t ≤ n/));
    it('more dealers than the old threshold', () => expectRefused({ dealers: [1, 2, 3], newParties: [1, 2, 4], newThreshold: 2 }, /exactly t_old = 2 dealers/));
    it('fewer dealers than the old threshold', () => expectRefused({ dealers: [1], newParties: [1, 2, 4], newThreshold: 2 }, /exactly t_old = 2 dealers/));
    it('a dealer that holds no old share', () => expectRefused({ dealers: [1, 4], newParties: [1, 2, 4], newThreshold: 2 }, /every dealer must be an old holder/));
    it('the same set with the same threshold', () => expectRefused({ dealers: [1, 3], newParties: [1, 2, 3], newThreshold: 2 }, /must change the set of holders or the threshold/));
  });
});

const ADD_FOURTH: Change = { dealers: [1, 2], newParties: [1, 2, 3, 4], newThreshold: 2 };
const SWAP_THIRD: Change = { dealers: [2, 3], newParties: [1, 2, 4], newThreshold: 3 };

async function expectCulprit(change: Change, corrupt: number, corruption: (plan: ResharePlan) => Corruption, reason: string, check: string) {
  const key = await startingKey();
  const before = new Map([...key.shares].map(([p, s]) => [p, copyShare(s)] as const));
  const plan = planOf(key, change);
  const { outcomes, group } = await runReshare(key, plan, { party: corrupt, ...corruption(plan) });
  for (const [p, o] of outcomes) {
    if (p === corrupt) continue;
    expect(o.ok, `party ${p} should abort`).toBe(false);
    const e = (o as { error: unknown }).error;
    expect(e).toBeInstanceOf(ProtocolAbort);
    const abort = e as ProtocolAbort;
    expect(abort.culprits).toEqual([corrupt]);
    expect(abort.reason).toBe(reason);
    expect(abort.evidence?.check).toBe(check);
    expect(verifyAbortEvidence(abort, { identities: group.identities, reshare: plan })).toBe(true);
    // The checker's own plan decides: to one whose X_i makes the dealt constant right, it proves nothing.
    if (check === 'reshare-constant') {
      const S0 = readReshareDeal(decodeValue(abort.evidence!.envelopes[0]!.payload), plan.newThreshold).S[0]!;
      const lambda = lagrangeAtZero(plan.dealers.map(BigInt), BigInt(corrupt));
      const at = plan.oldParties.indexOf(corrupt);
      const other = { ...plan, oldPublicShares: plan.oldPublicShares.map((X, k) => (k === at ? mulPointPublic(S0, modInverseQ(lambda)) : X)) };
      expect(verifyAbortEvidence(abort, { identities: group.identities, reshare: other })).toBe(false);
    }
  }
  expect(key.shares).toEqual(before);
}

const channel = (b: Behaviour) => (): Corruption => ({ channel: () => b });
const field = (m: { value: unknown }, k: string): unknown => (m.value as Record<string, unknown>)[k];
const randomConstant = (): bigint => randomBelow(CURVE_ORDER - 1n) + 1n;

describe('reshare under a corrupt party', () => {
  it('names a dealer whose constant term is not λ_i·X_i, even with a consistent deal', () =>
    expectCulprit(ADD_FOURTH, 2, (plan) => ({ tamper: (sid) => reshareDealOfConstant({ sid, party: 2 }, plan, randomConstant()) }), 'reshare-constant', 'reshare-constant'));

  it('names a leaving dealer whose constant term is wrong', () =>
    expectCulprit(SWAP_THIRD, 3, (plan) => ({ tamper: (sid) => reshareDealOfConstant({ sid, party: 3 }, plan, randomConstant()) }), 'reshare-constant', 'reshare-constant'));

  it('names a dealer whose sub-shares do not match its commitments', () =>
    expectCulprit(
      ADD_FOURTH,
      2,
      channel((m) =>
        m.round === RESHARE_ROUNDS.deal && m.recipient !== 0 ? { value: { sigma: ((field(m, 'sigma') as bigint) + 1n) % CURVE_ORDER } } : undefined,
      ),
      'vss-share',
      'reshare-vss-share',
    ));

  it('names a dealer whose deal does not open its commitment', () =>
    expectCulprit(
      ADD_FOURTH,
      1,
      channel((m) => (m.round === RESHARE_ROUNDS.deal && m.recipient === 0 ? { value: { ...(m.value as object), u: new Uint8Array(32) } as never } : undefined)),
      'commitment-mismatch',
      'reshare-commitment',
    ));

  it('names a dealer that equivocates on its commitment', () =>
    expectCulprit(
      ADD_FOURTH,
      2,
      channel((m) =>
        m.round === RESHARE_ROUNDS.commit && m.recipient === 0
          ? { perRecipient: (to) => (to === 1 ? (m.value as never) : { V: new Uint8Array(32).fill(to), plan: field(m, 'plan') as Uint8Array }) }
          : undefined,
      ),
      'equivocation',
      'equivocation',
    ));

  it('names a joining party that announces another plan', () =>
    expectCulprit(
      ADD_FOURTH,
      4,
      channel((m) => (m.round === RESHARE_ROUNDS.commit && m.recipient === 0 ? { value: { plan: new Uint8Array(32) } } : undefined)),
      'malformed-message',
      'reshare-plan',
    ));

  it('names a new holder with an invalid Schnorr proof of its new share', () =>
    expectCulprit(
      ADD_FOURTH,
      4,
      channel((m) =>
        m.round === RESHARE_ROUNDS.confirm && m.recipient === 0 ? { value: { ...(m.value as object), z: ((field(m, 'z') as bigint) + 1n) % CURVE_ORDER } as never } : undefined,
      ),
      'invalid-proof',
      'reshare-sch',
    ));

  it('names a new holder that confirms another result than the majority', () =>
    expectCulprit(
      ADD_FOURTH,
      3,
      channel((m) => (m.round === RESHARE_ROUNDS.confirm && m.recipient === 0 ? { value: { ...(m.value as object), h: new Uint8Array(32) } as never } : undefined)),
      'malformed-message',
      'reshare-transcript',
    ));
});
