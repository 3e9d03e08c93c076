/**
 * Failover of the assembling node (issue 11 item 1, issue 16 item 6), with the presigner, the
 * co-signers and the online round stood in for: a co-signer that gives no answer mid-request
 * fails the attempt at once (or at the deadline) and the request is tried once more with another
 * signer set and a presignature of that set, never with anything of the failed attempt; this
 * party's policy is charged once; a refusal is never routed around; the next requests avoid the
 * party until it is heard from again.
 */
import { describe, expect, it } from 'vitest';
import { protocols } from '../../cggmp/index.ts';
import type { SignatureRequest } from '../../api/signing.ts';
import { TransportError } from '../transport/index.ts';
import type { KeyState, KeyStateStore } from './key-state.ts';
import { PeerUnresponsive, type PeerRequester } from './peer-client.ts';
import { PeerHealth } from './peer-health.ts';
import { PresignPool, type PoolEntry } from './presign-pool.ts';
import type { PresignSubject, Presigner } from './presigner.ts';
import { SignerSets } from './signer-sets.ts';
import { PolicyDenied, SIGN_DEADLINE_MS, SigningService } from './signing-service.ts';

const id = (i: number): string => `0${i}`.repeat(33);
const endpoint = (i: number): string => `https://party-${i}.invalid`;
const PARTIES = [1, 2, 3].map((index) => ({ index, identityKey: id(index), endpoint: endpoint(index) }));
const STATE: KeyState = {
  keyId: 'k',
  current: { epoch: 3, planHash: 'aa', publicKey: '02'.repeat(33), xpub: 'xpub', threshold: 2, parties: PARTIES },
  aborted: [],
  appliedPolicyPlans: [],
  retiredBelow: 0,
};
const REQUEST: SignatureRequest = { requestId: 'r1', message: 'pay', encoding: 'utf8', hash: 'sha256' };

/** How a co-signer behaves towards /sign: signs, is gone (connection refused), takes the call and never answers, or refuses. */
type Behaviour = 'sign' | 'refused' | 'silent' | 'deny';

interface Live {
  readonly entry: PoolEntry;
  closed: boolean;
  /** Resolves the stand-in online round with a signature (every co-signer sent its share). */
  deliver(): void;
  /** Rejects it the way a closed session does. */
  fail(e: Error): void;
  readonly done: Promise<protocols.EcdsaSignature>;
}

