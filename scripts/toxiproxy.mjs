#!/usr/bin/env node
/**
 * Builds, once, the Toxiproxy server that the WAN test layer puts in front of every party (README
 * "WAN layer", test/support/toxiproxy.ts): `go install github.com/Shopify/toxiproxy/v2/cmd/server`
 * at a pinned release, from the Go module proxy, like the Kubernetes binaries
 * (scripts/kube-binaries.mjs). Debian's package is older and has no Go module proxy to build from.
 *
 * The version is pinned below (not resolved at run time) so that a cached build stays valid
 * offline; the output directory name encodes it. The binary is built into a sibling temporary
 * directory and renamed into place, so a directory under the final name is always complete; two
 * concurrent runs may both build (a few seconds each), and the second rename loses harmlessly.
 *
 * Output: ~/.cache/vilna-mpc/toxiproxy/<version>_<platform>-<arch>/toxiproxy-server. GOCACHE and
 * GOMODCACHE are the ones scripts/kube-binaries.mjs uses.
 *
 * Standalone: `node scripts/toxiproxy.mjs` prints the server's path as the only line on stdout;
 * exits 1 when `go` is missing or the build fails. Importable: `ensureToxiproxy()` resolves to
 * `{ server, version }` and throws instead.
 *
 * Runs under the system Node 20 as well as the project's Node 24: node: builtins only.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, realpathSync } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pinned release: the newest v2 the Go module proxy served when this was written. */
const VERSION = 'v2.12.0';
const MODULE = 'github.com/Shopify/toxiproxy/v2';
/** `go install` names the binary after its package directory, cmd/server. */
const BUILT_NAME = 'server';
const BINARY = 'toxiproxy-server';

const CACHE_ROOT = path.join(homedir(), '.cache', 'vilna-mpc');
const TOXIPROXY_ROOT = path.join(CACHE_ROOT, 'toxiproxy');
const DIR_NAME = `${VERSION}_${process.platform}-${process.arch}`;
/** Lines of a failed go command's stderr repeated in the error. */
const ERROR_TAIL_LINES = 40;
const LOG_PREFIX = 'vilna-mpc toxiproxy:';

/** Runs `go args` with GOBIN=`gobin`; rejects with the tail of what it printed. */
function goInstall(args, gobin) {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      GOFLAGS: '-trimpath -modcacherw',
      CGO_ENABLED: '0',
      GOCACHE: path.join(CACHE_ROOT, 'go-build'),
      GOMODCACHE: path.join(CACHE_ROOT, 'go-mod'),
      GOWORK: 'off',
      GO111MODULE: 'on',
      GOBIN: gobin,
    };
    const child = spawn('go', args, { cwd: gobin, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const err = [];
    child.stderr.on('data', (chunk) => err.push(chunk));
    child.on('error', (e) => {
      reject(
        e.code === 'ENOENT'
          ? new Error('`go` was not found on PATH. Toxiproxy is built from the Go module proxy; install Go >= 1.26 (https://go.dev/dl/) and run: node scripts/toxiproxy.mjs')
          : new Error(`could not start go: ${e.message}`),
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const tail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-ERROR_TAIL_LINES).join('\n');
      reject(new Error(`\`go ${args.join(' ')}\` failed with ${signal ?? `exit ${code}`}:\n${tail}`));
    });
  });
}

async function isExecutable(file) {
  try {
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the pinned Toxiproxy server exists, building it when it does not.
 * @returns {Promise<{ server: string, version: string }>}
 */
export async function ensureToxiproxy() {
  const dir = path.join(TOXIPROXY_ROOT, DIR_NAME);
  const result = { server: path.join(dir, BINARY), version: VERSION };
  if (await isExecutable(result.server)) return result;

  await mkdir(TOXIPROXY_ROOT, { recursive: true });
  const partial = await mkdtemp(path.join(TOXIPROXY_ROOT, `.partial-${DIR_NAME}-`));
  try {
    const started = process.hrtime.bigint();
    process.stderr.write(`${LOG_PREFIX} building ${MODULE}/cmd/server@${VERSION} into ${dir} ... `);
    // The release's own ldflags (its Makefile): the version, and a stripped binary.
    const ldflags = `-s -w -X ${MODULE}.Version=${VERSION}`;
    try {
      await goInstall(['install', '-ldflags', ldflags, `${MODULE}/cmd/server@${VERSION}`], partial);
    } catch (e) {
      process.stderr.write('failed\n');
      throw e;
    }
    await rename(path.join(partial, BUILT_NAME), path.join(partial, BINARY));
    await chmod(partial, 0o755); // mkdtemp made it 0700
    try {
      await rename(partial, dir);
    } catch (e) {
      // Another run finished first.
      if (!['ENOTEMPTY', 'EEXIST'].includes(e.code) || !(await isExecutable(result.server))) throw e;
    }
    process.stderr.write(`${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s\n`);
    return result;
  } finally {
    await rm(partial, { recursive: true, force: true }); // gone once renamed
  }
}

/** True when this file is the script node was started with (import.meta.main is Node >= 24 only). */
function isMain() {
  if (process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  try {
    const { server } = await ensureToxiproxy();
    process.stdout.write(`${server}\n`);
  } catch (e) {
    process.stderr.write(`${LOG_PREFIX} ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
