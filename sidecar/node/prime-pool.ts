/**
 * Safe primes for aux-info (DESIGN §3 "Arithmetic engine", §4 "HSM vault"): 1536-bit safe primes
 * take 0.1–6 s each and aux-info needs four per party, so the node generates them ahead of time,
 * in the background, and seals each one in the HSM, so that a restarted node has its pool at once
 * (docs/decisions/0001-sealed-prime-pool.md says why it is built this way).
 *
 * In the token and on disk, with the vault's own blob format and mechanisms:
 * - each pooled prime has a serial number s and is sealed (kind `prime`) as the (PRIME_POOL_KEY_ID,
 *   epoch s) object `prime-<s>` into `<dir>/prime-<s>.blob`: the blob "epoch" is the serial, so
 *   every prime has a sealing key of its own, `vilna-seal:<PRIME_POOL_KEY_ID>:<s>`;
 * - the token's watermark of PRIME_POOL_KEY_ID is the lowest serial not yet taken: the vault
 *   refuses to unseal (or seal) below it.
 *
 * Taking the lowest serial s: (1) the watermark moves to s + 1 inside the token, which is the
 * commit (from then on the prime counts as taken, whatever happens next); (2) the sealing keys of
 * every serial the watermark passed are destroyed, then their files removed (crypto-shredding: a
 * backup copy of the blob cannot be decrypted by anyone); (3) the prime is handed out. A crash
 * after (1) loses the prime rather than risk handing it out twice; the next start finishes (2)
 * for every file below the watermark. A prime that cannot be committed is dropped, never handed
 * out, and a fresh one is generated instead.
 *
 * At start every blob at or above the watermark is unsealed into memory (where aux-info needs the
 * primes anyway); one that does not unseal, or holds no prime of the pool's size, is reported and
 * skipped (it is shredded once the watermark passes it). Primes are never written in the clear
 * and never logged; logs name serials and object ids only.
 *
 * Development runs may instead take primes from a fixture file (public, the same every run: never
 * for real keys); each party takes its own disjoint slice so that no two parties share a prime,
 * and cycles through it (the factorisations are public anyway, so reuse costs nothing more).
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { arith } from '../../cggmp/index.ts';
import { readBlob, writeBlob, type Vault } from '../vault/index.ts';
import { WriteGate } from './write-gate.ts';

/**
 * The key id under which pooled primes are sealed. Longer than the 64 characters a plan's key id
 * may have (api KEY_ID_RE), so no key can ever share its sealing keys or its watermark.
 */
export const PRIME_POOL_KEY_ID = 'vilna-mpc.prime-pool.reserved.beyond-the-64-chars-of-plan-key-ids';
/** Object id (and file name, with `.blob`) of the prime with serial s. */
const OBJECT_ID_PREFIX = 'prime-';
const BLOB_FILE_RE = /^prime-(0|[1-9][0-9]{0,14})\.blob$/;
/** Temp files writeFileAtomic leaves behind when the process dies mid-write. */
const TEMP_FILE_RE = /^\.prime-.*\.tmp$/;
/** Wait before sealing a generated prime again after the HSM or the disk refused it. */
const STORE_RETRY_MS = 5000;
/** Checkpoint between the commit of a take and the shredding (test crash point). */
export const AFTER_TAKE_CHECKPOINT = 'prime-pool.after-take';

/** The vault operations the pool uses. */
export type PrimeVault = Pick<Vault, 'seal' | 'unseal' | 'watermark' | 'advanceWatermark' | 'destroySealingKey'>;

export interface PrimePoolLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** Where a prime handed out came from: the sealed pool, or generated on the spot. */
export type PrimeSourceKind = 'pool' | 'fresh';

export interface PrimePoolObserver {
  /** Sealed primes ready to be taken. */
  available?(count: number): void;
  /** One safe prime generated (for the pool or on the spot). */
  generated?(): void;
  /** One prime handed out to aux-info. */
  taken?(source: PrimeSourceKind): void;
}

export interface PrimePoolOptions {
  readonly vault: PrimeVault;
  /** Folder of the pool's blobs (beside the shards' folders, so an approver change re-seals them too). */
  readonly dir: string;
  readonly party: number;
  readonly bits: number;
  /** How many sealed primes the pool keeps ready. */
  readonly target: number;
  /** The blobs' write gate (an approver change re-seals under it alone). */
  readonly gate?: WriteGate;
  readonly log?: PrimePoolLogger;
  readonly observer?: PrimePoolObserver;
  /** Safe-prime generation; `arith.generateSafePrime` unless a test counts the calls. */
  readonly generate?: (bits: number) => Promise<bigint>;
  /** Test-only crash points. */
  readonly checkpoint?: (name: string) => void;
}

interface Pooled {
  readonly serial: number;
  readonly prime: bigint;
}

export interface LoadReport {
  readonly loaded: number;
  /** Blobs that did not unseal or held no usable prime. */
  readonly skipped: number;
  /** Blobs below the watermark (taken before a crash) shredded now. */
  readonly shredded: number;
}

