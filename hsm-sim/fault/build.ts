/**
 * Builds the PKCS#11 fault-injection shim (./pkcs11-fault.c, DESIGN §6 layer 2) with the system C
 * compiler against the OASIS headers pkcs11js ships, into
 * `~/.cache/vilna-mpc/pkcs11-fault-<hash>.so`. The hash covers the source, the headers and the
 * flags, so an edited shim is rebuilt and an unchanged one never is. Concurrent builders each
 * write their own temporary file and rename it into place.
 *
 * Standalone: `npx node hsm-sim/fault/build.ts` prints the module path.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

/** The shim's C source. */
export const FAULT_SOURCE = path.join(here, 'pkcs11-fault.c');
/** Compiler flags; -fvisibility=hidden leaves C_GetFunctionList as the only exported symbol. */
const CFLAGS: readonly string[] = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-fvisibility=hidden'];
const LIBS: readonly string[] = ['-ldl', '-lpthread'];
const HEADERS: readonly string[] = ['pkcs11.h', 'pkcs11t.h', 'pkcs11f.h'];
/** Hex characters of the content hash in the file name. */
const HASH_CHARS = 16;

export class FaultBuildError extends Error {
  readonly code = 'E_FAULT_BUILD';
  override readonly name = 'FaultBuildError';
}

export interface BuildOptions {
  /** Where built modules are cached; `~/.cache/vilna-mpc` by default. */
  readonly cacheDir?: string;
  /** The C compiler; `cc` on PATH by default. */
  readonly cc?: string;
}

/** The directory holding pkcs11.h and its companions (from the pkcs11js package). */
function headerDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('pkcs11js/package.json');
  } catch {
    throw new FaultBuildError('pkcs11js is not installed: its PKCS#11 headers are needed to build the fault shim (npm install)');
  }
  return path.join(path.dirname(pkg), 'includes', 'pkcs11');
}

/** Path of the built shim, compiling it first when no build of this exact source is cached. */
export async function buildFaultModule(opts: BuildOptions = {}): Promise<string> {
  const includes = headerDir();
  const hash = createHash('sha256');
  hash.update(await readFile(FAULT_SOURCE));
  for (const h of HEADERS) hash.update(await readFile(path.join(includes, h)));
  hash.update(JSON.stringify([CFLAGS, LIBS]));
  const cacheDir = opts.cacheDir ?? path.join(homedir(), '.cache', 'vilna-mpc');
  const out = path.join(cacheDir, `pkcs11-fault-${hash.digest('hex').slice(0, HASH_CHARS)}.so`);
  if (existsSync(out)) return out;

  await mkdir(cacheDir, { recursive: true });
  const temp = `${out}.${randomBytes(6).toString('hex')}.tmp`;
  const cc = opts.cc ?? 'cc';
  try {
    await execFileAsync(cc, [...CFLAGS, '-I', includes, '-o', temp, FAULT_SOURCE, ...LIBS], { encoding: 'utf8' });
    await rename(temp, out);
  } catch (e) {
    await rm(temp, { force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new FaultBuildError(`${cc} not found: install a C compiler (apt-get install -y gcc)`);
    throw new FaultBuildError(`building ${path.basename(FAULT_SOURCE)} failed: ${(err.stderr ?? err.message).trim()}`);
  }
  return out;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(await buildFaultModule());
}
