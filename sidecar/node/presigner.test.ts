/**
 * Presigning at one node: the nonce budgets per caller (issue 16 item 1), and the initiator's
 * side when a co-signer fails (issue 16 item 6) — with the session runner, the shard store and
 * the co-signer stood in for, a co-signer whose start call fails closes the local session at once
 * and the run fails with PeerUnresponsive (never an unhandled rejection, however busy the local
 * run still is); a co-signer that aborted leaves the local run its own verdict first; a
 * presignature pooled here that a co-signer does not hold is dropped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocols } from '../../cggmp/index.ts';
import { TransportError } from '../transport/index.ts';
import { KeyStateStore, type KeyState } from './key-state.ts';
import { PeerUnresponsive, type PeerRequester } from './peer-client.ts';
import { PresignPool } from './presign-pool.ts';
import { Presigner, presignSubject, type PrepareRefusal, type PresignSubject } from './presigner.ts';
import type { SessionRunner } from './session-runner.ts';
import type { ShardStore } from './shard-store.ts';
import { nonceBytes } from './statements.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const signers = [1, 2, 3].map(() => protocols.developmentSigner());
const subject = { keyId: 'k', epoch: 0, signers: [1, 2], derivationPath: 'm' };
const [peerA, peerB] = [hex(signers[1]!.publicKey), hex(signers[2]!.publicKey)];

let dir: string;
let keys: KeyStateStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-presigner-'));
  keys = new KeyStateStore(dir);
  await keys.put({
    keyId: 'k',
    current: {
      epoch: 0,
      planHash: '00'.repeat(32),
      publicKey: '02'.padEnd(66, '1'),
      xpub: 'x',
      threshold: 2,
      parties: signers.map((s, i) => ({ index: i + 1, identityKey: hex(s.publicKey), endpoint: `https://127.0.0.1:${i + 1}` })),
    },
    aborted: [],
    appliedPolicyPlans: [],
    retiredBelow: 0,
  });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function presigner(nonceTtlMs = 60_000): { p: Presigner; refused: PrepareRefusal[] } {
  const refused: PrepareRefusal[] = [];
  const unused = {} as never;
  const p = new Presigner({
    identityKey: signers[0]!.publicKey,
    signer: signers[0]!,
    keys,
    shards: unused,
    runner: unused,
    pool: unused,
    peers: unused,
    signerSets: { recordAbort: () => false },
    health: { failed: () => undefined },
    nonceTtlMs,
    prepareRefused: (r) => void refused.push(r),
  });
  return { p, refused };
}

type Nonce = { party: number; nonce: string; signature: string };

/**
 * Whether this node still holds its nonce `n`: a start with it and a genuine nonce of party 2
 * fails with E_REPLAY only when the nonce is unknown (an outstanding one is consumed, and the
 * run then fails further on, for want of a shard in this test).
 */
async function startsOwn(p: Presigner, n: Nonce): Promise<'outstanding' | 'unknown'> {
  const nonce2 = randomBytes(32);
  const theirs = { party: 2, nonce: hex(nonce2), signature: hex(await signers[1]!.sign(nonceBytes(presignSubject(subject), 2, nonce2))) };
  try {
    await p.start(subject, [n, theirs], { startedBy: 'peer' });
  } catch (e) {
    if ((e as { code?: string }).code === 'E_REPLAY') return 'unknown';
  }
  return 'outstanding';
}

describe('presign nonces (issue 16 item 1)', () => {
  it("bounds each caller's unstarted nonces without touching the node's own or another party's", async () => {
    // Before: 64 prepares from anyone filled the key's table and every later prepare — the
    // node's own refills included — answered E_BUSY for five minutes.
    const { p, refused } = presigner();
    const own = await p.prepare(subject);
    const other = await p.prepare(subject, peerB);
    const first = await p.prepare(subject, peerA);
    for (let i = 1; i < 1000; i++) await p.prepare(subject, peerA);
    // Past its budget of 32, each prepare of A dropped A's oldest: 968 drops, nobody refused.
    expect(refused).toHaveLength(1000 - 32);
    expect(new Set(refused)).toEqual(new Set(['evicted_oldest']));
    await expect(p.prepare(subject)).resolves.toMatchObject({ party: 1 });
    await expect(p.prepare(subject, peerB)).resolves.toMatchObject({ party: 1 });
    // The node's own and B's nonces are still outstanding; A's first one is gone.
    expect(await startsOwn(p, own)).toBe('outstanding');
    expect(await startsOwn(p, other)).toBe('outstanding');
    expect(await startsOwn(p, first)).toBe('unknown');
  });

  it('expires unstarted nonces after the round timeout', async () => {
    const { p } = presigner(100);
    const [early, late] = [await p.prepare(subject, peerA), await p.prepare(subject, peerA)];
    expect(await startsOwn(p, early)).toBe('outstanding');
    await new Promise((r) => setTimeout(r, 150));
    expect(await startsOwn(p, late)).toBe('unknown');
  });
});

const self = protocols.developmentSigner();
const peer = protocols.developmentSigner();
const STATE: KeyState = {
  keyId: 'k',
  current: {
    epoch: 0,
    planHash: 'aa',
    publicKey: '02'.repeat(33),
    xpub: 'xpub',
    threshold: 2,
    parties: [
      { index: 1, identityKey: hex(self.publicKey), endpoint: 'https://party-1.invalid' },
      { index: 2, identityKey: hex(peer.publicKey), endpoint: 'https://party-2.invalid' },
    ],
  },
  aborted: [],
  appliedPolicyPlans: [],
  retiredBelow: 0,
};
const SUBJECT: PresignSubject = { keyId: 'k', epoch: 0, signers: [1, 2], derivationPath: 'm' };

