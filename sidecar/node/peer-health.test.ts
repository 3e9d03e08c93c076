/**
 * Which co-signers signing may ask now (issue 11 item 1): a peer that gave no answer to a call is
 * left out for EXCLUSION_MS or until the reachability probe hears from it with a ping sent after
 * the failure; one the probe cannot reach is left out until it answers; and the result, fed to
 * SignerSets.choose, moves a 2-of-3 key's signer set off a party that is down and back to it.
 */
import { describe, expect, it } from 'vitest';
import { EXCLUSION_MS, PeerHealth } from './peer-health.ts';
import { SignerSets, type SwitchReason } from './signer-sets.ts';

const P1 = { index: 1, identityKey: '01'.repeat(33) };
const P2 = { index: 2, identityKey: '02'.repeat(33) };
const P3 = { index: 3, identityKey: '03'.repeat(33) };
const HOLDERS = [P1, P2, P3];

function harness() {
  let now = 5_000_000;
  const excluded: { peer: number; reason: string; until: number }[] = [];
  let changes = 0;
  const health = new PeerHealth({
    now: () => now,
    events: { excluded: (peer, reason, until) => excluded.push({ peer, reason, until }), changed: () => void changes++ },
  });
  return { health, excluded, changes: () => changes, advance: (ms: number) => void (now += ms), now: () => now };
}

describe('peer health', () => {
  it('leaves a co-signer that gave no answer out for EXCLUSION_MS, then lets it back', () => {
    const { health, excluded, advance, now } = harness();
    expect(health.unavailable(HOLDERS)).toEqual(new Set());
    health.failed(P2, 'unreachable');
    expect(excluded).toEqual([{ peer: 2, reason: 'unreachable', until: now() + EXCLUSION_MS }]);
    expect(health.unavailable(HOLDERS)).toEqual(new Set([2]));
    expect(health.unavailability(P2.identityKey)).toBe('excluded');
    advance(EXCLUSION_MS - 1);
    expect(health.unavailable(HOLDERS)).toEqual(new Set([2]));
    advance(1);
    expect(health.unavailable(HOLDERS)).toEqual(new Set());
  });

  it('lifts an exclusion when the probe hears from the peer with a ping sent after the failure, not before', () => {
    const { health, advance, now } = harness();
    const sentBefore = now();
    advance(100);
    health.failed(P2, 'timeout');
    // This ping left before the failure: its answer says nothing about the peer after it.
    health.probed(P2, true, sentBefore);
    expect(health.unavailable(HOLDERS)).toEqual(new Set([2]));
    advance(100);
    health.probed(P2, true, now());
    expect(health.unavailable(HOLDERS)).toEqual(new Set());
  });

  it('leaves a peer the probe cannot reach out until a probe gets an answer, whatever the time', () => {
    const { health, advance, now, changes } = harness();
    health.probed(P3, false, now());
    expect(health.unavailability(P3.identityKey)).toBe('unreachable');
    expect(changes()).toBe(1);
    advance(10 * EXCLUSION_MS);
    expect(health.unavailable(HOLDERS)).toEqual(new Set([3]));
    health.probed(P3, false, now());
    expect(changes()).toBe(1); // still down: nothing changed
    health.probed(P3, true, now());
    expect(health.unavailable(HOLDERS)).toEqual(new Set());
    expect(changes()).toBe(2);
  });

  it('keeps a peer out while either holds: excluded after a failure and unreachable by the probe', () => {
    const { health, advance, now } = harness();
    health.probed(P2, false, now());
    health.failed(P2, 'unreachable');
    expect(health.unavailability(P2.identityKey)).toBe('excluded');
    advance(EXCLUSION_MS);
    expect(health.unavailability(P2.identityKey)).toBe('unreachable');
    expect(health.snapshot()).toEqual(new Map([[2, 'unreachable']]));
  });

  it('knows peers by identity key, whatever their party number in a key', () => {
    const { health } = harness();
    health.failed(P2, 'unreachable');
    // The same party numbered 5 in another key is still the one that failed.
    expect(health.unavailable([P1, { index: 5, identityKey: P2.identityKey }])).toEqual(new Set([5]));
    expect(health.unavailable([P1, { index: 2, identityKey: '0a'.repeat(33) }])).toEqual(new Set());
  });

  it('moves a 2-of-3 key off a party that is down and back once it answers, counting both switches', () => {
    const { health, now } = harness();
    const switches: { from: string; to: string; reason: SwitchReason }[] = [];
    const sets = new SignerSets({ events: { switched: (_k, from, to, reason) => switches.push({ from: from.join(','), to: to.join(','), reason }) } });
    const holders = { parties: [1, 2, 3], threshold: 2 };
    const choose = (self: number): number[] => sets.choose('k', holders, self, { unavailable: health.unavailable(HOLDERS) });
    expect(choose(1)).toEqual([1, 2]);
    health.failed(P2, 'unreachable');
    expect(choose(1)).toEqual([1, 3]);
    health.probed(P2, true, now());
    expect(choose(1)).toEqual([1, 2]);
    expect(switches).toEqual([
      { from: '1,2', to: '1,3', reason: 'unavailable' },
      { from: '1,3', to: '1,2', reason: 'recovered' },
    ]);
  });

  it('a recheck pings only the peers left out, one ping per peer however many ask, and its answer counts like the probe\'s', async () => {
    let now = 1_000;
    const pinged: number[] = [];
    let answer!: (up: boolean) => void;
    const health = new PeerHealth({ now: () => now, ping: (p) => (pinged.push(p.index), new Promise((r) => (answer = r))) });
    const peers = HOLDERS.map((p) => ({ ...p, endpoint: `https://p${p.index}.invalid` }));
    health.failed(P2, 'timeout');
    now += 10;
    const both = Promise.all([health.recheck(peers), health.recheck(peers)]);
    answer(true);
    await both;
    expect(pinged).toEqual([2]);
    expect(health.unavailable(HOLDERS)).toEqual(new Set());
    // P3 is not left out: nothing to ask it.
    await health.recheck(peers.slice(2));
    expect(pinged).toEqual([2]);
    // A ping that left before a failure says nothing about the peer after it.
    const early = health.probe(peers[2]!);
    now += 10;
    health.failed(P3, 'timeout');
    answer(true);
    await early;
    expect(health.unavailable(HOLDERS)).toEqual(new Set([3]));
  });
});
