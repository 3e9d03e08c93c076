/**
 * The vault against a real SoftHSM token (DESIGN §4 "HSM vault", §6 layer 2). One fresh token per
 * file in a temporary state directory, removed afterwards. Cases that need a second login state
 * (wrong PIN, missing token) run in a child process: PKCS#11 login is per process and token.
 */
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionToken, type ProvisionedToken } from '../../hsm-sim/index.ts';
import { openVault, readBlob, sealingKeyLabel, writeBlob, type Vault, type VaultError } from '../../sidecar/vault/index.ts';
import { inspectToken } from '../support/token-inspect.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LABEL = 'vilna-test-p1';
/** SubjectPublicKeyInfo prefix for a compressed P-256 point (RFC 5480): SEQUENCE, id-ecPublicKey, prime256v1, BIT STRING. */
const P256_SPKI_PREFIX = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex');

const APPROVERS = new Uint8Array(randomBytes(32));
let stateDir: string;
let blobDir: string;
let token: ProvisionedToken;
let vault: Vault;
const plaintexts: Uint8Array[] = [];

/** A secret-looking plaintext the disk search looks for afterwards. */
function secret(): Uint8Array {
  const p = new Uint8Array(randomBytes(48));
  plaintexts.push(p);
  return p;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as VaultError).code ?? String(e);
  }
  return 'resolved';
}

