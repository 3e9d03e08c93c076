/**
 * Modes of what a party keeps on disk (issue 16 item 7): every file under a state directory is
 * 0600 and every directory 0700 — configuration, logs, sealed blobs, key state, the audit log,
 * decisions, coordinator records, PIN files, TLS keys. Sealed blobs are useless without the HSM,
 * but key state, plans, the audit trail and the PIN file are nobody else's business, and a group-
 * or world-readable PIN file hands the token to any local account.
 *
 * Modes are set with chmod after creation, not left to the process umask (which only ever removes
 * bits, and may remove the owner's own). The node tightens what an older version or an operator
 * left looser at start (tightenStateModes), and says so in its log.
 */
import { chmod, lstat, mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export const STATE_FILE_MODE = 0o600;
export const STATE_DIR_MODE = 0o700;
/** Group and other permission bits: a state file or directory has none. */
const GROUP_OTHER_BITS = 0o077;
/** Deepest directory the walk descends to below the state directory (the layout is 3–4 deep). */
const MAX_WALK_DEPTH = 16;

/**
 * Creates `dir` and whatever parents are missing, one at a time, each set to 0700 as it is made
 * (so that a restrictive umask cannot leave a parent the owner cannot enter). Existing
 * directories are left as they are.
 */
export async function makePrivateDir(dir: string): Promise<void> {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let d = target; ; d = path.dirname(d)) {
    const exists = await lstat(d).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw e;
      },
    );
    if (exists || path.dirname(d) === d) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    try {
      await mkdir(d, { mode: STATE_DIR_MODE });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      continue; // made meanwhile by someone else: theirs to set
    }
    await chmod(d, STATE_DIR_MODE);
  }
}

/** Opens `file` with `flags`, creating it (and its directory) 0600 whatever the umask. */
export async function openPrivateFile(file: string, flags: 'w' | 'wx' | 'a'): Promise<FileHandle> {
  await makePrivateDir(path.dirname(file));
  const fh = await open(file, flags, STATE_FILE_MODE);
  try {
    await fh.chmod(STATE_FILE_MODE);
  } catch (e) {
    await fh.close();
    throw e;
  }
  return fh;
}

/** Writes `data` to `file` in place, 0600 (for files written before any node runs; the node uses writeFileAtomic). */
export async function writePrivateFile(file: string, data: string | Uint8Array): Promise<void> {
  const fh = await openPrivateFile(file, 'w');
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

/** A file or directory whose mode was tightened: its path relative to the root, and the mode it had. */
export interface TightenedPath {
  readonly path: string;
  readonly mode: number;
}

/**
 * Walks `root` (not following symbolic links) and removes the group and other bits of every file
 * (to 0600) and directory (to 0700) that has any; stricter modes are kept. Returns what changed.
 * A missing root is nothing to tighten.
 */
export async function tightenStateModes(root: string): Promise<TightenedPath[]> {
  const changed: TightenedPath[] = [];
  const visit = async (p: string, depth: number): Promise<void> => {
    let info;
    try {
      info = await lstat(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // removed meanwhile
      throw e;
    }
    if (info.isSymbolicLink()) return;
    const mode = info.mode & 0o777;
    if (info.isDirectory() || info.isFile()) {
      if ((mode & GROUP_OTHER_BITS) !== 0) {
        const tight = info.isDirectory() ? STATE_DIR_MODE : STATE_FILE_MODE;
        await chmod(p, tight);
        changed.push({ path: path.relative(root, p) || '.', mode });
      }
    }
    if (!info.isDirectory() || depth >= MAX_WALK_DEPTH) return;
    for (const name of (await readdir(p)).sort()) await visit(path.join(p, name), depth + 1);
  };
  await visit(path.resolve(root), 0);
  return changed;
}

/** Whether a file outside the state directory (a mounted PIN file or TLS key) can be read by group or others. */
export async function isLooserThanPrivate(file: string): Promise<boolean> {
  try {
    return ((await stat(file)).mode & GROUP_OTHER_BITS) !== 0;
  } catch {
    return false;
  }
}
