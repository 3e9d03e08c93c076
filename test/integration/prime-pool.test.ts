/**
 * The sealed prime pool against real SoftHSM tokens (DESIGN §3 "Arithmetic engine", §4 "HSM
 * vault", §6 layer 2; docs/decisions/0001-sealed-prime-pool.md): primes sealed in the HSM come
 * back after a restart without being generated again, a prime is handed out at most once across
 * restarts and crashes, a taken prime's blob (and any copy of it) can no longer be decrypted, and
 * a blob that does not unseal is reported and skipped. Each case has a token and a state
 * directory of its own; "generation" hands out the committed fixture primes (public test data)
 * and counts the calls, so no case waits for real 1536-bit safe primes.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { approverChangeHashHex, approverPublicKeyHex, approverSetHash, makeApproverSet, signApproval, type ApproverChange } from '../../api/index.ts';
import { faultModule, FaultControl, provisionToken, type ProvisionedToken } from '../../hsm-sim/index.ts';
import { ApproverRotation } from '../../sidecar/node/approver-rotation.ts';
import { WriteGate } from '../../sidecar/node/write-gate.ts';
import { AFTER_TAKE_CHECKPOINT, PRIME_POOL_KEY_ID, PrimePool, type PrimePoolOptions } from '../../sidecar/node/prime-pool.ts';
import { openVault, parseBlob, sealingKeyLabel, type Vault, type VaultOptions } from '../../sidecar/vault/index.ts';
import { fixturePrimes } from '../support/keys.ts';
import { inspectToken } from '../support/token-inspect.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BITS = 1536;
const PARTY = 1;
const FIXTURES = fixturePrimes(BITS);

interface LogEntry {
  readonly level: 'info' | 'warn';
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** One party's token, vault and pool folder. */
interface Party {
  readonly stateDir: string;
  readonly dir: string;
  readonly token: ProvisionedToken;
  vault: Vault;
  readonly logs: LogEntry[];
}

/** What each case made, undone after the file whether the case passed or not. */
const cleanups: (() => Promise<void>)[] = [];
const pools: PrimePool[] = [];

/** A fresh state directory (removed after the file). */
async function stateDirectory(): Promise<string> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'vilna-prime-pool-'));
  cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
  return stateDir;
}

/** Opens a vault that is closed after the file (the newest vault of a party, after a restart). */
async function vaultFor(token: ProvisionedToken, extra: Partial<VaultOptions> = {}): Promise<Vault> {
  const vault = await openVault({ modulePath: token.modulePath, tokenLabel: token.label, pinFile: token.pinFile, env: { SOFTHSM2_CONF: token.conf }, ...extra });
  cleanups.push(() => vault.close());
  return vault;
}

async function newParty(label: string, approvers: Uint8Array = new Uint8Array(randomBytes(32))): Promise<Party> {
  const stateDir = await stateDirectory();
  const token = await provisionToken({ stateDir, label });
  const vault = await vaultFor(token);
  await vault.pinApprovers(approvers);
  return { stateDir, dir: path.join(stateDir, 'blobs', PRIME_POOL_KEY_ID), token, vault, logs: [] };
}

/** Hands out fixture primes from `from` on, counting the calls. */
function counting(from: number): { generate: (bits: number) => Promise<bigint>; readonly calls: number } {
  let calls = 0;
  return {
    generate: (bits: number) => {
      if (bits !== BITS) return Promise.reject(new Error(`no ${bits}-bit fixtures here`));
      const p = FIXTURES[from + calls++];
      return p === undefined ? Promise.reject(new Error('fixture primes exhausted')) : Promise.resolve(p);
    },
    get calls() {
      return calls;
    },
  };
}

const taken = { pool: 0, fresh: 0 };