/** Opens the vault in a fresh Node process (same Node as this worker) and reports the error code. */
function openInChild(env: Record<string, string>, pinFile: string, tokenLabel: string): string {
  const vaultUrl = pathToFileURL(path.join(root, 'sidecar', 'vault', 'index.ts')).href;
  const script = `
    const { openVault } = await import(${JSON.stringify(vaultUrl)});
    try {
      const v = await openVault({ modulePath: ${JSON.stringify(token.modulePath)}, tokenLabel: ${JSON.stringify(tokenLabel)}, pinFile: ${JSON.stringify(pinFile)} });
      v.close();
      console.log('opened');
    } catch (e) { console.log(e.code + ' ' + e.message); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return `${r.stdout}${r.stderr}`.trim();
}

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(p);
    else if (entry.isFile()) yield p;
  }
}

/** Files under dir that contain needle as raw bytes, lowercase/uppercase hex, or base64. */
async function filesContaining(dir: string, needle: Uint8Array): Promise<string[]> {
  const buf = Buffer.from(needle);
  const forms = [buf, Buffer.from(buf.toString('hex')), Buffer.from(buf.toString('hex').toUpperCase()), Buffer.from(buf.toString('base64')), Buffer.from(buf.toString('base64url'))];
  const hits: string[] = [];
  for await (const file of filesUnder(dir)) {
    const content = await readFile(file);
    if (forms.some((f) => content.includes(f))) hits.push(file);
  }
  return hits;
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'vilna-vault-'));
  blobDir = path.join(stateDir, 'blobs');
  token = await provisionToken({ stateDir, label: LABEL });
  // SoftHSM reads its configuration when the module is initialised: one token config per process.
  process.env.SOFTHSM2_CONF = token.conf;
  vault = await openVault({ modulePath: token.modulePath, tokenLabel: LABEL, pinFile: token.pinFile });
  expect(await codeOf(vault.seal({ keyId: 'k0', party: 1, epoch: 0, kind: 'other', objectId: 'k0.x' }, secret()))).toBe('E_TRUST_ANCHOR_MISSING');
  await vault.pinApprovers(APPROVERS);
});

afterAll(async () => {
  vault?.close();
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
});

describe('provisioning', () => {
  it('is idempotent and keeps PIN files private', async () => {
    const again = await provisionToken({ stateDir, label: LABEL });
    expect(again).toEqual(token);
    expect((await stat(token.pinFile)).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(path.dirname(token.pinFile), 'so.pin'))).mode & 0o777).toBe(0o600);
  });
});

describe('approver pin', () => {
  it('keeps the pinned approver set and refuses another one without the replace path', async () => {
    expect(Buffer.from((await vault.pinApprovers(APPROVERS)).hash)).toEqual(Buffer.from(APPROVERS));
    expect(await codeOf(vault.pinApprovers(new Uint8Array(32)))).toBe('E_TRUST_ANCHOR_MISMATCH');
  });

  it('binds the approver set into every blob: after a replacement old blobs are refused', async () => {
    const fields = { keyId: 'kp', party: 1, epoch: 0, kind: 'shard', objectId: 'kp.shard' } as const;
    const blob = await vault.seal(fields, secret());
    const before = (await vault.approverPin())!;
    const other = new Uint8Array(randomBytes(32));
    const after = await vault.replaceApproverPin(before, other);
    expect(after.sequence).toBe(before.sequence + 1);
    expect(await codeOf(vault.unseal(blob, fields))).toBe('E_TRUST_ANCHOR_MISMATCH');
    // A stale expectation (someone else replaced it meanwhile) is refused.
    expect(await codeOf(vault.replaceApproverPin(before, APPROVERS))).toBe('E_TRUST_ANCHOR_MISMATCH');
    await vault.replaceApproverPin(after, APPROVERS);
    expect((await vault.unseal(blob, fields)).plaintext.length).toBe(48);
  });
});

describe('vault over SoftHSM', () => {
  it('seals and unseals a round trip through a blob file', async () => {
    const pt = secret();
    const fields = { keyId: 'k1', party: 1, epoch: 0, kind: 'shard', objectId: 'k1.shard' } as const;
    const blob = await vault.seal(fields, pt);
    await writeBlob(blobDir, fields.objectId, blob);
    const back = await vault.unseal(await readBlob(blobDir, fields.objectId), fields);
    expect(Buffer.from(back.plaintext).equals(Buffer.from(pt))).toBe(true);
    expect(back.header.sealingKey.label).toBe(sealingKeyLabel('k1', 0));
    expect(back.header.iv).toMatch(/^[0-9a-f]{24}$/);
    const twice = await vault.seal(fields, pt);
    expect(Buffer.from(twice).equals(Buffer.from(blob))).toBe(false); // fresh IV each time
  });

  it('keeps the sealing key inside the token: CKA_VALUE is CKR_ATTRIBUTE_SENSITIVE, even with the PIN', async () => {
    await vault.sealingKey('k1', 0);
    // Another process holding the PIN asks the token for the key's value through PKCS#11.
    const out = inspectToken<Record<string, unknown>>(token, `
      const found = s.find({ class: graphene.ObjectClass.SECRET_KEY, label: process.env.KEY_LABEL });
      const key = found.items(0);
      const attrs = key.getAttribute({ sensitive: null, extractable: null, neverExtractable: null });
      let value;
      try { key.getAttribute({ value: null }); value = 'READABLE'; } catch (e) { value = e.message; }
      done({ count: found.length, ...attrs, value });`, { KEY_LABEL: sealingKeyLabel('k1', 0) });
    expect(out).toMatchObject({ count: 1, sensitive: true, extractable: false, neverExtractable: true });
    expect(out.value).toMatch(/CKR_ATTRIBUTE_SENSITIVE/);
  });

  it('refuses a blob copied under another object id', async () => {
    const fields = { keyId: 'k1', party: 1, epoch: 0, kind: 'aux', objectId: 'k1.aux-a' } as const;
    const blob = await vault.seal(fields, secret());
    await writeBlob(blobDir, 'k1.aux-b', blob);
    expect(await codeOf(readBlob(blobDir, 'k1.aux-b'))).toBe('E_BLOB_INVALID');
    expect(await codeOf(vault.unseal(blob, { ...fields, objectId: 'k1.aux-b' }))).toBe('E_BLOB_INVALID');
    // Rewriting the header to name the new file breaks the AES-GCM tag (the header is the AAD).
    const text = Buffer.from(blob).toString('latin1').replace('"objectId":"k1.aux-a"', '"objectId":"k1.aux-b"');
    const forged = new Uint8Array(Buffer.from(text, 'latin1'));
    await writeBlob(blobDir, 'k1.aux-b', forged);
    const read = await readBlob(blobDir, 'k1.aux-b');
    expect(await codeOf(vault.unseal(read, { ...fields, objectId: 'k1.aux-b' }))).toBe('E_BLOB_INVALID');
  });

  it("refuses an older epoch's blob put back after the watermark moved", async () => {
    const base = { keyId: 'k2', party: 1, kind: 'shard', objectId: 'k2.shard' } as const;
    const old = await vault.seal({ ...base, epoch: 1 }, secret());
    await writeBlob(blobDir, base.objectId, old);
    const current = await vault.seal({ ...base, epoch: 2 }, secret());
    await writeBlob(blobDir, base.objectId, current);
    await vault.advanceWatermark('k2', 2);
    expect(await vault.watermark('k2')).toBe(2);
    expect(await codeOf(vault.advanceWatermark('k2', 1))).toBe('E_BLOB_ROLLBACK');

    await writeBlob(blobDir, base.objectId, old); // the attacker restores a backup
    expect(await codeOf(vault.unseal(await readBlob(blobDir, base.objectId), base))).toBe('E_BLOB_ROLLBACK');
    expect(await codeOf(vault.seal({ ...base, epoch: 1 }, secret()))).toBe('E_BLOB_ROLLBACK');
    expect((await vault.unseal(current, base)).header.epoch).toBe(2);
  });

  it("makes an epoch's blobs unreadable once its sealing key is destroyed", async () => {
    const fields = { keyId: 'k3', party: 1, epoch: 7, kind: 'prime', objectId: 'k3.prime-0' } as const;
    const blob = await vault.seal(fields, secret());
    expect((await vault.unseal(blob, fields)).plaintext.length).toBe(48);
    expect(await vault.destroySealingKey('k3', 7)).toBe(1);
    expect(await codeOf(vault.unseal(blob, fields))).toBe('E_SEALING_KEY_MISSING');
  });

  it('signs with the identity key; node:crypto verifies r‖s', async () => {
    const pub = await vault.ensureIdentityKey();
    expect(pub.length).toBe(33);
    expect(Buffer.from(await vault.ensureIdentityKey()).equals(Buffer.from(pub))).toBe(true);
    const message = new TextEncoder().encode('prepared vote, epoch 3');
    const sig = await vault.signIdentity(message);
    expect(sig.length).toBe(64);
    const key = createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
    expect(verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(verify('sha256', new TextEncoder().encode('other'), { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
  });

  it('serves concurrent operations from the session pool', async () => {
    const pts = Array.from({ length: 12 }, () => secret());
    const blobs = await Promise.all(pts.map((pt, i) => vault.seal({ keyId: 'k4', party: 1, epoch: 0, kind: 'prime', objectId: `k4.p${i}` }, pt)));
    const back = await Promise.all(blobs.map((b, i) => vault.unseal(b, { keyId: 'k4', party: 1, kind: 'prime', objectId: `k4.p${i}` })));
    back.forEach((u, i) => expect(Buffer.from(u.plaintext).equals(Buffer.from(pts[i]!))).toBe(true));
  });

  it('reports a wrong PIN as E_HSM_PIN and a missing token as E_HSM_TOKEN, without the PIN', async () => {
    const wrongPin = path.join(stateDir, 'wrong.pin');
    await writeFile(wrongPin, 'not-the-pin-0000\n', { mode: 0o600 });
    const out = openInChild({ SOFTHSM2_CONF: token.conf }, wrongPin, LABEL);
    expect(out).toMatch(/^E_HSM_PIN /);
    expect(out).not.toContain('not-the-pin-0000');
    expect(openInChild({ SOFTHSM2_CONF: token.conf }, token.pinFile, 'no-such-token')).toMatch(/^E_HSM_TOKEN /);
    expect(openInChild({ SOFTHSM2_CONF: token.conf }, token.pinFile, LABEL)).toBe('opened');
  });

  it('leaves no plaintext on disk (raw, hex, base64) under the state and token directories', async () => {
    expect(plaintexts.length).toBeGreaterThan(10);
    // The search itself finds a planted needle.
    await writeFile(path.join(stateDir, 'planted'), Buffer.from(plaintexts[0]!).toString('base64'));
    expect(await filesContaining(stateDir, plaintexts[0]!)).toEqual([path.join(stateDir, 'planted')]);
    await rm(path.join(stateDir, 'planted'));
    expect(token.tokenDir.startsWith(stateDir)).toBe(true);
    for (const pt of plaintexts) expect(await filesContaining(stateDir, pt)).toEqual([]);
  });
});