/** How party 2 answers its start call, and how this node's own run ends. */
interface Script {
  readonly start: 'ok' | 'drop' | 'abort';
  /** The local run finishes by itself after this long (ms), unless its signal ends it first. */
  readonly localMs: number;
  /** The local run's own end: pooled, or this node's abort verdict. */
  readonly local: 'ok' | 'abort';
  /** The shard takes this long to unseal: the window in which the run is busy in the HSM. */
  readonly unsealMs?: number;
}

const timeoutAbort = (): protocols.ProtocolAbort =>
  new protocols.ProtocolAbort({ protocol: 'presign', round: 1, culprits: [], reason: 'timeout', detail: 'closed', evidence: { check: 'none', envelopes: [], detail: [2] } });
const unattributed = (): protocols.ProtocolAbort => new protocols.ProtocolAbort({ protocol: 'presign', round: 3, culprits: [], reason: 'unattributed', detail: 'chi' });

function harness(script: Script) {
  const pool = new PresignPool();
  const failed: string[] = [];
  let localSignal: AbortSignal | undefined;
  let closedAt: number | undefined;
  const runner = {
    run: (spec: { signal?: AbortSignal }) =>
      new Promise((resolve, reject) => {
        localSignal = spec.signal;
        const onAbort = (): void => {
          closedAt = performance.now();
          clearTimeout(timer);
          reject(timeoutAbort());
        };
        const timer = setTimeout(() => {
          spec.signal?.removeEventListener('abort', onAbort);
          if (script.local === 'abort') reject(unattributed());
          else resolve({ value: { binding: { derivationPath: 'm' } }, session: {}, close: () => undefined });
        }, script.localMs);
        if (spec.signal?.aborted) onAbort();
        else spec.signal?.addEventListener('abort', onAbort, { once: true });
      }),
  } as unknown as SessionRunner;
  const peers: PeerRequester = {
    async request(_url, path, body) {
      if (path.endsWith('/prepare')) {
        const nonce = new Uint8Array(randomBytes(32));
        return { status: 200, body: { party: 2, nonce: hex(nonce), signature: hex(await peer.sign(nonceBytes(presignSubject(body as PresignSubject), 2, nonce))) } };
      }
      await new Promise((r) => setTimeout(r, 20));
      if (script.start === 'drop') throw new TransportError('E_PEER_UNREACHABLE', 'no answer', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
      if (script.start === 'abort') return { status: 502, body: { error: { code: 'E_PROTOCOL_ABORT', message: 'presign round 3: unattributed' } } };
      return { status: 200, body: { ok: true } };
    },
  };
  const presigner = new Presigner({
    identityKey: self.publicKey,
    signer: self,
    keys: { get: () => Promise.resolve(STATE) } as unknown as KeyStateStore,
    shards: { load: () => new Promise((r) => setTimeout(() => r({ public: {} }), script.unsealMs ?? 0)) } as unknown as ShardStore,
    runner,
    pool,
    peers,
    signerSets: { recordAbort: () => true },
    nonceTtlMs: 60_000,
    health: { failed: (p, reason) => void failed.push(`${p.index}:${reason}`) },
  });
  return { presigner, pool, failed, signal: () => localSignal, closedAt: () => closedAt };
}

async function outcome(p: Promise<unknown>): Promise<{ error?: unknown; value?: unknown }> {
  return p.then((value) => ({ value }), (error: unknown) => ({ error }));
}

describe('presigning, as the initiator', () => {
  it('a co-signer whose start call drops: the local session closes at once and the run fails with PeerUnresponsive', async () => {
    const h = harness({ start: 'drop', localMs: 30_000, local: 'ok' });
    const t0 = performance.now();
    const { error } = await outcome(h.presigner.run(SUBJECT));
    expect(error).toBeInstanceOf(PeerUnresponsive);
    expect(error).toMatchObject({ party: 2, reason: 'unreachable' });
    expect(h.signal()?.aborted).toBe(true);
    expect(h.closedAt()! - t0).toBeLessThan(2_000);
    expect(h.failed).toEqual(['2:unreachable']);
    expect(h.pool.count('k')).toBe(0);
  });

  it('does not leave the failed call unhandled while the local run is still busy in the HSM', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      // The start call fails while this node is still unsealing its shard.
      const h = harness({ start: 'drop', localMs: 30_000, local: 'ok', unsealMs: 300 });
      const { error } = await outcome(h.presigner.run(SUBJECT));
      expect(error).toBeInstanceOf(PeerUnresponsive);
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a co-signer that aborted: the local run reaches its own verdict, which is the one thrown (and counted)', async () => {
    const h = harness({ start: 'abort', localMs: 200, local: 'abort' });
    const { error } = await outcome(h.presigner.run(SUBJECT));
    expect(error).toBeInstanceOf(protocols.ProtocolAbort);
    expect(error).toMatchObject({ reason: 'unattributed' });
    expect(h.failed).toEqual([]);
  });

  it('a presignature pooled here but not by the co-signer is dropped, never handed out', async () => {
    const h = harness({ start: 'drop', localMs: 0, local: 'ok' });
    const { error } = await outcome(h.presigner.run(SUBJECT));
    expect(error).toBeInstanceOf(PeerUnresponsive);
    expect(h.pool.count('k')).toBe(0);
  });

  it('pools the presignature when every signer did', async () => {
    const h = harness({ start: 'ok', localMs: 10, local: 'ok' });
    const { value } = await outcome(h.presigner.run(SUBJECT));
    expect(typeof value).toBe('string');
    expect(h.pool.take(value as string)?.signers).toEqual([1, 2]);
  });
});
