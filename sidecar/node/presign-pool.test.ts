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
});
