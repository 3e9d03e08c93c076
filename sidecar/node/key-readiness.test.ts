import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyReadinessChecker, RECHECK_MS, type KeyReadiness } from './key-readiness.ts';
import { KeyStateStore, StateFileCorrupt } from './key-state.ts';

const me = '02'.padEnd(66, 'a');
let dir: string;

const state = (keyId: string, epoch = 0) => ({
  keyId,
  current: { epoch, planHash: '00', publicKey: '02', xpub: 'x', threshold: 2, parties: [{ index: 1, identityKey: me, endpoint: 'https://a' }, { index: 2, identityKey: '03'.padEnd(66, 'b'), endpoint: 'https://b' }] },
  aborted: [],
  appliedPolicyPlans: [],
  retiredBelow: 0,
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-readiness-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('key state files (issue 16 item 5)', () => {
  it('names a corrupt file once and leaves it out of the list; the other keys are listed', async () => {
    await new KeyStateStore(dir).put(state('good'));
    await writeFile(path.join(dir, 'bad.json'), '{ "keyId": ');
    await writeFile(path.join(dir, 'wrong.json'), JSON.stringify({ keyId: 'wrong', retiredBelow: -1 }));
    const told: StateFileCorrupt[] = [];
    const keys = new KeyStateStore(dir, { onCorrupt: (e) => void told.push(e) });
    expect((await keys.list()).map((k) => k.keyId)).toEqual(['good']);
    await keys.list();
    expect(told.map((e) => [e.keyId, path.basename(e.file)])).toEqual([['bad', 'bad.json'], ['wrong', 'wrong.json']]);
    expect(told[0]!.message).toContain('not valid JSON');
    expect(told[1]!.message).toContain('retiredBelow');
    await expect(keys.get('bad')).rejects.toMatchObject({ code: 'E_STATE_CORRUPT' });
    expect(keys.corrupt.map((e) => e.keyId)).toEqual(['bad', 'wrong']);
  });
});

describe('key readiness', () => {
  it('reports each key held on its own, with the code that stops it, and caches the HSM check', async () => {
    const keys = new KeyStateStore(dir);
    await keys.put(state('a'));
    await keys.put(state('b'));
    await keys.put({ ...state('other'), current: { ...state('other').current, parties: [{ index: 2, identityKey: '03'.padEnd(66, 'b'), endpoint: 'https://b' }] } });
    await writeFile(path.join(dir, 'c.json'), 'nonsense');
    let now = 1_000;
    const loads: string[] = [];
    const changed: KeyReadiness[] = [];
    const checker = new KeyReadinessChecker({
      keys,
      identityKey: me,
      now: () => now,
      load: (keyId) => {
        loads.push(keyId);
        return keyId === 'b' ? Promise.reject(Object.assign(new Error('gone'), { code: 'E_BLOB_MISSING' })) : Promise.resolve();
      },
      changed: (r) => void changed.push(r),
    });
    const first = await checker.report();
    expect(first).toEqual([
      { keyId: 'a', epoch: 0, ready: true },
      { keyId: 'b', epoch: 0, ready: false, code: 'E_BLOB_MISSING' },
      { keyId: 'c', ready: false, code: 'E_STATE_CORRUPT' },
    ]);
    expect(changed.map((r) => r.keyId)).toEqual(['b', 'c']);
    await checker.report();
    expect(loads).toEqual(['a', 'b']);
    now += RECHECK_MS + 1;
    await checker.report();
    expect(loads).toEqual(['a', 'b', 'a', 'b']);
    expect(changed).toHaveLength(2);
  });
});
