/**
 * A corrupt party among separate node processes (DESIGN §7): party 3 runs the test-only entry
 * point with one of the simulator's named behaviours; the honest nodes abort naming it, and no
 * honest party's stored key changes. The same entry point serves the operator's tests.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CeremonyFailed, LocalCluster } from '../../cli/local-parties.ts';
import { E2E_TEST_TIMEOUT_MS } from '../support/timeouts.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs: string[] = [];
let cluster: LocalCluster | undefined;

async function corruptCluster(behaviour: string): Promise<LocalCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vilna-corrupt-'));
  dirs.push(dir);
  const c = await LocalCluster.create({
    dir,
    parties: 3,
    primesFile: path.join(root, 'test', 'fixtures', 'safe-primes.json'),
    presignPoolSize: 0,
    roundTimeoutMs: 30_000,
    entry: { script: path.join(root, 'test', 'support', 'test-sidecar.ts') },
  });
  cluster = c;
  await Promise.all([c.start(1), c.start(2), c.start(3, { env: { VILNA_TEST_CORRUPT: behaviour } })]);
  return c;
}

async function keyFiles(c: LocalCluster, party: number): Promise<string[]> {
  try {
    return await readdir(path.join(c.party(party).dir, 'keys'));
  } catch {
    return [];
  }
}

afterEach(async () => {
  await cluster?.stopAll('SIGKILL');
  cluster = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('a corrupt party among node processes', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('a bad Schnorr proof in keygen: the honest nodes abort naming party 3, and store no key', async () => {
    const c = await corruptCluster('sch');
    const plan = c.plan({ protocol: 'keygen', keyId: 'corrupt-key', epoch: 0, threshold: 2 });
    const err = await c.ceremony(1, plan, c.approve(plan)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CeremonyFailed);
    const status = (err as CeremonyFailed).status as { error: { code: string; culprits: number[]; protocol: string } };
    expect(status.error, JSON.stringify(status.error)).toMatchObject({ code: 'E_PROTOCOL_ABORT', protocol: 'keygen', culprits: [3] });
    for (const p of [1, 2]) expect(await keyFiles(c, p)).toEqual([]);
  });

  it('a wrong δ share in presigning: the signing request fails naming party 3; the key is unchanged', async () => {
    const c = await corruptCluster('delta');
    const plan = c.plan({ protocol: 'keygen', keyId: 'delta-key', epoch: 0, threshold: 2 });
    // Keygen and aux-info are honest; the corrupt party deviates only when presigning. Party 1
    // coordinates, so the epoch's test signature is made by the honest pair {1, 2}.
    await c.ceremony(1, plan, c.approve(plan));
    await c.approvePolicy(1, 'delta-key', 0);
    const before = await readFile(path.join(c.party(1).dir, 'keys', 'delta-key.json'), 'utf8');
    // Party 3 leads the signer set {1, 3}.
    const res = await c.sign(3, 'delta-key', { requestId: 'delta', message: 'delta', encoding: 'utf8', hash: 'sha256' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const res1 = await c.sign(1, 'delta-key', { requestId: 'delta-1', message: 'delta', encoding: 'utf8', hash: 'sha256' });
    // Party 1 signs with party 2 (its default set {1, 2}): the honest pair is unaffected.
    expect(res1.status).toBe(201);
    const log1 = await readFile(path.join(c.party(1).dir, 'sidecar.log'), 'utf8');
    expect(log1).toMatch(/"protocol":"presign"[^\n]*"culprits":\[3\]/);
    expect(await readFile(path.join(c.party(1).dir, 'keys', 'delta-key.json'), 'utf8')).toBe(before);
  });
});
