/**
 * End to end (DESIGN §6 layer 4, issue 4 acceptance): three party nodes as separate processes on
 * loopback, each with its own SoftHSM token; plans approved by development approvers; keygen,
 * signatures through the API, policy, refresh; then what is at rest, the audit logs and the
 * metrics as Prometheus scraped them. One cluster for the whole file: the steps build on each
 * other in order.
 */
import { spawnSync } from 'node:child_process';
import { createHash, verify as osslVerify } from 'node:crypto';
import { chmod, copyFile, cp, lstat, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HDKey } from '@scure/bip32';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignatureRequest, SignatureResponse } from '../../api/signing.ts';
import { LocalCluster, fetchJson } from '../../cli/local-parties.ts';
import { runAuditVerify } from '../../cli/audit.ts';
import { SECURITY_LEVEL_128, protocols } from '../../cggmp/index.ts';
import { openVault, readBlob } from '../../sidecar/vault/index.ts';
import { startPrometheus } from '../support/prometheus.ts';
import { expectSignatureValid, secp256k1Key } from '../support/signatures.ts';
import { E2E_TEST_TIMEOUT_MS } from '../support/timeouts.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PRIMES = path.join(root, 'test', 'fixtures', 'safe-primes.json');
const KEY = 'e2e-key';

let dir: string;
let c: LocalCluster;
let xpub: string;
let publicKey: string;
let beforePolicy: Awaited<ReturnType<typeof sign>>;

const expectValid = expectSignatureValid;

async function sign(party: number, req: Partial<SignatureRequest> & { requestId: string }): Promise<{ status: number; body: SignatureResponse & { error?: { code: string; rule?: string } } }> {
  const res = await c.sign(party, KEY, { message: `e2e ${req.requestId}`, encoding: 'utf8', hash: 'sha256', ...req } as SignatureRequest);
  return res as never;
}

async function snapshot(partyDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const sub of ['keys', 'blobs', 'decisions']) {
    const base = path.join(partyDir, sub);
    let entries: string[] = [];
    try {
      entries = (await readdir(base, { recursive: true })) as string[];
    } catch {
      continue;
    }
    for (const e of entries.sort()) {
      try {
        out[`${sub}/${e}`] = createHash('sha256').update(await readFile(path.join(base, e))).digest('hex');
      } catch {
        out[`${sub}/${e}`] = 'dir';
      }
    }
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-e2e-'));
  c = await LocalCluster.create({ dir, parties: 3, primesFile: PRIMES, presignPoolSize: 2 });
  await c.startAll();
  const plan = c.plan({ protocol: 'keygen', keyId: KEY, epoch: 0, threshold: 2 });
  const done = await c.ceremony(1, plan, c.approve(plan));
  xpub = done.result!.xpub;
  publicKey = done.result!.publicKey;
  beforePolicy = await sign(1, { requestId: 'before-policy' });
  await c.approvePolicy(1, KEY, 0);
}, 300_000);