async function openPool(p: Party, extra: Partial<PrimePoolOptions> = {}): Promise<PrimePool> {
  const pool = await PrimePool.open({
    vault: p.vault,
    dir: p.dir,
    party: PARTY,
    bits: BITS,
    target: 4,
    log: {
      info: (fields, msg) => p.logs.push({ level: 'info', msg, fields }),
      warn: (fields, msg) => p.logs.push({ level: 'warn', msg, fields }),
    },
    observer: { taken: (source) => void taken[source]++ },
    generate: () => Promise.reject(new Error('this pool must not generate')),
    ...extra,
  });
  pools.push(pool);
  return pool;
}

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A pool filled with `count` fixture primes from `from`, then closed; returns the primes in serial order. */
async function filled(p: Party, count: number, from = 0): Promise<bigint[]> {
  const gen = counting(from);
  const pool = await openPool(p, { target: count, generate: gen.generate });
  pool.fill();
  await until(`${count} sealed primes`, () => pool.available === count);
  await pool.close();
  expect(gen.calls).toBe(count);
  return FIXTURES.slice(from, from + count);
}

async function blobFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.blob')).sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
}

/** The labels of the secret keys in a token, read by another process through PKCS#11 with the PIN. */
function secretKeyLabels(token: ProvisionedToken): string[] {
  return inspectToken<string[]>(token, `
    const found = s.find({ class: graphene.ObjectClass.SECRET_KEY });
    const labels = [];
    for (let i = 0; i < found.length; i++) labels.push(found.items(i).getAttribute({ label: null }).label);
    done(labels);`);
}

const primeKeyLabel = (serial: number): string => sealingKeyLabel(PRIME_POOL_KEY_ID, serial);

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(p);
    else if (entry.isFile()) yield p;
  }
}

/** The prime as big-endian and little-endian bytes, lower- and uppercase hex, decimal and base64. */
function encodings(p: bigint): Buffer[] {
  const hex = p.toString(16).padStart(BITS / 4, '0');
  const be = Buffer.from(hex, 'hex');
  return [be, Buffer.from(be).reverse(), Buffer.from(hex), Buffer.from(hex.toUpperCase()), Buffer.from(p.toString(10)), Buffer.from(be.toString('base64'))];
}

async function filesContaining(dir: string, p: bigint): Promise<string[]> {
  const forms = encodings(p);
  const hits: string[] = [];
  for await (const file of filesUnder(dir)) {
    const content = await readFile(file);
    if (forms.some((f) => content.includes(f))) hits.push(file);
  }
  return hits;
}

function logText(logs: readonly LogEntry[]): string {
  return JSON.stringify(logs, (_k, v: unknown) => (v instanceof Error ? { ...v, message: v.message } : typeof v === 'bigint' ? v.toString() : v));
}

afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});

afterAll(async () => {
  for (const undo of cleanups.reverse()) await undo().catch(() => undefined);
});