function harness(behaviour: Record<number, Behaviour>, answersPing: (party: number) => Promise<boolean> = () => Promise.resolve(false)) {
  const pool = new PresignPool();
  const live = new Map<string, Live>();
  const presigned: string[] = [];
  const signCalls: { party: number; sid: string; signers: string }[] = [];
  const failovers: { reason: string; from: string; to: string; party: number }[] = [];
  let serial = 0;
  let releases = 0;

  const addEntry = (signers: readonly number[]): string => {
    const sid = `${signers.join('')}${String(++serial).padStart(30, '0')}`;
    let deliver!: () => void;
    let fail!: (e: Error) => void;
    const done = new Promise<protocols.EcdsaSignature>((resolve, reject) => {
      deliver = () => resolve({ r: 1n, s: 2n, recoveryId: 0, der: new Uint8Array([0x30]), digest: new Uint8Array(32), publicKey: { toBytes: () => new Uint8Array(33) } as never, signers: [...signers] });
      fail = reject;
    });
    done.catch(() => undefined);
    const l: Live = {
      entry: {
        sid,
        keyId: 'k',
        epoch: 3,
        signers: [...signers],
        derivationPath: 'm',
        presignature: { sid } as unknown as PoolEntry['presignature'],
        session: { sid } as unknown as PoolEntry['session'],
        close: () => {
          if (l.closed) return;
          l.closed = true;
          // What a protocol session makes of its channel closing under a round: a timeout abort naming nobody.
          const missing = signers.filter((p) => p !== 1);
          fail(new protocols.ProtocolAbort({ protocol: 'presign', round: 7, culprits: [], reason: 'timeout', detail: 'closed', evidence: { check: 'none', envelopes: [], detail: missing } }));
        },
        createdAt: 0,
        own: true,
      },
      closed: false,
      deliver,
      fail,
      done,
    };
    live.set(sid, l);
    pool.add(l.entry);
    return sid;
  };

  const presigner = {
    run: (s: PresignSubject): Promise<string> => {
      presigned.push(s.signers.join(','));
      const down = s.signers.find((p) => p !== 1 && behaviour[p] === 'refused');
      if (down !== undefined) return Promise.reject(new PeerUnresponsive(PARTIES[down - 1]!, 'unreachable', 'presign/prepare'));
      return Promise.resolve(addEntry(s.signers));
    },
    settled: () => Promise.resolve(),
  } as unknown as Presigner;

  const peers: PeerRequester = {
    request(url, path, body, opts) {
      const party = PARTIES.find((p) => p.endpoint === url)!.index;
      const partial = body as { sid: string; signers: number[] };
      signCalls.push({ party, sid: partial.sid, signers: partial.signers.join(',') });
      expect(path).toBe('/v1/peer/control/sign');
      // Sent once, within the online round's deadline.
      expect(opts).toMatchObject({ retries: 0, timeoutMs: SIGN_DEADLINE_MS });
      switch (behaviour[party] ?? 'sign') {
        case 'sign':
          live.get(partial.sid)!.deliver();
          return Promise.resolve({ status: 200, body: { ok: true } });
        case 'refused':
          return Promise.reject(new TransportError('E_PEER_UNREACHABLE', 'no answer', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) }));
        case 'silent':
          // As the transport client does: its own attempt timeout ends the call.
          return new Promise((_resolve, reject) => setTimeout(() => reject(new TransportError('E_PEER_UNREACHABLE', 'no answer', { cause: Object.assign(new Error('timeout'), { code: 'E_ATTEMPT_TIMEOUT' }) })), opts?.timeoutMs));
        case 'deny':
          return Promise.resolve({ status: 403, body: { error: { code: 'E_POLICY_DENIED', message: 'no', rule: 'rate' } } });
      }
    },
  };

  const pings: number[] = [];
  const health = new PeerHealth({ ping: (peer) => (pings.push(peer.index), answersPing(peer.index)) });
  const signerSets = new SignerSets();
  const service = new SigningService({
    identityKey: new Uint8Array(Buffer.from(id(1), 'hex')),
    keys: { get: () => Promise.resolve(STATE) } as unknown as KeyStateStore,
    pool,
    presigner,
    peers,
    policy: { check: () => () => void releases++ },
    signerSets,
    health,
    refusals: { refused: () => Promise.resolve() },
    signRound: (session) => live.get((session as unknown as { sid: string }).sid)!.done,
    hooks: {
      audit: () => Promise.resolve(),
      failover: (_keyId, reason, from, to, party) => failovers.push({ reason, from: from.join(','), to: to.join(','), party }),
    },
  });
  return { service, pool, live, health, pings, presigned, signCalls, failovers, addEntry, releases: () => releases };
}

