#!/usr/bin/env node
/**
 * Builds, once, the Kubernetes binaries the kube test layer runs (DESIGN §6 "Kubernetes
 * binaries"): kube-apiserver and kube-controller-manager, etcd, and helm. Debian ships none of them
 * in a usable version and kind cannot run here, so they are compiled from the Go module proxy:
 *
 *  - Kubernetes: a throwaway module requires `k8s.io/kubernetes` and replaces every staging module
 *    that k8s.io/kubernetes's go.mod points at `./staging/...` (module zips leave staging out) with
 *    its published `v0.<minor>.<patch>`; then `go build` cmd/kube-apiserver and
 *    cmd/kube-controller-manager, with the version ldflags of the upstream build
 *    (hack/lib/version.sh), so `/version` and helm's kubeVersion checks see a real release;
 *  - etcd from `go.etcd.io/etcd/server/v3` (the module root is the `etcd` main package);
 *  - helm from `helm.sh/helm/v3/cmd/helm`, with the ldflags of helm's Makefile.
 *
 * Each throwaway module copies the `go` and `godebug` lines of the module it builds, so the
 * binaries get the runtime defaults their own release builds have.
 *
 * Versions are pinned below (not resolved at run time) so that a cached build stays valid offline
 * and a new upstream patch never triggers a surprise rebuild; the output directory name encodes
 * them. Bumping a version here builds a new directory next to the old one.
 *
 * Output: ~/.cache/vilna-mpc/kube-bin/<versions>/{kube-apiserver,kube-controller-manager,etcd,helm}.
 * The binaries are built into a sibling directory and renamed into place, so a directory under
 * that name is always complete; a lock file keeps two concurrent runs from building twice.
 * GOCACHE and GOMODCACHE live under ~/.cache/vilna-mpc too, so a rebuild after a version bump
 * reuses what it can.
 *
 * Standalone: `node scripts/kube-binaries.mjs` prints one line per step (with seconds) on stderr
 * and the bin directory as the only line on stdout; exits 1 when `go` is missing or a build
 * fails. Importable: `ensureKubeBinaries()` resolves to `{ binDir, versions }` and throws instead.
 *
 * Runs under the system Node 20 as well as the project's Node 24: node: builtins only.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, realpathSync } from 'node:fs';
import { access, chmod, link, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The pinned releases. Kubernetes: the newest 1.34 patch the Go module proxy serves. */
const VERSIONS = Object.freeze({
  kubernetes: 'v1.34.12',
  etcd: 'v3.6.16',
  helm: 'v3.22.0',
});

/** Published staging modules carry the Kubernetes version with major 0: v1.34.12 -> v0.34.12. */
const STAGING_VERSION = VERSIONS.kubernetes.replace(/^v1\./, 'v0.');

const BINARIES = Object.freeze(['kube-apiserver', 'kube-controller-manager', 'etcd', 'helm']);

const CACHE_ROOT = path.join(homedir(), '.cache', 'vilna-mpc');
const KUBE_BIN_ROOT = path.join(CACHE_ROOT, 'kube-bin');
const BIN_DIR_NAME =
  `k8s-${VERSIONS.kubernetes}_etcd-${VERSIONS.etcd}_helm-${VERSIONS.helm}_${process.platform}-${process.arch}`;

/** How often a run that finds another run's lock looks again. */
const LOCK_POLL_MS = 5_000;
/** Lines of a failed go command's stderr repeated in the error. */
const ERROR_TAIL_LINES = 40;

const LOG_PREFIX = 'vilna-mpc kube-bin:';

/**
 * Environment of every go command. -modcacherw keeps the module cache deletable with a plain
 * `rm -rf ~/.cache/vilna-mpc`; GOWORK=off keeps a go.work in some parent directory out of it.
 */
function goEnv() {
  return {
    ...process.env,
    GOFLAGS: '-trimpath -modcacherw',
    CGO_ENABLED: '0',
    GOCACHE: path.join(CACHE_ROOT, 'go-build'),
    GOMODCACHE: path.join(CACHE_ROOT, 'go-mod'),
    GOWORK: 'off',
    GO111MODULE: 'on',
  };
}

