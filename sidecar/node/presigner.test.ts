import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocols } from '../../cggmp/index.ts';
import { KeyStateStore } from './key-state.ts';
import { randomBytes } from 'node:crypto';
import { Presigner, presignSubject, type PrepareRefusal } from './presigner.ts';
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
    await p.start(subject, [n, theirs]);
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