describe('signing failover at the assembling node', () => {
  it('a co-signer gone mid-request: the attempt fails at once and the request signs with {1, 3} and a fresh presignature of that set', async () => {
    const h = harness({ 2: 'refused' });
    const pooled = h.addEntry([1, 2]);
    const t0 = performance.now();
    const out = await h.service.sign('k', REQUEST);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(out.signers).toEqual([1, 3]);
    // The pooled {1, 2} presignature went to party 2 and is closed here; nothing of it was used again.
    expect(h.live.get(pooled)!.closed).toBe(true);
    expect(h.signCalls.map((c) => [c.party, c.signers])).toEqual([[2, '1,2'], [3, '1,3']]);
    expect(h.signCalls[1]!.sid).not.toBe(pooled);
    expect(h.presigned).toEqual(['1,3']);
    expect(h.failovers).toEqual([{ reason: 'unreachable', from: '1,2', to: '1,3', party: 2 }]);
    // This party's limits are charged once for the request.
    expect(h.releases()).toBe(1);
    expect(h.health.unavailable(PARTIES)).toEqual(new Set([2]));
  });

  it('a co-signer that takes the call and never answers: the local round ends at the deadline and the request fails over', { timeout: 4 * SIGN_DEADLINE_MS }, async () => {
    const h = harness({ 2: 'silent' });
    const pooled = h.addEntry([1, 2]);
    const t0 = performance.now();
    const out = await h.service.sign('k', REQUEST);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(SIGN_DEADLINE_MS - 50);
    expect(took).toBeLessThan(SIGN_DEADLINE_MS + 2_000);
    expect(out.signers).toEqual([1, 3]);
    expect(h.live.get(pooled)!.closed).toBe(true);
    expect(h.failovers).toEqual([{ reason: 'timeout', from: '1,2', to: '1,3', party: 2 }]);
    expect(h.releases()).toBe(1);
  });

  it('a co-signer gone before presigning (its prepare is refused) fails over the same way, nothing charged twice', async () => {
    const h = harness({ 2: 'refused' });
    const out = await h.service.sign('k', REQUEST);
    expect(out.signers).toEqual([1, 3]);
    expect(h.presigned).toEqual(['1,2', '1,3']);
    expect(h.signCalls.map((c) => c.party)).toEqual([3]);
    expect(h.releases()).toBe(1);
  });

  it('fails over once only: with both co-signers gone the request fails, naming the second', async () => {
    const h = harness({ 2: 'refused', 3: 'refused' });
    h.addEntry([1, 2]);
    h.addEntry([1, 3]);
    const err = await h.service.sign('k', REQUEST).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PeerUnresponsive);
    expect(err).toMatchObject({ code: 'E_PEER_UNREACHABLE', party: 3 });
    expect(h.signCalls.map((c) => c.signers)).toEqual(['1,2', '1,3']);
    expect(h.failovers).toHaveLength(1);
  });

  it('a refusal is the answer: a co-signer\'s policy denial is never routed around', async () => {
    const h = harness({ 2: 'deny' });
    h.addEntry([1, 2]);
    const err = await h.service.sign('k', REQUEST).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyDenied);
    expect(err).toMatchObject({ rule: 'rate', party: 2 });
    expect(h.signCalls.map((c) => c.party)).toEqual([2]);
    expect(h.presigned).toEqual([]);
    expect(h.failovers).toEqual([]);
  });

  it('the next request goes straight to {1, 3} while party 2 is left out, and to {1, 2} again once the probe hears from it', async () => {
    const behaviour: Record<number, Behaviour> = { 2: 'refused' };
    const h = harness(behaviour);
    h.addEntry([1, 2]);
    expect((await h.service.sign('k', REQUEST)).signers).toEqual([1, 3]);
    expect((await h.service.sign('k', { ...REQUEST, requestId: 'r2' })).signers).toEqual([1, 3]);
    expect(h.failovers).toHaveLength(1);
    behaviour[2] = 'sign';
    h.health.probed(PARTIES[1]!, true, Date.now());
    expect((await h.service.sign('k', { ...REQUEST, requestId: 'r3' })).signers).toEqual([1, 2]);
  });

  it('when the health record leaves no signer set, the peers it leaves out are pinged now: one that is back signs at once', async () => {
    // Party 1's only co-signers were both down a moment ago (a restart, a busy spell); 3 is back.
    const h = harness({ 2: 'refused' }, (party) => Promise.resolve(party === 3));
    h.health.failed(PARTIES[1]!, 'unreachable');
    h.health.failed(PARTIES[2]!, 'timeout');
    const out = await h.service.sign('k', REQUEST);
    expect(out.signers).toEqual([1, 3]);
    expect(h.pings.sort()).toEqual([2, 3]);
    expect(h.health.unavailable(PARTIES)).toEqual(new Set([2]));
  });

  it('with every co-signer really down, the request is refused after one ping each, and requests waiting together share it', async () => {
    let answer!: (up: boolean) => void;
    const ping = new Promise<boolean>((r) => (answer = r));
    const h = harness({ 2: 'refused', 3: 'refused' }, () => ping);
    h.health.failed(PARTIES[1]!, 'unreachable');
    h.health.failed(PARTIES[2]!, 'unreachable');
    const a = h.service.sign('k', REQUEST).then(() => undefined, (e: unknown) => e);
    const b = h.service.sign('k', { ...REQUEST, requestId: 'r2' }).then(() => undefined, (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    answer(false);
    for (const err of [await a, await b]) expect(err).toMatchObject({ code: 'E_SIGNERS_UNAVAILABLE', message: expect.stringMatching(/unavailable now: parties 2, 3/) });
    expect(h.pings.sort()).toEqual([2, 3]);
    expect(h.signCalls).toEqual([]);
    expect(h.presigned).toEqual([]);
  });
});