/** Runs `go args` in `cwd`; resolves to its stdout, rejects with the tail of what it printed. */
function go(args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, { cwd, env: goEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => err.push(chunk));
    child.on('error', (e) => {
      reject(
        e.code === 'ENOENT'
          ? new Error(
              '`go` was not found on PATH. The Kubernetes test binaries are built from the Go module ' +
                'proxy (DESIGN §6); install Go >= 1.26 (https://go.dev/dl/) and run: node scripts/kube-binaries.mjs',
            )
          : new Error(`could not start go: ${e.message}`),
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolve(Buffer.concat(out).toString('utf8'));
        return;
      }
      // `go mod download -json` reports its errors in the JSON on stdout, the rest on stderr.
      const text = Buffer.concat(err).toString('utf8').trim() || Buffer.concat(out).toString('utf8').trim();
      const tail = text.split('\n').slice(-ERROR_TAIL_LINES).join('\n');
      reject(new Error(`\`go ${args.join(' ')}\` (in ${cwd}) failed with ${signal ?? `exit ${code}`}:\n${tail}`));
    });
  });
}

/** Runs one step, logging `<label> ... <seconds> s` as a single line on stderr. */
async function step(label, fn) {
  process.stderr.write(`${LOG_PREFIX} ${label} ... `);
  const started = process.hrtime.bigint();
  const seconds = () => (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1);
  try {
    const result = await fn();
    process.stderr.write(`${seconds()} s\n`);
    return result;
  } catch (e) {
    process.stderr.write(`failed after ${seconds()} s\n`);
    throw e;
  }
}