afterAll(async () => {
  await c?.stopAll('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a 2-of-3 key across three processes', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('gives every party the same key, whose xpub @scure/bip32 reads back', async () => {
    for (const p of [1, 2, 3]) {
      const res = await c.getKey(p, KEY);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ keyId: KEY, publicKey, xpub, epoch: 0, threshold: 2 });
    }
    expect(Buffer.from(HDKey.fromExtendedKey(xpub).publicKey!).toString('hex')).toBe(publicKey);
  });

  it('signs nothing before its approvers approved a signing policy', () => {
    expect(beforePolicy.status).toBe(403);
    expect(beforePolicy.body.error).toMatchObject({ code: 'E_POLICY_DENIED', rule: 'path' });
  });

  it('signs through any party for every hash; OpenSSL and noble verify', async () => {
    const hashes = ['sha256', 'sha256d', 'keccak256'] as const;
    for (const [i, p] of [1, 2, 3].entries()) {
      const res = await sign(p, { requestId: `any-${p}`, hash: hashes[i]! });
      expect(res.status).toBe(201);
      expect(res.body.publicKey).toBe(publicKey);
      expect(res.body.signers).toContain(p);
      expectValid(res.body);
    }
  });

  it('signs under a derived path with the key @scure/bip32 derives from the xpub', async () => {
    const res = await sign(2, { requestId: 'derived', derivationPath: 'm/0/7' });
    expect(res.status).toBe(201);
    expect(res.body.publicKey).toBe(Buffer.from(HDKey.fromExtendedKey(xpub).derive('m/0/7').publicKey!).toString('hex'));
    expectValid(res.body);
  });

  it('keeps a derived path signed for again warm: the refill presigns for it, the next request finds one pooled (issue 11 item 2)', async () => {
    const pooledAt2 = async (p: string): Promise<number> => ((await c.getKey(2, KEY)).body as { presignatures: Record<string, number> }).presignatures[p] ?? 0;
    const hitsAt2 = async (): Promise<number> => {
      const text = await fetch(c.party(2).ready!.metricsUrl!).then((r) => r.text());
      return Number(new RegExp(`^vilna_mpc_presign_pool_lookups_total\\{[^}]*key_id="${KEY}"[^}]*result="hit"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    const waitPooled = async (p: string, n: number): Promise<void> => {
      const deadline = Date.now() + 120_000;
      while ((await pooledAt2(p)) < n) {
        if (Date.now() > deadline) throw new Error(`party 2 did not pool ${n} presignatures at ${p}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    // m/0/7 was signed for once through party 2 (above): a second request makes it hot there.
    expect(await pooledAt2('m/0/7')).toBe(0);
    expect((await sign(2, { requestId: 'derived-again', derivationPath: 'm/0/7' })).status).toBe(201);
    await waitPooled('m/0/7', 2);
    const hits = await hitsAt2();
    const res = await sign(2, { requestId: 'derived-warm', derivationPath: 'm/0/7' });
    expect(res.status).toBe(201);
    expect(res.body.publicKey).toBe(Buffer.from(HDKey.fromExtendedKey(xpub).derive('m/0/7').publicKey!).toString('hex'));
    expectValid(res.body);
    expect(await hitsAt2()).toBe(hits + 1);
    // A path asked for once stays cold, and the one taken is made again.
    expect(await pooledAt2('m/0/8')).toBe(0);
    await waitPooled('m/0/7', 2);
  });

  it('answers a retried requestId with the same signature and refuses another body under it', async () => {
    const a = await sign(1, { requestId: 'idem-1' });
    const b = await sign(1, { requestId: 'idem-1' });
    expect(a.status).toBe(201);
    expect(b.body).toEqual(a.body);
    const other = await sign(1, { requestId: 'idem-1', message: 'something else' });
    expect(other.status).toBe(409);
    expect(other.body.error?.code).toBe('E_REQUEST_CONFLICT');
  });

  it('never uses one presignature twice under concurrent requests', async () => {
    const results = await Promise.all(
      Array.from({ length: 9 }, (_, i) => sign((i % 3) + 1, { requestId: `burst-${i}` })),
    );
    for (const r of results) {
      expect(r.status).toBe(201);
      expectValid(r.body);
    }
    // r is the x-coordinate of the presignature's nonce point: a reused presignature repeats it.
    expect(new Set(results.map((r) => r.body.r)).size).toBe(results.length);
  });

  it('keeps signing through every party, warm and cold, after 1,000 presign prepares from one party (issue 16 item 1)', async () => {
    // Before: 64 such prepares filled a key's nonce table for five minutes, and every signature
    // that needed a fresh presignature answered 409 E_BUSY. Party 2's certificate and binding
    // (a compromised party-2 host without its HSM) only churn party 2's own budget now.
    const as2 = await c.asParty(2);
    const flood = async (at: number, signers: number[]): Promise<number[]> => {
      const url = c.party(at).ready!.peerUrl;
      const statuses: number[] = [];
      for (let i = 0; i < 1000; i += 10) {
        const batch = Array.from({ length: 10 }, () => as2.request(url, '/v1/peer/control/presign/prepare', { keyId: KEY, epoch: 0, signers, derivationPath: 'm' }, { retries: 0 }));
        for (const r of await Promise.all(batch)) statuses.push(r.status);
      }
      return statuses;
    };
    for (const [at, signers] of [[1, [1, 2]], [3, [2, 3]]] as const) {
      const statuses = await flood(at, [...signers]);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1000);
      const text = await fetch(c.party(at).ready!.metricsUrl!).then((r) => r.text());
      // 1,000 − 32 (the budget) of the flood's nonces dropped, and maybe a few more: party 2's own
      // refill may prepare at this party meanwhile, under the same budget.
      const evicted = Number(/^vilna_mpc_presign_prepare_refusals_total\{reason="evicted_oldest"[^}]*\} (\d+)$/m.exec(text)?.[1]);
      expect(evicted).toBeGreaterThanOrEqual(968);
      expect(evicted).toBeLessThan(968 + 32);
    }
    for (const p of [1, 2, 3]) {
      // Warm: a pooled presignature at m (the pool refills within seconds); cold: a derived path.
      for (const [requestId, derivationPath] of [[`flood-warm-${p}`, 'm'], [`flood-cold-${p}`, 'm/0/9']] as const) {
        const res = await sign(p, { requestId, derivationPath });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        expectValid(res.body);
      }
    }
  });

  it('denies unauthenticated clients', async () => {
    const res = await c.sign(1, KEY, { requestId: 'anon', message: 'x', encoding: 'utf8', hash: 'sha256' }, { token: 'not-a-configured-token' });
    expect(res.status).toBe(401);
    expect((res.body as { error: { code: string } }).error.code).toBe('E_UNAUTHENTICATED');
  });

  it('refuses, on every node and with nothing changed, plans with too few or forged approvals, t = 1, or a foreign identity key', async () => {
    const before = await Promise.all(c.parties.map((p) => snapshot(p.dir)));
    const good = c.plan({ protocol: 'refresh', keyId: KEY, epoch: 1, threshold: 2 });
    const forged = c.approve(good).map((a, i) => (i === 0 ? { ...a, signature: (a.signature[0] === '0' ? '1' : '0') + a.signature.slice(1) } : a));
    const otherPlan = c.plan({ protocol: 'refresh', keyId: KEY, epoch: 1, threshold: 2 });
    const foreignApproval = [c.approve(otherPlan)[0]!, c.approve(good)[1]!];
    const tOne = { ...good, threshold: 1 };
    const swapped = { ...good, parties: good.parties.map((p) => (p.index === 3 ? { ...p, identityKey: c.party(1).ready!.identityKey } : p)) };
    const stranger = Buffer.from(protocols.developmentSigner().publicKey).toString('hex');
    const impostor = { ...good, parties: good.parties.map((p) => (p.index === 3 ? { ...p, identityKey: stranger } : p)) };
    const cases: [string, unknown, unknown, string[]][] = [
      ['too few approvals', good, c.approve(good, 1), ['E_PLAN_UNAPPROVED']],
      ['a forged approval', good, forged, ['E_APPROVAL_INVALID']],
      ['an approval of another plan', good, foreignApproval, ['E_APPROVAL_INVALID']],
      ['t = 1', tOne, c.approve(good), ['E_PLAN_INVALID']],
      ['a duplicated identity key', swapped, c.approve(good), ['E_PLAN_INVALID', 'E_IDENTITY_MISMATCH']],
      ['an identity key that is not the pinned one', impostor, c.approve(impostor as never), ['E_IDENTITY_MISMATCH', 'E_PLAN_INVALID']],
    ];
    // Handed in as a coordinator does, by a party the plans name (party 1).
    const asParty1 = await c.asParty(1);
    for (const [what, plan, approvals, codes] of cases) {
      for (const p of c.parties) {
        const res = await asParty1.request(p.ready!.peerUrl, '/v1/peer/control/plans', { plan, approvals }, { retries: 0 });
        expect(res.status, `${what} at party ${p.index}`).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(codes, `${what} at party ${p.index}`).toContain((res.body as { error: { code: string } }).error.code);
      }
    }
    const after = await Promise.all(c.parties.map((p) => snapshot(p.dir)));
    expect(after).toEqual(before);
  });

  it('enforces an approved policy: a denial answers 403 naming the rule, is audited and counted', async () => {
    const plan = c.plan({ protocol: 'policy', keyId: KEY, epoch: 0, threshold: 2, policy: { version: 1, allowedPaths: ['m', 'm/0/*'] } });
    await c.ceremony(3, plan, c.approve(plan));
    const denied = await sign(1, { requestId: 'policy-denied', derivationPath: 'm/1/2' });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'E_POLICY_DENIED', rule: 'path' });
    const allowed = await sign(1, { requestId: 'policy-allowed', derivationPath: 'm/0/3' });
    expect(allowed.status).toBe(201);
    const log = await readFile(path.join(c.party(1).dir, 'audit', 'audit.jsonl'), 'utf8');
    expect(log).toContain('"kind":"policy.denied"');
    expect(log).toContain('"requestId":"policy-denied"');
    const metrics = await fetch(c.party(1).ready!.metricsUrl!).then((r) => r.text());
    expect(metrics).toMatch(/vilna_mpc_policy_denials_total\{[^}]*rule="path"[^}]*\} [1-9]/);
  });

  it('signs a bare digest only when the policy allows it, presigning for that digest', async () => {
    const message = Buffer.from('a message only the client saw');
    const digest = createHash('sha256').update(message).digest('hex');
    const refused = await sign(2, { requestId: 'digest-refused', message: digest, encoding: 'hex', hash: 'none' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'E_POLICY_DENIED', rule: 'prehashed' });
    await c.approvePolicy(1, KEY, 0, { version: 1, allowedPaths: ['m', 'm/0/*'], allowPrehashed: true });
    const res = await sign(2, { requestId: 'digest-allowed', message: digest, encoding: 'hex', hash: 'none' });
    expect(res.status).toBe(201);
    expect(res.body.digest).toBe(digest);
    expect(osslVerify('sha256', message, secp256k1Key(res.body.publicKey), Buffer.from(res.body.der, 'hex'))).toBe(true);
    expectValid(res.body);
  });

  it('is scraped by a real Prometheus during signing, which reads back vilna_mpc_signatures_total', async () => {
    const promDir = await mkdtemp(path.join(tmpdir(), 'vilna-prom-'));
    const prom = await startPrometheus({ targets: c.parties.map((p) => new URL(p.ready!.metricsUrl!).host), dir: promDir });
    try {
      for (let i = 0; i < 3; i++) expect((await sign(i + 1, { requestId: `scraped-${i}` })).status).toBe(201);
      const samples = await prom.waitFor('sum(vilna_mpc_signatures_total{outcome="ok"})', { until: (s) => s.length > 0 && Number(s[0]!.value) >= 3 });
      expect(Number(samples[0]!.value)).toBeGreaterThanOrEqual(3);
    } finally {
      await prom.stop();
      await rm(promDir, { recursive: true, force: true });
    }
  });

  it('refreshes: same public key, every party at epoch 1, epoch 0 shredded, signing goes on', async () => {
    // Keep party 2's epoch-0 shard to try putting it back later.
    const blobDir = path.join(c.party(2).dir, 'blobs', KEY);
    await copyFile(path.join(blobDir, `${KEY}.e0.blob`), path.join(dir, 'party-2-epoch-0.blob'));
    const plan = c.plan({ protocol: 'refresh', keyId: KEY, epoch: 1, threshold: 2 });
    const done = await c.ceremony(2, plan, c.approve(plan));
    expect(done.result).toMatchObject({ publicKey, epoch: 1 });
    for (const p of [1, 2, 3]) expect((await c.getKey(p, KEY)).body).toMatchObject({ publicKey, epoch: 1 });
    expect((await readdir(blobDir)).filter((f) => f.endsWith('.blob'))).toEqual([`${KEY}.e1.blob`]);
    const res = await sign(3, { requestId: 'after-refresh', hash: 'sha256d' });
    expect(res.status).toBe(201);
    expect(res.body.epoch).toBe(1);
    expectValid(res.body);
  });

  it('shreds an old epoch only on proof that the new one signs', async () => {
    const state = JSON.parse(await readFile(path.join(c.party(1).dir, 'keys', `${KEY}.json`), 'utf8')) as { current: { planHash: string } };
    const planHash = state.current.planHash;
    const bogus = { planHash, testSignature: { r: '11'.repeat(32), s: '22'.repeat(32) } };
    // From a party of the key (only parties may ask at all): the signature is what is refused.
    const res = await (await c.asParty(2)).request(c.party(1).ready!.peerUrl, `/v1/peer/control/keys/${KEY}/retire`, bogus, { retries: 0 });
    expect(res.status).toBe(403);
    expect((res.body as { error: { code: string } }).error.code).toBe('E_BAD_SIGNATURE');
  });

  it('passes audit verify, and fails it naming the entry after any tampering', async () => {
    const copy = await mkdtemp(path.join(tmpdir(), 'vilna-audit-'));
    // Heads go to the peers shortly after each session (debounced): let the last ones arrive.
    await new Promise((r) => setTimeout(r, 2500));
    try {
      const logs = c.parties.map((p) => path.join(copy, `party-${p.index}`, 'audit'));
      for (const p of c.parties) await cp(path.join(p.dir, 'audit'), path.join(copy, `party-${p.index}`, 'audit'), { recursive: true });
      expect((await runAuditVerify(copy)).ok).toBe(true);
      const file = path.join(logs[0]!, 'audit.jsonl');
      const original = await readFile(file);
      const lines = original.toString('utf8').trimEnd().split('\n');
      const mutations: [string, () => Buffer][] = [
        ['one byte changed', () => {
          const b = Buffer.from(original);
          const at = original.indexOf('"kind"', Math.floor(original.length / 2)) + 3;
          b[at] = b[at]! ^ 0x01;
          return b;
        }],
        ['a line removed', () => Buffer.from(`${[...lines.slice(0, 5), ...lines.slice(6)].join('\n')}\n`)],
        ['two lines swapped', () => Buffer.from(`${[...lines.slice(0, 4), lines[5], lines[4], ...lines.slice(6)].join('\n')}\n`)],
        // Cut back to before the last signature: peers anchored heads past that point.
        ['the tail cut', () => Buffer.from(`${lines.slice(0, lines.findLastIndex((l) => l.includes('"kind":"signature"'))).join('\n')}\n`)],
      ];
      for (const [what, mutate] of mutations) {
        await writeFile(file, mutate());
        const r = await runAuditVerify(copy);
        expect(r.ok, what).toBe(false);
        const bad = r.reports.find((x) => !x.ok);
        expect(bad, what).toBeDefined();
        expect(JSON.stringify(bad)).toMatch(/entry|index/);
        await writeFile(file, original);
      }
      expect((await runAuditVerify(copy)).ok).toBe(true);
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});

describe('what is at rest', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    await c.stopAll();
  }, 60_000);

  it('leaves every file under the state directory 0600 and every directory 0700', async () => {
    const loose: string[] = [];
    const visit = async (p: string): Promise<void> => {
      const info = await lstat(p);
      if (info.isSymbolicLink()) return;
      const mode = info.mode & 0o777;
      if (mode !== (info.isDirectory() ? 0o700 : 0o600)) loose.push(`${path.relative(dir, p)} ${mode.toString(8)}`);
      if (info.isDirectory()) for (const name of await readdir(p)) await visit(path.join(p, name));
    };
    await visit(dir);
    expect(loose).toEqual([]);
  });

  it('tightens at start what was left open to group or others, and says so in its log', async () => {
    const p = c.party(3);
    const loosened = [p.configFile, path.join(p.dir, 'keys', `${KEY}.json`), path.join(p.dir, 'audit', 'audit.jsonl'), p.token.pinFile];
    for (const f of loosened) await chmod(f, 0o644);
    await chmod(path.join(p.dir, 'keys'), 0o755);
    await c.start(3);
    try {
      for (const f of loosened) expect((await stat(f)).mode & 0o777, f).toBe(0o600);
      expect((await stat(path.join(p.dir, 'keys'))).mode & 0o777).toBe(0o700);
      const warning = (await readFile(p.logFile, 'utf8')).split('\n').find((l) => l.includes('tightened to 0600 / 0700'));
      expect(JSON.parse(warning!)).toMatchObject({ level: 'warn', count: 5, paths: expect.arrayContaining(['config.yaml (was 0644)', 'keys (was 0755)']) });
    } finally {
      await c.stop(3);
    }
  });

  it('holds no share or Paillier prime in any file, in raw, hex or base64 form', async () => {
    for (const p of c.parties) {
      const vault = await openVault({ modulePath: p.token.modulePath, tokenLabel: p.token.label, pinFile: p.token.pinFile, env: { SOFTHSM2_CONF: p.token.conf } });
      try {
        const objectId = `${KEY}.e1`;
        const blob = await readBlob(path.join(p.dir, 'blobs', KEY), objectId);
        const { plaintext } = await vault.unseal(blob, { keyId: KEY, party: p.index, epoch: 1, kind: 'shard', objectId });
        const n = new DataView(plaintext.buffer, plaintext.byteOffset).getUint32(0, false);
        const share = protocols.decodeKeyShare(plaintext.subarray(4, 4 + n), plaintext.subarray(4 + n), SECURITY_LEVEL_128);
        const secrets = [share.secret.x, share.secret.paillier!.p, share.secret.paillier!.q].map((v) => {
          const hex = v.toString(16);
          return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
        });
        const hits: string[] = [];
        for (const file of (await readdir(p.dir, { recursive: true })) as string[]) {
          let content: Buffer;
          try {
            content = await readFile(path.join(p.dir, file));
          } catch {
            continue; // a directory
          }
          for (const s of secrets) {
            const forms = [s, Buffer.from(s.toString('hex')), Buffer.from(s.toString('hex').toUpperCase()), Buffer.from(s.toString('base64')), Buffer.from(s.toString('base64url'))];
            if (forms.some((f) => content.includes(f))) hits.push(file);
          }
        }
        expect(hits, `party ${p.index}`).toEqual([]);

        // A blob under another object id, and the older epoch's blob put back, are refused.
        const blobDir = path.join(p.dir, 'blobs', KEY);
        await writeFile(path.join(blobDir, `${KEY}.e9.blob`), blob);
        await expect(readBlob(blobDir, `${KEY}.e9`)).rejects.toMatchObject({ code: 'E_BLOB_INVALID' });
        if (p.index === 2) {
          await copyFile(path.join(dir, 'party-2-epoch-0.blob'), path.join(blobDir, `${KEY}.e0.blob`));
          const old = await readBlob(blobDir, `${KEY}.e0`);
          await expect(vault.unseal(old, { keyId: KEY, party: 2, epoch: 0, kind: 'shard', objectId: `${KEY}.e0` })).rejects.toMatchObject({ code: 'E_BLOB_ROLLBACK' });
        }
      } finally {
        await vault.close();
      }
    }
  });

  it('will not reveal a sealing key: reading its value fails with CKR_ATTRIBUTE_SENSITIVE', () => {
    const p = c.party(1);
    const graphene = pathToFileURL(path.join(root, 'node_modules', 'graphene-pk11', 'build', 'cjs', 'index.js')).href;
    const script = `
      import { readFileSync } from 'node:fs';
      const g = (await import(${JSON.stringify(graphene)})).default;
      const mod = g.Module.load(${JSON.stringify(p.token.modulePath)}, 'softhsm');
      mod.initialize();
      const slots = mod.getSlots(true);
      let slot;
      for (let i = 0; i < slots.length; i++) if (slots.items(i).getToken().label.trim() === ${JSON.stringify(p.token.label)}) slot = slots.items(i);
      const s = slot.open(6);
      s.login(readFileSync(${JSON.stringify(p.token.pinFile)}, 'utf8').trim());
      const keys = s.find({ class: g.ObjectClass.SECRET_KEY });
      let out = 'no sealing key';
      for (let i = 0; i < keys.length; i++) {
        try { keys.items(i).getAttribute({ value: null }); out = 'READ'; } catch (e) { out = String(e.message); }
      }
      console.log(keys.length + ' ' + out);
      s.logout(); s.close(); mod.finalize();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, SOFTHSM2_CONF: p.token.conf }, encoding: 'utf8', timeout: 30_000 });
    expect(`${r.stdout}${r.stderr}`).toMatch(/^[1-9]\d* .*CKR_ATTRIBUTE_SENSITIVE/m);
  });

  it('refuses nothing to a restarted cluster: the nodes come back at epoch 1 and sign', async () => {
    await c.startAll();
    const res = await sign(1, { requestId: 'after-restart' });
    expect(res.status).toBe(201);
    expect(res.body.epoch).toBe(1);
    expectValid(res.body);
    await fetchJson(`${c.party(1).ready!.apiUrl}/v1/health`, { method: 'GET', caPem: await c.caPem() }).then((h) => expect(h.status).toBe(200));
  });
});