describe('sealed prime pool over SoftHSM', () => {
  it('gives a reopened pool its sealed primes back without generating any, and keeps no prime bytes on disk', async () => {
    const p = await newParty('vilna-primes-restart');
    const primes = await filled(p, 4);
    const files = await blobFiles(p.dir);
    expect(files).toEqual(['prime-0.blob', 'prime-1.blob', 'prime-2.blob', 'prime-3.blob']);
    for (const [i, f] of files.entries()) {
      const { header } = parseBlob(new Uint8Array(await readFile(path.join(p.dir, f))));
      expect(header).toMatchObject({ kind: 'prime', party: PARTY, keyId: PRIME_POOL_KEY_ID, epoch: i, objectId: `prime-${i}`, sealingKey: { label: primeKeyLabel(i) } });
    }
    // Neither the blobs nor the token's own files hold any prime in any encoding; the search finds a planted one.
    await writeFile(path.join(p.stateDir, 'planted'), primes[0]!.toString(10));
    expect(await filesContaining(p.stateDir, primes[0]!)).toEqual([path.join(p.stateDir, 'planted')]);
    await rm(path.join(p.stateDir, 'planted'));
    for (const prime of primes) expect(await filesContaining(p.stateDir, prime)).toEqual([]);

    // The restart: a new vault host and a new pool on the same state directory and token.
    await p.vault.close();
    p.vault = await vaultFor(p.token);
    const gen = counting(40);
    const pool = await openPool(p, { generate: gen.generate });
    expect(pool.available).toBe(4);
    expect(gen.calls).toBe(0);
    const before = { ...taken };
    const back = [];
    for (let i = 0; i < 4; i++) back.push(await pool.take(BITS));
    expect(back).toEqual(primes);
    expect(taken.pool - before.pool).toBe(4);
    expect(taken.fresh - before.fresh).toBe(0);
    expect(p.logs.findLast((l) => l.msg === 'sealed prime pool loaded')?.fields).toMatchObject({ loaded: 4, skipped: 0, shredded: 0 });
    expect(logText(p.logs)).not.toMatch(new RegExp(primes.map((x) => `${x.toString(16)}|${x.toString(10)}`).join('|'), 'i'));
  });

  it('never hands out a taken prime again after a restart', async () => {
    const p = await newParty('vilna-primes-once');
    const primes = await filled(p, 4);
    const first = await openPool(p);
    expect([await first.take(BITS), await first.take(BITS)]).toEqual(primes.slice(0, 2));
    await first.close();
    expect(await blobFiles(p.dir)).toEqual(['prime-2.blob', 'prime-3.blob']);
    expect(await p.vault.watermark(PRIME_POOL_KEY_ID)).toBe(2);

    const second = await openPool(p);
    expect(second.available).toBe(2);
    expect([await second.take(BITS), await second.take(BITS)]).toEqual(primes.slice(2));
    // Empty now: the next one is generated on the spot, never an old one again.
    await second.close();
    const third = await openPool(p, { generate: counting(10).generate, target: 0 });
    expect(third.available).toBe(0);
    expect(await third.take(BITS)).toBe(FIXTURES[10]);
  });

  it('never hands out a prime again when the process dies right after taking it, before any cleanup', async () => {
    const p = await newParty('vilna-primes-crash');
    const primes = await filled(p, 3);
    // Another process opens the pool, takes a prime and is killed at the checkpoint right after
    // the take committed in the token: the shredding never runs.
    const child = `
      const { openVault } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'sidecar', 'vault', 'index.ts')).href)});
      const { PrimePool } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'sidecar', 'node', 'prime-pool.ts')).href)});
      const vault = await openVault({ modulePath: process.env.MODULE, tokenLabel: process.env.LABEL, pinFile: process.env.PIN_FILE });
      const pool = await PrimePool.open({
        vault, dir: process.env.DIR, party: ${PARTY}, bits: ${BITS}, target: 0,
        checkpoint: (name) => { if (name === ${JSON.stringify(AFTER_TAKE_CHECKPOINT)}) process.kill(process.pid, 'SIGKILL'); },
      });
      await pool.take(${BITS});
      console.log('survived');`;
    const env = { SOFTHSM2_CONF: p.token.conf, MODULE: p.token.modulePath, LABEL: p.token.label, PIN_FILE: p.token.pinFile, DIR: p.dir };
    const died = await new Promise<{ signal: NodeJS.Signals | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', child], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      c.on('exit', (_code, signal) => resolve({ signal, out }));
    });
    expect(died.signal).toBe('SIGKILL');
    expect(died.out).not.toContain('survived');
    // The take is committed (watermark past serial 0) but nothing was cleaned up.
    expect(await p.vault.watermark(PRIME_POOL_KEY_ID)).toBe(1);
    expect(await blobFiles(p.dir)).toEqual(['prime-0.blob', 'prime-1.blob', 'prime-2.blob']);
    expect(secretKeyLabels(p.token)).toContain(primeKeyLabel(0));

    const pool = await openPool(p);
    expect(pool.available).toBe(2);
    expect([await pool.take(BITS), await pool.take(BITS)]).toEqual(primes.slice(1));
    expect(p.logs.findLast((l) => l.msg === 'sealed prime pool loaded')?.fields).toMatchObject({ loaded: 2, shredded: 1, watermark: 1 });
    // The restart finished the shredding of the prime the dead process took.
    expect(await blobFiles(p.dir)).toEqual([]);
    expect(secretKeyLabels(p.token)).not.toContain(primeKeyLabel(0));
  });

  it('destroys the sealing key of a taken prime: a copy of its blob made before the take cannot be unsealed', async () => {
    const p = await newParty('vilna-primes-shred');
    await filled(p, 3);
    const backup = path.join(p.stateDir, 'backup-prime-0.blob');
    await copyFile(path.join(p.dir, 'prime-0.blob'), backup);
    const copy = new Uint8Array(await readFile(backup));
    const expected = { keyId: PRIME_POOL_KEY_ID, party: PARTY, epoch: 0, kind: 'prime', objectId: 'prime-0' } as const;
    expect((await p.vault.unseal(copy, expected)).plaintext.length).toBe(BITS / 8);
    expect(secretKeyLabels(p.token)).toEqual(expect.arrayContaining([primeKeyLabel(0), primeKeyLabel(1), primeKeyLabel(2)]));

    const pool = await openPool(p);
    await pool.take(BITS);
    // Gone from the token, not merely refused by the watermark: no process with the PIN can decrypt the copy.
    const labels = secretKeyLabels(p.token);
    expect(labels).not.toContain(primeKeyLabel(0));
    expect(labels).toEqual(expect.arrayContaining([primeKeyLabel(1), primeKeyLabel(2)]));
    await expect(p.vault.unseal(copy, expected)).rejects.toMatchObject({ code: 'E_BLOB_ROLLBACK' });
    expect(await blobFiles(p.dir)).toEqual(['prime-1.blob', 'prime-2.blob']);
  });

  it('skips a blob that does not unseal with a clear log line and loads the rest', async () => {
    const p = await newParty('vilna-primes-corrupt');
    const primes = await filled(p, 4);
    const flipped = path.join(p.dir, 'prime-1.blob');
    const bytes = await readFile(flipped);
    bytes[bytes.length - 20]! ^= 0x01; // one bit of the ciphertext
    await writeFile(flipped, bytes);
    await writeFile(path.join(p.dir, 'prime-2.blob'), randomBytes(300)); // not a blob at all

    const pool = await openPool(p);
    expect(pool.available).toBe(2);
    const skipped = p.logs.filter((l) => l.level === 'warn');
    expect(skipped.map((l) => [l.fields.objectId, l.fields.code, l.msg])).toEqual([
      ['prime-1', 'E_BLOB_INVALID', 'sealed prime skipped: its blob does not unseal'],
      ['prime-2', 'E_BLOB_INVALID', 'sealed prime skipped: its blob does not unseal'],
    ]);
    expect(p.logs.findLast((l) => l.msg === 'sealed prime pool loaded')?.fields).toMatchObject({ loaded: 2, skipped: 2 });
    expect([await pool.take(BITS), await pool.take(BITS)]).toEqual([primes[0], primes[3]]);
    // Once the watermark passed them, the unreadable blobs are shredded too.
    expect(await blobFiles(p.dir)).toEqual([]);
    expect(logText(p.logs)).not.toMatch(new RegExp(primes.map((x) => `${x.toString(16)}|${x.toString(10)}`).join('|'), 'i'));
  });

  it('keeps filling after a restart from where the serials stopped, and generates only what is missing', async () => {
    const p = await newParty('vilna-primes-refill');
    const primes = await filled(p, 2);
    const gen = counting(20);
    const pool = await openPool(p, { target: 4, generate: gen.generate });
    pool.fill();
    await until('4 sealed primes', () => pool.available === 4);
    expect(gen.calls).toBe(2);
    expect(await blobFiles(p.dir)).toEqual(['prime-0.blob', 'prime-1.blob', 'prime-2.blob', 'prime-3.blob']);
    const out = [];
    for (let i = 0; i < 4; i++) out.push(await pool.take(BITS));
    expect(out).toEqual([...primes, FIXTURES[20], FIXTURES[21]]);
  });
});

