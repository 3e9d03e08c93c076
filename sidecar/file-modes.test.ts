import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-write.ts';
import { makePrivateDir, openPrivateFile, tightenStateModes, writePrivateFile } from './file-modes.ts';

let root: string;
const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vilna-modes-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs `fn` under `mask` (this test file has its process to itself: vitest's forks pool). */
async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const before = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(before);
  }
}

describe('file modes of the state directory', () => {
  it('sets 0600 and 0700 explicitly, whatever the umask takes away or leaves', async () => {
    for (const mask of [0o000, 0o022, 0o277]) {
      const base = path.join(root, `umask-${mask.toString(8)}`);
      await withUmask(mask, async () => {
        await writeFileAtomic(path.join(base, 'keys', 'nested', 'k.json'), '{}\n');
        await writePrivateFile(path.join(base, 'config.yaml'), 'party: {}\n');
        await (await openPrivateFile(path.join(base, 'logs', 'sidecar.log'), 'a')).close();
        await makePrivateDir(path.join(base, 'a', 'b', 'c'));
      });
      for (const dir of ['.', 'keys', 'keys/nested', 'logs', 'a', 'a/b', 'a/b/c']) expect(await modeOf(path.join(base, dir)), `${dir} under ${mask.toString(8)}`).toBe(0o700);
      for (const file of ['keys/nested/k.json', 'config.yaml', 'logs/sidecar.log']) expect(await modeOf(path.join(base, file)), `${file} under ${mask.toString(8)}`).toBe(0o600);
    }
  });

  it('tightens what group or others can use, keeps stricter modes, and does not follow links', async () => {
    const state = path.join(root, 'state');
    await mkdir(path.join(state, 'keys'), { recursive: true });
    await writeFile(path.join(state, 'config.yaml'), 'x');
    await writeFile(path.join(state, 'keys', 'k.json'), '{}');
    await writeFile(path.join(state, 'read-only.pin'), '1234');
    const outside = path.join(root, 'outside.txt');
    await writeFile(outside, 'not ours');
    await symlink(outside, path.join(state, 'link'));
    await chmod(state, 0o755);
    await chmod(path.join(state, 'keys'), 0o750);
    await chmod(path.join(state, 'config.yaml'), 0o644);
    await chmod(path.join(state, 'keys', 'k.json'), 0o604);
    await chmod(path.join(state, 'read-only.pin'), 0o400);
    await chmod(outside, 0o644);

    expect(await tightenStateModes(state)).toEqual([
      { path: '.', mode: 0o755 },
      { path: 'config.yaml', mode: 0o644 },
      { path: 'keys', mode: 0o750 },
      { path: path.join('keys', 'k.json'), mode: 0o604 },
    ]);
    expect(await modeOf(state)).toBe(0o700);
    expect(await modeOf(path.join(state, 'keys'))).toBe(0o700);
    expect(await modeOf(path.join(state, 'config.yaml'))).toBe(0o600);
    expect(await modeOf(path.join(state, 'keys', 'k.json'))).toBe(0o600);
    expect(await modeOf(path.join(state, 'read-only.pin'))).toBe(0o400);
    expect(await modeOf(outside)).toBe(0o644);
    expect(await tightenStateModes(state)).toEqual([]);
    expect(await tightenStateModes(path.join(root, 'missing'))).toEqual([]);
  });
});