const silent: PrimePoolLogger = { info() {}, warn() {} };

export function primeObjectId(serial: number): string {
  return `${OBJECT_ID_PREFIX}${serial}`;
}

/** The prime as `ceil(bits / 8)` big-endian bytes: the sealed plaintext. */
export function encodePrime(p: bigint, bits: number): Uint8Array {
  return arith.toBytesBE(p, Math.ceil(bits / 8));
}

/** The prime in a sealed plaintext, or undefined when it is not a `bits`-bit number. */
export function decodePrime(bytes: Uint8Array, bits: number): bigint | undefined {
  if (bytes.length !== Math.ceil(bits / 8)) return undefined;
  const p = arith.fromBytesBE(bytes);
  return arith.bitLength(p) === bits ? p : undefined;
}

function codeOf(e: unknown): string {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'E_OTHER';
}

export class PrimePool implements arith.PrimeSource {
  readonly #o: PrimePoolOptions;
  readonly #gate: WriteGate;
  readonly #log: PrimePoolLogger;
  readonly #generate: (bits: number) => Promise<bigint>;
  /** Sealed primes, lowest serial first. */
  readonly #ready: Pooled[] = [];
  /** The token's watermark as last read or moved: the lowest serial not taken. */
  #mark = 0;
  /** The serial the next sealed prime gets. */
  #next = 0;
  /** Serials at or above the watermark that may have a sealing key or a file: shredded once it passes them. */
  readonly #owned = new Set<number>();
  /** HSM and disk work of the pool, one step at a time. */
  #tail: Promise<unknown> = Promise.resolve();
  #filling = false;
  #closed = false;

  private constructor(o: PrimePoolOptions) {
    this.#o = o;
    this.#gate = o.gate ?? new WriteGate();
    this.#log = o.log ?? silent;
    this.#generate = o.generate ?? arith.generateSafePrime;
  }

  /** Opens the pool on its folder: shreds what a crash left taken, loads the rest. Does not start filling. */
  static async open(o: PrimePoolOptions): Promise<PrimePool> {
    if (!Number.isSafeInteger(o.bits) || o.bits < 16) throw new Error('prime pool: bits must be an integer ≥ 16');
    if (!Number.isSafeInteger(o.target) || o.target < 0) throw new Error('prime pool: target must be a non-negative integer');
    const pool = new PrimePool(o);
    const report = await pool.#serial(() => pool.#gate.shared(() => pool.#load()));
    pool.#log.info({ ...report, watermark: pool.#mark }, 'sealed prime pool loaded');
    pool.#o.observer?.available?.(pool.#ready.length);
    return pool;
  }