describe('sealed prime pool and an approver change', () => {
  it('has its blobs re-sealed under the new approver set, so the primes still load after the change', async () => {
    const keys = (): KeyObject[] => [0, 1, 2].map(() => generateKeyPairSync('ed25519').privateKey);
    const [A, B] = [keys(), keys()];
    const setOf = (ks: readonly KeyObject[]) => makeApproverSet(ks.map((k) => approverPublicKeyHex(k)), 2);
    const p = await newParty('vilna-primes-approvers', approverSetHash(setOf(A)));
    const primes = await filled(p, 3);
    const gate = new WriteGate();
    const pool = await openPool(p, { gate });
    expect(await pool.take(BITS)).toBe(primes[0]);

    const c: ApproverChange = { version: 1, kind: 'approver-change', from: setOf(A), to: setOf(B), expiresAt: '2099-01-01T00:00:00Z', nonce: randomBytes(32).toString('hex') };
    const h = approverChangeHashHex(c);
    const rotation = new ApproverRotation({ vault: p.vault, gate, dir: path.join(p.stateDir, 'approvers'), blobsDir: path.join(p.stateDir, 'blobs'), audit: async () => undefined });
    const r = await rotation.apply(c, [...A.slice(0, 2), ...B.slice(0, 2)].map((k) => signApproval(h, k)));
    expect(r).toMatchObject({ resealed: 2, skipped: [] });
    await pool.close();

    const again = await openPool(p);
    expect(p.logs.findLast((l) => l.msg === 'sealed prime pool loaded')?.fields).toMatchObject({ loaded: 2, skipped: 0 });
    expect([await again.take(BITS), await again.take(BITS)]).toEqual(primes.slice(1));
  });
});

