/**
 * Crash-safe file replacement for everything the node keeps on disk (sealed blobs, key state,
 * decisions): write a private temp file beside the target, fsync it, rename it over the target,
 * fsync the directory. A crash leaves the old file or the new one, never a mix. The file is 0600
 * and directories made for it 0700, set explicitly (file-modes.ts).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { openPrivateFile } from './file-modes.ts';

export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await openPrivateFile(temp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, file);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
