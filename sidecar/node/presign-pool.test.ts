import { describe, expect, it } from 'vitest';
import { PresignPool, type PoolEntry } from './presign-pool.ts';

function entry(sid: string, over: Partial<PoolEntry> = {}): PoolEntry & { closed: () => boolean } {
  let closed = false;
  return {
    sid,
    keyId: 'k',
    epoch: 1,
    signers: [1, 2],
    derivationPath: 'm',
    presignature: {} as PoolEntry['presignature'],
    session: {} as PoolEntry['session'],
    close: () => void (closed = true),
    createdAt: 0,
    own: true,
    ...over,
    closed: () => closed,
  };
}

describe('presignature pool', () => {
  it('hands each presignature out once, by session id or by binding', () => {
    const pool = new PresignPool();
    pool.add(entry('a'));
    pool.add(entry('b'));
    expect(pool.take('a')?.sid).toBe('a');
    expect(pool.take('a')).toBeUndefined();
    expect(pool.takeFor('k', 1, [1, 2], 'm')?.sid).toBe('b');
    expect(pool.takeFor('k', 1, [1, 2], 'm')).toBeUndefined();
  });

  it('never hands a digest-bound presignature to another request, nor one of another binding', () => {
    const pool = new PresignPool();
    pool.add(entry('bound', { boundDigest: 'ab'.repeat(32) }));
    pool.add(entry('other-path', { derivationPath: 'm/1' }));
    pool.add(entry('other-epoch', { epoch: 2 }));
    expect(pool.takeFor('k', 1, [1, 2], 'm')).toBeUndefined();
    expect(pool.take('bound')?.boundDigest).toBe('ab'.repeat(32));
  });

  it('keeps at most maxPerKey entries per key, closing the oldest', () => {
    const pool = new PresignPool(undefined, 2);
    const first = entry('1');
    pool.add(first);
    pool.add(entry('2'));
    pool.add(entry('3'));
    expect(first.closed()).toBe(true);
    expect(pool.count('k')).toBe(2);
    expect(pool.take('1')).toBeUndefined();
  });

  it('drops and closes every presignature of a key at an epoch change', () => {
    const pool = new PresignPool();
    const a = entry('a');
    const other = entry('x', { keyId: 'other' });
    pool.add(a);
    pool.add(other);
    pool.dropKey('k');
    expect(a.closed()).toBe(true);
    expect(other.closed()).toBe(false);
    expect(pool.count('k')).toBe(0);
    expect(pool.count('other')).toBe(1);
  });

  it("never hands a peer's presignature to this node's requests: only its sid, asked for by that peer, takes it", () => {
    // Before: a node took presignatures another node had started with the same signer set (both
    // fail over to it while a third party is down), both ran the one online session with two
    // digests, and both requests failed.
    const pool = new PresignPool();
    pool.add(entry('theirs', { own: false }));
    expect(pool.takeFor('k', 1, [1, 2], 'm')).toBeUndefined();
    expect(pool.count('k')).toBe(0);
    expect(pool.countsByPath('k', 1, [1, 2])).toEqual({});
    pool.add(entry('mine'));
    expect(pool.count('k', 1, [1, 2], 'm')).toBe(1);
    expect(pool.countsByPath('k', 1, [1, 2])).toEqual({ m: 1 });
    expect(pool.takeFor('k', 1, [1, 2], 'm')?.sid).toBe('mine');
    expect(pool.take('theirs')?.sid).toBe('theirs');
  });

  it("drops only this node's presignatures made with a party that lost its half, and leaves other sets and peers' entries", () => {
    const pool = new PresignPool();
    const with2 = entry('with-2', { signers: [1, 2] });
    const with3 = entry('with-3', { signers: [1, 3] });
    const theirsWith2 = entry('theirs-with-2', { signers: [1, 2], own: false });
    for (const e of [with2, with3, theirsWith2]) pool.add(e);
    pool.dropWith('k', 2);
    expect(with2.closed()).toBe(true);
    expect(with3.closed()).toBe(false);
    expect(theirsWith2.closed()).toBe(false);
    expect(pool.take('with-2')).toBeUndefined();
    expect(pool.takeFor('k', 1, [1, 3], 'm')?.sid).toBe('with-3');
    expect(pool.take('theirs-with-2')?.sid).toBe('theirs-with-2');
  });

  it("counts peers' entries against the key's memory bound", () => {
    const pool = new PresignPool(undefined, 2);
    const oldest = entry('theirs-1', { own: false });
    pool.add(oldest);
    pool.add(entry('theirs-2', { own: false }));
    pool.add(entry('mine'));
    expect(oldest.closed()).toBe(true);
    expect(pool.count('k')).toBe(1);
  });
});