describe('sealed prime pool under PKCS#11 faults', () => {
  let faults: FaultControl | undefined;
  afterAll(async () => faults?.dispose());

  it('drops, never hands out, a prime whose take the HSM did not record, and shreds on the next start what it could not destroy', async () => {
    const shim = await faultModule();
    faults = await FaultControl.create();
    const stateDir = await stateDirectory();
    const token = await provisionToken({ stateDir, label: 'vilna-primes-faults' });
    const vault = await vaultFor(token, { modulePath: shim, operationTimeoutMs: 3000, env: { SOFTHSM2_CONF: token.conf, ...faults.env } });
    await vault.pinApprovers(new Uint8Array(randomBytes(32)));
    const p: Party = { stateDir, dir: path.join(stateDir, 'blobs', PRIME_POOL_KEY_ID), token, vault, logs: [] };
    const primes = await filled(p, 3);
    const handedOut: bigint[] = [];

    // The watermark object cannot be created: the take is not committed, so the prime is not handed out.
    const gen = counting(30);
    const pool = await openPool(p, { target: 0, generate: gen.generate });
    await faults.fail('C_CreateObject', 'CKR_DEVICE_ERROR', 1);
    handedOut.push(await pool.take(BITS));
    expect(handedOut[0]).toBe(FIXTURES[30]);
    expect(gen.calls).toBe(1);
    expect(p.logs.at(-1)).toMatchObject({ level: 'warn', fields: { objectId: 'prime-0', code: 'E_HSM_UNAVAILABLE' } });
    expect(await vault.watermark(PRIME_POOL_KEY_ID)).toBe(0);

    // Objects cannot be destroyed: the take commits (the watermark move creates before it destroys),
    // the prime is handed out, its sealing key and blob stay for the next start.
    await faults.clear(); // rules accumulate, and a new control file starts their counts again
    await faults.fail('C_DestroyObject', 'CKR_DEVICE_ERROR');
    handedOut.push(await pool.take(BITS));
    await faults.clear();
    expect(handedOut[1]).toBe(primes[1]);
    expect(await vault.watermark(PRIME_POOL_KEY_ID)).toBe(2);
    expect(await blobFiles(p.dir)).toEqual(['prime-0.blob', 'prime-1.blob', 'prime-2.blob']);
    await pool.close();

    const again = await openPool(p, { target: 0 });
    expect(again.available).toBe(1);
    handedOut.push(await again.take(BITS));
    expect(handedOut[2]).toBe(primes[2]);
    expect(await blobFiles(p.dir)).toEqual([]);
    expect(secretKeyLabels(token).filter((l) => l.startsWith(`vilna-seal:${PRIME_POOL_KEY_ID}:`))).toEqual([]);
    expect(new Set(handedOut).size).toBe(handedOut.length);
  });
});
