/**
 * Signer-set selection and the quarantine of sets that keep aborting unattributed (issue 10
 * item 4): the candidate order, the windowed count, the quarantine and its growth, the switch
 * events, and the clear failure when no set is left.
 */
import { describe, expect, it } from 'vitest';
import {
  candidateSets,
  chooseSigners,
  defaultSignerSet,
  MAX_TRACKED_SETS,
  QUARANTINE_AFTER,
  QUARANTINE_MAX_MS,
  QUARANTINE_MS,
  REOFFENCE_MEMORY_MS,
  SignerSets,
  SignersUnavailable,
  UNATTRIBUTED_WINDOW_MS,
  type SwitchReason,
} from './signer-sets.ts';

const UNATTRIBUTED = { culprits: [], reason: 'unattributed' } as const;
const TWO_OF_THREE = { parties: [1, 2, 3], threshold: 2 };

function harness() {
  let now = 1_000_000;
  const switches: { keyId: string; from: string; to: string; reason: SwitchReason }[] = [];
  const quarantines: { signers: string; until: number; strikes: number }[] = [];
  const counted: string[] = [];
  const sets = new SignerSets({
    now: () => now,
    events: {
      unattributed: (keyId, signers, protocol) => counted.push(`${keyId}:${signers.join(',')}:${protocol}`),
      quarantined: (_keyId, signers, until, strikes) => quarantines.push({ signers: signers.join(','), until, strikes }),
      switched: (keyId, from, to, reason) => switches.push({ keyId, from: from.join(','), to: to.join(','), reason }),
    },
  });
  const abort = (signers: number[], times = 1, keyId = 'k'): void => {
    for (let i = 0; i < times; i++) sets.recordAbort(keyId, signers, 'presign', UNATTRIBUTED);
  };
  return { sets, abort, switches, quarantines, counted, advance: (ms: number) => void (now += ms), now: () => now };
}

describe('candidate signer sets', () => {
  it('starts with the default set (self and the next t−1 in ring order), then the others with self', () => {
    expect(defaultSignerSet([1, 2, 3], 2, 1)).toEqual([1, 2]);
    expect(defaultSignerSet([1, 2, 3], 2, 3)).toEqual([1, 3]);
    expect([...candidateSets([1, 2, 3], 2, 1)]).toEqual([[1, 2], [1, 3]]);
    expect([...candidateSets([1, 2, 3], 2, 3)]).toEqual([[1, 3], [2, 3]]);
    const five = [...candidateSets([1, 2, 3, 4, 5], 3, 4)];
    expect(five[0]).toEqual(defaultSignerSet([1, 2, 3, 4, 5], 3, 4));
    // Every 3-subset of 5 holders with party 4, once each: C(4, 2) = 6.
    expect(five).toHaveLength(6);
    expect(new Set(five.map((s) => s.join(','))).size).toBe(6);
    for (const s of five) expect(s).toContain(4);
  });

  it('leaves unavailable parties out before any set is tried (the hook issue 11 fills)', () => {
    expect([...candidateSets([1, 2, 3], 2, 1, new Set([2]))]).toEqual([[1, 3]]);
    expect([...candidateSets([1, 2, 3], 2, 1, new Set([2, 3]))]).toEqual([]);
  });

  it('refuses a self that holds no share and a threshold that does not fit', () => {
    expect(() => [...candidateSets([1, 2, 3], 2, 4)]).toThrow(/not a holder/);
    expect(() => defaultSignerSet([1, 2, 3], 4, 1)).toThrow(/threshold/);
  });

  it('chooses the first set the predicate does not skip, saying what it skipped', () => {
    const c = chooseSigners({ parties: [1, 2, 3], threshold: 2, self: 1, skip: (s) => (s.includes(2) ? 'quarantined' : undefined) });
    expect(c).toEqual({ signers: [1, 3], skipped: [{ signers: [1, 2], reason: 'quarantined' }] });
    expect(chooseSigners({ parties: [1, 2, 3], threshold: 2, self: 1, skip: () => 'quarantined' }).signers).toBeUndefined();
  });
});

