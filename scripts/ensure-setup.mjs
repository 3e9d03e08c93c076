#!/usr/bin/env node
/**
 * Installs what `npm test` and `npm run demo` need when it is missing, so that either can be the
 * first command on a fresh clone: the npm dependencies (which include the pinned Node 24 and
 * build the native addon through the `install` script), and the native addon itself.
 *
 * Runs under whatever node npm found first, possibly the system's end-of-life Node 20, so it
 * uses nothing newer than Node 20 offers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const at = (...p) => path.join(root, ...p);

function run(cmd, args) {
  process.stderr.write(`vilna-mpc setup: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.status !== 0) {
    process.stderr.write(`vilna-mpc setup: "${cmd} ${args.join(' ')}" failed (exit ${r.status ?? r.signal})\n`);
    process.exit(1);
  }
}

function mtime(p) {
  return existsSync(p) ? statSync(p).mtimeMs : 0;
}

// npm records the installed tree in node_modules/.package-lock.json; it is older than the lock
// file (or absent) when dependencies were never installed or have changed since.
const installed = at('node_modules', '.package-lock.json');
const lock = at('package-lock.json');
const pinnedNode = at('node_modules', 'node', 'bin', 'node');
if (!existsSync(installed) || mtime(installed) < Math.max(mtime(lock), mtime(at('package.json'))) || !existsSync(pinnedNode)) {
  run('npm', existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
}

if (!existsSync(at('cggmp', 'arith', 'native', 'build', 'Release', 'vilna_arith.node'))) {
  run(pinnedNode, [at('scripts', 'build-native.mjs'), '--strict']);
}
