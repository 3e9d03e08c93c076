/**
 * PKCS#11 fault injection for tests (DESIGN §6 layer 2: faults at the PKCS#11 boundary, not by
 * replacing the vault). `faultModule()` builds the shim module (./fault/pkcs11-fault.c) that
 * wraps the real SoftHSM module; a `FaultControl` writes the control file the shim re-reads
 * before every call. The vault opens the shim as its modulePath and gets `control.env` in the
 * environment of its PKCS#11 host process.
 *
 * Rules accumulate until `clear()`; for each call the shim applies the first matching rule that
 * has firings left. Development and tests only: production code never imports `hsm-sim/`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildFaultModule, type BuildOptions } from './fault/build.ts';
import { findSoftHsmModule } from './provision.ts';

export { FaultBuildError, type BuildOptions } from './fault/build.ts';

/** The PKCS#11 functions the shim wraps, or `*` for all of them. */
export type FaultFunction =
  | '*'
  | 'C_GetTokenInfo'
  | 'C_OpenSession'
  | 'C_GetSessionInfo'
  | 'C_Login'
  | 'C_CreateObject'
  | 'C_DestroyObject'
  | 'C_GetAttributeValue'
  | 'C_FindObjectsInit'
  | 'C_FindObjects'
  | 'C_FindObjectsFinal'
  | 'C_EncryptInit'
  | 'C_Encrypt'
  | 'C_EncryptUpdate'
  | 'C_EncryptFinal'
  | 'C_DecryptInit'
  | 'C_Decrypt'
  | 'C_DecryptUpdate'
  | 'C_DecryptFinal'
  | 'C_SignInit'
  | 'C_Sign'
  | 'C_SignUpdate'
  | 'C_SignFinal'
  | 'C_GenerateKey'
  | 'C_GenerateKeyPair'
  | 'C_GenerateRandom';

/** Environment for the process that loads the shim. */
export interface FaultEnv {
  /** The real module the shim forwards to. */
  readonly VILNA_FAULT_MODULE: string;
  /** The control file. */
  readonly VILNA_FAULT_CONTROL: string;
}

const CKR_RE = /^(CKR_[A-Z_]+|0x[0-9a-fA-F]+)$/;
const NS_PER_S = 1_000_000_000n;

/** Path of the built shim module (compiled on first use, cached under ~/.cache/vilna-mpc). */
export async function faultModule(opts: BuildOptions = {}): Promise<string> {
  return buildFaultModule(opts);
}

export class FaultControl {
  /** The control file the shim reads. */
  readonly file: string;
  /** Give this to the vault (VaultOptions.env) together with the token's SOFTHSM2_CONF. */
  readonly env: FaultEnv;
  readonly #dir: string;
  readonly #ownsDir: boolean;
  #rules: string[] = [];
  /** mtime (seconds) of the last write: each write gets a strictly later one (see #write). */
  #lastMtime = 0;

  private constructor(dir: string, ownsDir: boolean, realModule: string) {
    this.#dir = dir;
    this.#ownsDir = ownsDir;
    this.file = path.join(dir, 'pkcs11-fault.control');
    this.env = { VILNA_FAULT_MODULE: realModule, VILNA_FAULT_CONTROL: this.file };
  }

  /**
   * A control file with no faults. `dir` defaults to a fresh temporary directory that
   * `dispose()` removes; `realModule` defaults to this machine's SoftHSM.
   */
  static async create(opts: { dir?: string; realModule?: string } = {}): Promise<FaultControl> {
    const ownsDir = opts.dir === undefined;
    const dir = opts.dir ?? (await mkdtemp(path.join(tmpdir(), 'vilna-fault-')));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const control = new FaultControl(dir, ownsDir, opts.realModule ?? findSoftHsmModule());
    await control.clear();
    return control;
  }

  /** fn returns ckr without reaching the token (the next `count` calls, or every call). */
  async fail(fn: FaultFunction, ckr: string, count?: number): Promise<void> {
    await this.#add(`${fn} fail ${assertCkr(ckr)}`, count);
  }

  /** fn reaches the token, then reports ckr: the effect happened but the caller hears a failure. */
  async failAfter(fn: FaultFunction, ckr: string, count?: number): Promise<void> {
    await this.#add(`${fn} fail-after ${assertCkr(ckr)}`, count);
  }

  /** fn blocks for ms (a bounded hang), then reports CKR_DEVICE_ERROR. */
  async hang(fn: FaultFunction, ms: number, count?: number): Promise<void> {
    await this.#add(`${fn} hang ${assertMs(ms)}`, count);
  }

  /** fn waits ms, then runs normally. */
  async slow(fn: FaultFunction, ms: number, count?: number): Promise<void> {
    await this.#add(`${fn} slow ${assertMs(ms)}`, count);
  }

  /** Every call fails as if the token were pulled: CKR_TOKEN_NOT_PRESENT / CKR_DEVICE_REMOVED. */
  async removeToken(count?: number): Promise<void> {
    await this.#add('* removed', count);
  }

  /** Removes every fault. */
  async clear(): Promise<void> {
    this.#rules = [];
    await this.#write();
  }

  /** Clears the faults and removes the directory when this control created it. */
  async dispose(): Promise<void> {
    await this.clear();
    if (this.#ownsDir) await rm(this.#dir, { recursive: true, force: true });
  }

  async #add(rule: string, count: number | undefined): Promise<void> {
    if (count !== undefined && (!Number.isSafeInteger(count) || count < 1)) throw new RangeError('count must be a positive integer');
    this.#rules.push(count === undefined ? rule : `${rule} count ${count}`);
    await this.#write();
  }

  /**
   * Replaces the control file atomically. The shim notices a change by inode, size and mtime;
   * a freed inode can be reused at once and mtimes are coarse, so each file gets an mtime
   * strictly later than the previous one.
   */
  async #write(): Promise<void> {
    const temp = path.join(this.#dir, `.control.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(temp, 'wx', 0o600);
    try {
      await fh.writeFile(this.#rules.map((r) => `${r}\n`).join(''));
      await fh.sync();
    } finally {
      await fh.close();
    }
    const mtime = Math.max(Date.now() / 1000, this.#lastMtime + 0.01);
    this.#lastMtime = mtime;
    await utimes(temp, mtime, mtime);
    await rename(temp, this.file);
    // Firing markers of earlier generations are dead weight; the shim names a generation by the
    // control file's inode and mtime, so this file's markers are kept.
    const st = await stat(this.file, { bigint: true });
    const current = `${path.basename(this.file)}.fired.${st.ino}-${st.mtimeNs / NS_PER_S}-${st.mtimeNs % NS_PER_S}.`;
    const base = `${path.basename(this.file)}.fired.`;
    for (const name of await readdir(this.#dir)) {
      if (name.startsWith(base) && !name.startsWith(current)) await rm(path.join(this.#dir, name), { force: true });
    }
  }
}

function assertCkr(ckr: string): string {
  if (!CKR_RE.test(ckr)) throw new RangeError(`not a CKR_ name or hex value: ${ckr}`);
  return ckr;
}

function assertMs(ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError('milliseconds must be a non-negative integer');
  return ms;
}