async function isExecutable(file) {
  try {
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function isComplete(dir) {
  const present = await Promise.all(BINARIES.map((name) => isExecutable(path.join(dir, name))));
  return present.every(Boolean);
}

/**
 * Downloads one module version and returns its go.mod text, its publication time and, when the
 * proxy recorded it, its commit (both from the proxy's .info record).
 */
async function downloadModule(modulePath, version, cwd) {
  const download = JSON.parse(await go(['mod', 'download', '-json', `${modulePath}@${version}`], cwd));
  const info = JSON.parse(await readFile(download.Info, 'utf8'));
  return {
    goMod: await readFile(download.GoMod, 'utf8'),
    time: info.Time === undefined ? undefined : new Date(info.Time),
    commit: info.Origin?.Hash ?? download.Origin?.Hash,
  };
}

/** The `go` and `godebug` lines of a go.mod, to repeat in the throwaway module that builds it. */
function toolchainLines(goMod) {
  return goMod.split('\n').filter((line) => /^(go|godebug)\s/.test(line));
}

/**
 * The modules k8s.io/kubernetes replaces with `./staging/src/...` that its build graph needs
 * (the ones it also requires: sample-cli-plugin and sample-controller are never required, and
 * not every release publishes them).
 */
function stagingModules(goMod) {
  const replaced = [...goMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s*=>\s*\.\/staging\//gm)].map((m) => m[1]);
  if (replaced.length === 0) throw new Error('k8s.io/kubernetes go.mod replaces no staging module: unexpected layout');
  const required = new Set([...goMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+v0\.0\.0\b/gm)].map((m) => m[1]));
  return replaced.filter((m) => required.has(m));
}

/** Writes a throwaway module's go.mod into a fresh directory under `parent`; returns the directory. */
async function throwawayModule(parent, name, lines) {
  const dir = path.join(parent, name);
  await mkdir(dir);
  await writeFile(path.join(dir, 'go.mod'), [`module vilna-mpc.local/kube-bin/${name}`, '', ...lines, ''].join('\n'));
  return dir;
}

/** `-X` flags for several symbols of several packages; values never contain spaces here. */
function xFlags(packages, values) {
  return packages.flatMap((pkg) => Object.entries(values).map(([key, value]) => `-X ${pkg}.${key}=${value}`));
}

/** Builds `pkg` in module `dir` into `output`, stripped, with extra ldflags. */
function goBuild(dir, pkg, output, ldflags) {
  return go(['build', '-mod=mod', '-ldflags', ['-s', '-w', ...ldflags].join(' '), '-o', output, pkg], dir);
}

/** Resolves and downloads the packages `pkgs` need (recording go.sum), without compiling. */
function goDownloadDeps(dir, pkgs) {
  return go(['list', '-mod=mod', '-deps', '-f', '{{.ImportPath}}', ...pkgs], dir);
}

async function buildKubernetes(workDir, outDir) {
  const k8s = 'k8s.io/kubernetes';
  const dir = await step(`resolve ${k8s} ${VERSIONS.kubernetes} and its staging modules ${STAGING_VERSION}`, async () => {
    const { goMod, time, commit } = await downloadModule(k8s, VERSIONS.kubernetes, workDir);
    const staging = stagingModules(goMod);
    const lines = [
      ...toolchainLines(goMod),
      '',
      `require ${k8s} ${VERSIONS.kubernetes}`,
      '',
      'replace (',
      ...staging.map((m) => `\t${m} => ${m} ${STAGING_VERSION}`),
      ')',
    ];
    const moduleDir = await throwawayModule(workDir, 'kubernetes', lines);
    // Upstream release builds stamp the version through ldflags (hack/lib/version.sh); without it
    // /version says v0.0.0-master and helm's kubeVersion constraints fail.
    const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(VERSIONS.kubernetes);
    const stamp = {
      gitVersion: VERSIONS.kubernetes,
      gitMajor: major,
      gitMinor: minor,
      gitTreeState: 'clean',
      ...(commit ? { gitCommit: commit } : {}),
      // The release's publication time, not now: the same inputs give the same binary.
      ...(time ? { buildDate: time.toISOString().replace(/\.\d+Z$/, 'Z') } : {}),
    };
    return { moduleDir, ldflags: xFlags(['k8s.io/client-go/pkg/version', 'k8s.io/component-base/version'], stamp) };
  });
  const cmds = ['kube-apiserver', 'kube-controller-manager'];
  await step(`download the modules of ${cmds.join(' and ')}`, () =>
    goDownloadDeps(dir.moduleDir, cmds.map((c) => `${k8s}/cmd/${c}`)),
  );
  for (const cmd of cmds) {
    await step(`build ${cmd}`, () => goBuild(dir.moduleDir, `${k8s}/cmd/${cmd}`, path.join(outDir, cmd), dir.ldflags));
  }
}

async function buildEtcd(workDir, outDir) {
  const etcd = 'go.etcd.io/etcd/server/v3';
  const dir = await step(`resolve ${etcd} ${VERSIONS.etcd}`, async () => {
    const { goMod, commit } = await downloadModule(etcd, VERSIONS.etcd, workDir);
    const lines = [...toolchainLines(goMod), '', `require ${etcd} ${VERSIONS.etcd}`];
    const moduleDir = await throwawayModule(workDir, 'etcd', lines);
    // etcd's scripts/build-lib.sh stamps the commit; the version itself is a constant.
    const ldflags = commit ? xFlags(['go.etcd.io/etcd/api/v3/version'], { GitSHA: commit.slice(0, 7) }) : [];
    return { moduleDir, ldflags };
  });
  await step('download the modules of etcd', () => goDownloadDeps(dir.moduleDir, [etcd]));
  await step('build etcd', () => goBuild(dir.moduleDir, etcd, path.join(outDir, 'etcd'), dir.ldflags));
}

async function buildHelm(workDir, outDir) {
  const helm = 'helm.sh/helm/v3';
  const dir = await step(`resolve ${helm} ${VERSIONS.helm}`, async () => {
    const { goMod, commit } = await downloadModule(helm, VERSIONS.helm, workDir);
    const lines = [...toolchainLines(goMod), '', `require ${helm} ${VERSIONS.helm}`];
    return { moduleDir: await throwawayModule(workDir, 'helm', lines), commit };
  });
  await step('download the modules of helm', () => goDownloadDeps(dir.moduleDir, [`${helm}/cmd/helm`]));
  // helm's Makefile: the release version, and the Kubernetes version its client-go belongs to as
  // the default .Capabilities.KubeVersion of `helm template` and `helm lint`.
  const clientGo = (await go(['list', '-mod=mod', '-m', '-f', '{{.Version}}', 'k8s.io/client-go'], dir.moduleDir)).trim();
  const [, clientMajor, clientMinor] = /^v(\d+)\.(\d+)\./.exec(clientGo);
  const kube = { k8sVersionMajor: String(Number(clientMajor) + 1), k8sVersionMinor: clientMinor };
  const ldflags = [
    ...xFlags([`${helm}/internal/version`], {
      version: VERSIONS.helm,
      metadata: '',
      gitTreeState: 'clean',
      ...(dir.commit ? { gitCommit: dir.commit } : {}),
    }),
    ...xFlags([`${helm}/pkg/lint/rules`, `${helm}/pkg/chartutil`], kube),
  ];
  await step('build helm', () => goBuild(dir.moduleDir, `${helm}/cmd/helm`, path.join(outDir, 'helm'), ldflags));
}

/** Runs each binary's version command, so a broken build is caught before it is cached. */
async function checkBinaries(outDir) {
  const checks = [
    ['kube-apiserver', ['--version'], `Kubernetes ${VERSIONS.kubernetes}`],
    ['kube-controller-manager', ['--version'], `Kubernetes ${VERSIONS.kubernetes}`],
    ['etcd', ['--version'], `etcd Version: ${VERSIONS.etcd.slice(1)}`],
    ['helm', ['version', '--short'], VERSIONS.helm],
  ];
  for (const [name, args, expected] of checks) {
    const output = await new Promise((resolve, reject) => {
      const child = spawn(path.join(outDir, name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks = [];
      child.stdout.on('data', (c) => chunks.push(c));
      child.stderr.on('data', (c) => chunks.push(c));
      child.on('error', reject);
      child.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    if (!output.includes(expected)) {
      throw new Error(`${name} ${args.join(' ')} printed ${JSON.stringify(output.trim())}, expected "${expected}"`);
    }
  }
}

/** Whether `pid` names a live process (kill(0) also succeeds for another user's process: EPERM). */
function processAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * Takes the build lock of this version set: a file holding the builder's pid, hard-linked into
 * place so that it never exists without its pid. A lock whose process is gone is stale and taken
 * over (two runs doing that at once may both build: harmless, see ensureKubeBinaries). Resolves to
 * a release function, or to undefined when another run finished the build while this one waited.
 */
async function acquireLock(lockFile, binDir) {
  const candidate = `${lockFile}.${process.pid}`;
  let announced = false;
  for (;;) {
    await writeFile(candidate, String(process.pid));
    try {
      await link(candidate, lockFile);
      return () => rm(lockFile, { force: true });
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    } finally {
      await rm(candidate, { force: true });
    }
    const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (processAlive(holder)) {
      if (!announced) {
        process.stderr.write(`${LOG_PREFIX} waiting for pid ${holder}, which is building ${binDir}\n`);
        announced = true;
      }
      await sleep(LOCK_POLL_MS);
      if (await isComplete(binDir)) return undefined;
    } else {
      await rm(lockFile, { force: true }); // its builder died
    }
  }
}

/**
 * Makes sure the pinned Kubernetes binaries exist, building them when they do not.
 * @returns {Promise<{ binDir: string, versions: { kubernetes: string, etcd: string, helm: string } }>}
 */
export async function ensureKubeBinaries() {
  const binDir = path.join(KUBE_BIN_ROOT, BIN_DIR_NAME);
  const result = { binDir, versions: { ...VERSIONS } };
  if (await isComplete(binDir)) return result;

  await mkdir(KUBE_BIN_ROOT, { recursive: true });
  const release = await acquireLock(path.join(KUBE_BIN_ROOT, `.${BIN_DIR_NAME}.lock`), binDir);
  if (release === undefined) return result;
  const partialPrefix = `.partial-${BIN_DIR_NAME}-`;
  let workDir;
  let outDir;
  try {
    if (await isComplete(binDir)) return result;
    // Leftovers of interrupted runs of this version set: `.partial-<name>-<pid>-<random>`.
    for (const entry of await readdir(KUBE_BIN_ROOT)) {
      const pid = Number(entry.slice(partialPrefix.length).split('-')[0]);
      if (entry.startsWith(partialPrefix) && !processAlive(pid)) {
        await rm(path.join(KUBE_BIN_ROOT, entry), { recursive: true, force: true });
      }
    }
    await rm(binDir, { recursive: true, force: true }); // an incomplete directory under the final name

    const started = process.hrtime.bigint();
    process.stderr.write(`${LOG_PREFIX} building ${BINARIES.join(', ')} into ${binDir} (takes long once)\n`);
    await step('check go', () => go(['version'], KUBE_BIN_ROOT));
    workDir = await mkdtemp(path.join(tmpdir(), 'vilna-mpc-kube-bin-'));
    outDir = await mkdtemp(path.join(KUBE_BIN_ROOT, `${partialPrefix}${process.pid}-`));
    await buildKubernetes(workDir, outDir);
    await buildEtcd(workDir, outDir);
    await buildHelm(workDir, outDir);
    await step('check the binaries', () => checkBinaries(outDir));
    await chmod(outDir, 0o755); // mkdtemp made it 0700
    try {
      await rename(outDir, binDir);
    } catch (e) {
      // Another run (which took over a lock it found stale at the same moment) finished first.
      if (!['ENOTEMPTY', 'EEXIST'].includes(e.code) || !(await isComplete(binDir))) throw e;
    }
    const total = (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1);
    process.stderr.write(`${LOG_PREFIX} done in ${total} s\n`);
    return result;
  } finally {
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
    if (outDir !== undefined) await rm(outDir, { recursive: true, force: true }); // gone once renamed
    await release();
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
    const { binDir } = await ensureKubeBinaries();
    process.stdout.write(`${binDir}\n`);
  } catch (e) {
    process.stderr.write(`${LOG_PREFIX} error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