describe('signer-set quarantine', () => {
  it('counts only aborts that name nobody and are not timeouts', () => {
    const { sets, counted } = harness();
    expect(sets.recordAbort('k', [1, 2], 'presign', { culprits: [2], reason: 'invalid-proof' })).toBe(false);
    expect(sets.recordAbort('k', [1, 2], 'presign', { culprits: [], reason: 'timeout' })).toBe(false);
    expect(sets.recordAbort('k', [1, 2], 'sign', UNATTRIBUTED)).toBe(true);
    expect(counted).toEqual(['k:1,2:sign']);
  });

  it(`with 2-of-3 and a griefer among {1, 2}: after ${QUARANTINE_AFTER} unattributed aborts party 1 signs with {1, 3}`, () => {
    const { sets, abort, switches, quarantines, now } = harness();
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 2]);
    abort([1, 2], QUARANTINE_AFTER - 1);
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 2]);
    abort([1, 2]);
    expect(quarantines).toEqual([{ signers: '1,2', until: now() + QUARANTINE_MS, strikes: 1 }]);
    expect(sets.quarantinedUntil('k', [1, 2])).toBe(now() + QUARANTINE_MS);
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 3]);
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 3]);
    expect(switches).toEqual([{ keyId: 'k', from: '1,2', to: '1,3', reason: 'quarantined' }]);
    expect(sets.quarantinedCounts()).toEqual(new Map([['k', 1]]));
    // Party 3's default set {1, 3} does not hold the griefer: nothing to route around there.
    expect(sets.choose('k', TWO_OF_THREE, 3)).toEqual([1, 3]);
  });

  it('forgets aborts older than the window', () => {
    const { sets, abort, advance } = harness();
    abort([1, 2], QUARANTINE_AFTER - 1);
    advance(UNATTRIBUTED_WINDOW_MS + 1);
    abort([1, 2]);
    expect(sets.quarantinedUntil('k', [1, 2])).toBeUndefined();
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 2]);
  });

  it('keeps sets and keys apart', () => {
    const { sets, abort } = harness();
    abort([1, 2], QUARANTINE_AFTER, 'a');
    abort([1, 3], QUARANTINE_AFTER - 1, 'b');
    expect(sets.choose('a', TWO_OF_THREE, 1)).toEqual([1, 3]);
    expect(sets.choose('b', TWO_OF_THREE, 1)).toEqual([1, 2]);
    expect(sets.quarantinedUntil('b', [1, 2])).toBeUndefined();
  });

  it('releases a set when its quarantine ends, counting the switch back', () => {
    const { sets, abort, advance, switches } = harness();
    sets.choose('k', TWO_OF_THREE, 1);
    abort([1, 2], QUARANTINE_AFTER);
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 3]);
    advance(QUARANTINE_MS);
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 2]);
    expect(switches.map((s) => s.reason)).toEqual(['quarantined', 'recovered']);
    expect(sets.quarantinedCounts()).toEqual(new Map([['k', 0]]));
  });

  it('quarantines a set that comes back to it twice as long each time, up to a day, then forgets', () => {
    const { sets, abort, advance, quarantines, now } = harness();
    const lengths: number[] = [];
    for (let i = 0; i < 8; i++) {
      abort([1, 2], QUARANTINE_AFTER);
      const q = quarantines.at(-1)!;
      expect(q.strikes).toBe(i + 1);
      lengths.push(q.until - now());
      // Back in use the moment it is released, and at once aborting again.
      advance(q.until - now());
      expect(sets.quarantinedUntil('k', [1, 2])).toBeUndefined();
    }
    const hour = 60 * 60_000;
    expect(QUARANTINE_MS).toBe(hour / 2);
    expect(lengths).toEqual([0.5, 1, 2, 4, 8, 16, 24, 24].map((h) => h * hour));
    expect(QUARANTINE_MAX_MS).toBe(24 * hour);
    // Clean for longer than the memory after the last quarantine: the next one is a first again.
    advance(REOFFENCE_MEMORY_MS + 1);
    abort([1, 2], QUARANTINE_AFTER);
    expect(quarantines.at(-1)!.strikes).toBe(1);
    expect(sets.quarantinedUntil('k', [1, 2])).toBe(now() + QUARANTINE_MS);
  });

  it('counts aborts of a set while it is quarantined without extending the quarantine', () => {
    const { sets, abort, quarantines, counted } = harness();
    abort([1, 2], QUARANTINE_AFTER);
    const until = sets.quarantinedUntil('k', [1, 2]);
    abort([1, 2], QUARANTINE_AFTER);
    expect(quarantines).toHaveLength(1);
    expect(sets.quarantinedUntil('k', [1, 2])).toBe(until);
    expect(counted).toHaveLength(2 * QUARANTINE_AFTER);
  });

  it('fails with E_SIGNERS_UNAVAILABLE, naming when the first set is released, once every set with self is quarantined', () => {
    const { sets, abort, now } = harness();
    abort([1, 2], QUARANTINE_AFTER);
    abort([1, 3], QUARANTINE_AFTER);
    let err: unknown;
    try {
      sets.choose('k', TWO_OF_THREE, 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SignersUnavailable);
    expect((err as SignersUnavailable).code).toBe('E_SIGNERS_UNAVAILABLE');
    expect((err as SignersUnavailable).retryAt).toBe(now() + QUARANTINE_MS);
    expect((err as Error).message).toMatch(/all 2 are quarantined/);
    // Party 2 and 3 still have {2, 3}.
    expect(sets.choose('k', TWO_OF_THREE, 3)).toEqual([2, 3]);
    expect(() => sets.choose('k', TWO_OF_THREE, 1, { unavailable: new Set([2, 3]) })).toThrow(/too few holders/);
  });

  it('moves off a set with an unavailable party, counted as "unavailable", and back to it as "recovered"', () => {
    const { sets, switches } = harness();
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 2]);
    expect(sets.choose('k', TWO_OF_THREE, 1, { unavailable: new Set([2]) })).toEqual([1, 3]);
    expect(sets.choose('k', TWO_OF_THREE, 1, { unavailable: new Set([2]) })).toEqual([1, 3]);
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 2]);
    expect(switches).toEqual([
      { keyId: 'k', from: '1,2', to: '1,3', reason: 'unavailable' },
      { keyId: 'k', from: '1,3', to: '1,2', reason: 'recovered' },
    ]);
  });

  it('answers a peek (the key\'s API answer) without recording a switch', () => {
    const { sets, switches } = harness();
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 2]);
    expect(sets.choose('k', TWO_OF_THREE, 1, { unavailable: new Set([2]), peek: true })).toEqual([1, 3]);
    expect(sets.choose('k', TWO_OF_THREE, 1)).toEqual([1, 2]);
    expect(switches).toEqual([]);
  });

  it('goes around both a quarantined set and an unavailable party, and names who is unavailable when nothing is left', () => {
    const { sets, abort } = harness();
    const five = { parties: [1, 2, 3, 4, 5], threshold: 3 };
    abort([1, 2, 3], QUARANTINE_AFTER);
    // The default {1, 2, 3} is quarantined; {1, 2, 4} holds party 4, which is down.
    expect(sets.choose('k', five, 1, { unavailable: new Set([4]) })).toEqual([1, 2, 5]);
    expect(() => sets.choose('k', TWO_OF_THREE, 1, { unavailable: new Set([2, 3]) })).toThrow(/too few holders are available \(unavailable now: parties 2, 3\)/);
  });

  it('does not count a change of holders (a reshare) as a switch', () => {
    const { sets, switches } = harness();
    expect(sets.choose('k', { parties: [1, 2, 3], threshold: 2 }, 1)).toEqual([1, 2]);
    expect(sets.choose('k', { parties: [1, 3, 4], threshold: 2 }, 1)).toEqual([1, 3]);
    expect(switches).toEqual([]);
  });

  it('bounds what it remembers', () => {
    const { sets } = harness();
    for (let i = 0; i < MAX_TRACKED_SETS + 10; i++) sets.recordAbort(`k${i}`, [1, 2], 'presign', UNATTRIBUTED);
    const keys = [...sets.quarantinedCounts().keys()];
    expect(keys.length).toBe(MAX_TRACKED_SETS);
    expect(keys).not.toContain('k0');
  });
});