  /** Starts (or continues) background generation up to the target size. */
  fill(): void {
    if (this.#filling || this.#closed) return;
    this.#filling = true;
    void this.#fillLoop()
      .catch((e: unknown) => this.#log.warn({ code: codeOf(e), err: e }, 'prime generation failed; the pool refills at the next take'))
      .finally(() => (this.#filling = false));
  }

  get available(): number {
    return this.#ready.length;
  }

  /** A prime handed out once, ever: from the sealed pool when it has one of this size, else fresh. */
  async take(bits: number): Promise<bigint> {
    const pooled = bits === this.#o.bits && !this.#closed ? await this.#serial(() => this.#takePooled()) : undefined;
    this.fill();
    if (pooled !== undefined) {
      this.#o.observer?.taken?.('pool');
      return pooled;
    }
    const p = await this.#generate(bits);
    this.#o.observer?.generated?.();
    this.#o.observer?.taken?.('fresh');
    return p;
  }

  /** Stops filling and waits for the pool's HSM and disk work in progress; sealed primes stay sealed. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#tail;
    this.#ready.length = 0;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => undefined);
    return next;
  }

  async #load(): Promise<LoadReport> {
    const { vault, dir, party, bits } = this.#o;
    this.#mark = await vault.watermark(PRIME_POOL_KEY_ID);
    const serials: number[] = [];
    for (const f of await listDir(dir)) {
      if (TEMP_FILE_RE.test(f)) await rm(path.join(dir, f), { force: true });
      const m = BLOB_FILE_RE.exec(f);
      if (m) serials.push(Number(m[1]));
    }
    serials.sort((a, b) => a - b);
    let shredded = 0;
    let skipped = 0;
    for (const serial of serials) {
      if (serial < this.#mark) {
        if ((await this.#shred(serial)) === 'removed') shredded++;
        continue;
      }
      const objectId = primeObjectId(serial);
      try {
        const blob = await readBlob(dir, objectId);
        const { plaintext } = await vault.unseal(blob, { keyId: PRIME_POOL_KEY_ID, party, epoch: serial, kind: 'prime', objectId });
        let prime: bigint | undefined;
        try {
          prime = decodePrime(plaintext, bits);
        } finally {
          plaintext.fill(0);
        }
        if (prime === undefined) {
          skipped++;
          this.#log.warn({ objectId, code: 'E_PRIME_SIZE' }, `sealed prime skipped: it is not a ${bits}-bit prime`);
          continue;
        }
        this.#ready.push({ serial, prime });
      } catch (e) {
        skipped++;
        this.#log.warn({ objectId, code: codeOf(e), err: e }, 'sealed prime skipped: its blob does not unseal');
      }
    }
    for (const serial of serials) if (serial >= this.#mark) this.#owned.add(serial);
    this.#next = Math.max(this.#mark, (serials.at(-1) ?? -1) + 1);
    return { loaded: this.#ready.length, skipped, shredded };
  }

  async #fillLoop(): Promise<void> {
    let unsealed: bigint | undefined;
    while (!this.#closed && this.#ready.length < this.#o.target) {
      if (unsealed === undefined) {
        unsealed = await this.#generate(this.#o.bits);
        this.#o.observer?.generated?.();
      }
      if (this.#closed) return;
      try {
        const p = unsealed;
        await this.#serial(() => this.#gate.shared(() => this.#store(p)));
        unsealed = undefined;
      } catch (e) {
        this.#log.warn({ code: codeOf(e), err: e, retryInMs: STORE_RETRY_MS }, 'sealing a generated prime failed; retrying');
        await sleep(STORE_RETRY_MS, undefined, { ref: false });
      }
    }
  }

  async #store(prime: bigint): Promise<void> {
    if (this.#closed) return;
    const { vault, dir, party, bits } = this.#o;
    // The serial is used up even if sealing fails: its sealing key (if made) is destroyed when the watermark passes it.
    const serial = this.#next++;
    this.#owned.add(serial);
    const objectId = primeObjectId(serial);
    const plaintext = encodePrime(prime, bits);
    let blob: Uint8Array;
    try {
      blob = await vault.seal({ keyId: PRIME_POOL_KEY_ID, party, epoch: serial, kind: 'prime', objectId }, plaintext);
    } finally {
      plaintext.fill(0);
    }
    await writeBlob(dir, objectId, blob);
    this.#ready.push({ serial, prime });
    this.#o.observer?.available?.(this.#ready.length);
  }

  /** The lowest sealed prime, committed as taken in the token; undefined when none could be. */
  async #takePooled(): Promise<bigint | undefined> {
    const entry = this.#ready.shift();
    if (entry === undefined) return undefined;
    this.#o.observer?.available?.(this.#ready.length);
    try {
      await this.#gate.shared(() => this.#o.vault.advanceWatermark(PRIME_POOL_KEY_ID, entry.serial + 1));
    } catch (e) {
      // Not handed out: if the watermark did move, the prime is lost; if not, a restart loads it again.
      this.#log.warn({ objectId: primeObjectId(entry.serial), code: codeOf(e), err: e }, 'a sealed prime could not be marked taken in the HSM; it is dropped, not handed out');
      return undefined;
    }
    this.#mark = Math.max(this.#mark, entry.serial + 1);
    this.#o.checkpoint?.(AFTER_TAKE_CHECKPOINT);
    const passed = [...this.#owned].filter((s) => s < this.#mark).sort((a, b) => a - b);
    await this.#gate.shared(async () => {
      for (const serial of passed) if (await this.#shred(serial) !== 'kept') this.#owned.delete(serial);
    });
    return entry.prime;
  }

  /**
   * Destroys the sealing key of a serial below the watermark, then removes its blob file; the file
   * stays when the key could not be destroyed, so that the next start tries again.
   */
  async #shred(serial: number): Promise<'removed' | 'no-file' | 'kept'> {
    const objectId = primeObjectId(serial);
    try {
      await this.#o.vault.destroySealingKey(PRIME_POOL_KEY_ID, serial);
    } catch (e) {
      this.#log.warn({ objectId, code: codeOf(e), err: e }, 'the sealing key of a taken prime could not be destroyed; retried at the next start');
      return 'kept';
    }
    try {
      await rm(path.join(this.#o.dir, `${objectId}.blob`));
      return 'removed';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'no-file';
      this.#log.warn({ objectId, code: (e as NodeJS.ErrnoException).code ?? 'E_OTHER' }, 'the blob of a taken prime could not be removed (its sealing key is destroyed); retried at the next start');
      return 'kept';
    }
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Development only: this party's slice of a fixture file (`{ primes: { "1536": [hex…] } }`). */
export async function fixturePrimes(file: string, party: number, perParty: number): Promise<arith.PrimeSource> {
  const json = JSON.parse(await readFile(file, 'utf8')) as { primes: Record<string, string[]> };
  const used = new Map<number, number>();
  return {
    take(bits: number): Promise<bigint> {
      const list = json.primes[String(bits)] ?? [];
      const at = used.get(bits) ?? 0;
      const hex = list[(party - 1) * perParty + (at % perParty)];
      if (hex === undefined) return Promise.reject(new Error(`the development primes file has no ${bits}-bit primes for party ${party}`));
      used.set(bits, at + 1);
      const p = BigInt(`0x${hex}`);
      if (!arith.isSafePrime(p, bits)) return Promise.reject(new Error('development prime file holds a non-safe prime'));
      return Promise.resolve(p);
    },
  };
}
