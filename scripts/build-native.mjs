#!/usr/bin/env node
/**
 * Builds the native arithmetic addon (cggmp/arith/native, DESIGN §3 "Arithmetic engine") with the
 * project's own node-gyp against the headers of the Node the project pins (the `node` devDependency),
 * never against whatever a user's ~/.npmrc `nodedir` points at.
 *
 * Run by `npm install` (package.json "install") and standalone: `npx node scripts/build-native.mjs`.
 * Output: cggmp/arith/native/build/Release/vilna_arith.node.
 *
 * A missing toolchain (C compiler, make, python3) must not break `npm install`: the script then
 * prints a warning and exits 0, and everything that requires the addon (the test suite,
 * VILNA_MPC_ARITH=native) fails loudly later. `--strict` makes any failure exit 1 instead (CI).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonDir = path.join(root, 'cggmp', 'arith', 'native');
const addonFile = path.join(addonDir, 'build', 'Release', 'vilna_arith.node');
const strict = process.argv.includes('--strict');
const requireFromRoot = createRequire(path.join(root, 'package.json'));

function fail(reason) {
  const lines = [
    `vilna-mpc: WARNING: the native arithmetic addon was not built: ${reason}`,
    '  cggmp falls back to the variable-time BigInt arithmetic, which the sidecar refuses outside',
    '  development runs, and the test suite fails until the addon exists.',
    '  Install a C toolchain (gcc or clang, make, python3), then run: npx node scripts/build-native.mjs',
  ];
  console.error(lines.join('\n'));
  process.exit(strict ? 1 : 0);
}

/** A directory usable as node-gyp's --nodedir: it must hold Node-API and OpenSSL headers. */
function hasHeaders(dir) {
  return (
    existsSync(path.join(dir, 'include', 'node', 'node_api.h')) &&
    existsSync(path.join(dir, 'include', 'node', 'openssl', 'bn.h'))
  );
}

/**
 * The headers to build against, in order of preference:
 *  1. the platform package of the `node` devDependency (node-<platform>-<arch>, installed by the
 *     `node` package next to itself), i.e. the Node 24 that npm scripts and npx run;
 *  2. that platform package as the project's own optionalDependency;
 *  3. the installation of the node running this script (process.execPath's ../include/node).
 */
function findNodeDir() {
  const candidates = [];
  try {
    const nodePkg = path.dirname(requireFromRoot.resolve('node/package.json'));
    const platformPkg = `node-${process.platform}-${process.arch}/package.json`;
    candidates.push(path.dirname(createRequire(path.join(nodePkg, 'package.json')).resolve(platformPkg)));
  } catch {
    // the devDependency is absent (production install): fall through to the running node
  }
  // 2. the same platform package as a direct optionalDependency: the copy the `node` package
  //    installs for itself lives outside npm's tree and a later `npm install` prunes it.
  try {
    candidates.push(path.dirname(requireFromRoot.resolve(`node-${process.platform}-${process.arch}/package.json`)));
  } catch {
    // not installed on this platform
  }
  candidates.push(path.resolve(path.dirname(process.execPath), '..'));
  return candidates.find(hasHeaders);
}

function findNodeGyp() {
  try {
    return requireFromRoot.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) fail('node-gyp is not installed (it is a devDependency)');
const nodeDir = findNodeDir();
if (nodeDir === undefined) fail('no Node headers with OpenSSL found (node devDependency or the running node)');

// npm passes ~/.npmrc settings to scripts as npm_config_*; node-gyp would honour these.
const env = { ...process.env };
for (const key of ['npm_config_nodedir', 'npm_config_target', 'npm_config_runtime', 'npm_config_disturl']) {
  delete env[key];
}
console.error(`vilna-mpc: building the native arithmetic addon against ${nodeDir}`);
const build = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--jobs=2'], {
  cwd: addonDir,
  env,
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (build.error) fail(`node-gyp could not be started (${build.error.message})`);
if (build.status !== 0) fail(`node-gyp exited with status ${build.status ?? build.signal} (see its output above)`);
if (!existsSync(addonFile)) fail(`node-gyp succeeded but ${path.relative(root, addonFile)} is missing`);

// Loading resolves the BN_* symbols against this node binary: fail here, not in the first test.
try {
  const addon = createRequire(import.meta.url)(addonFile);
  if (addon.modPow(3n, 5n, 7n) !== 5n) fail('the built addon computes wrong results');
} catch (e) {
  fail(`the built addon does not load: ${e instanceof Error ? e.message : String(e)}`);
}
console.error(`vilna-mpc: built ${path.relative(root, addonFile)}`);
