/**
 * The epoch switch under crashes (DESIGN §4 "Epoch switch", issue 4 acceptance): a node killed
 * with SIGKILL at each step of a refresh — before voting, after voting, after promoting, before
 * retiring — and the coordinator killed after recording its decision and after the commit reached
 * only some nodes. In every case the parties end at one agreed epoch and sign under it.
 * Crashes come from the test-only entry point (test/support/test-sidecar.ts).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignatureResponse } from '../../api/signing.ts';
import { CeremonyFailed, LocalCluster } from '../../cli/local-parties.ts';
import { opensslVerdict } from '../support/signatures.ts';
import { E2E_TEST_TIMEOUT_MS } from '../support/timeouts.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const KEY = 'crash-key';

let dir: string;
let c: LocalCluster;
let publicKey: string;
let epoch = 0;
let requests = 0;

async function epochs(parties: readonly number[]): Promise<number[]> {
  return Promise.all(parties.map(async (p) => ((await c.getKey(p, KEY)).body as { epoch: number }).epoch));
}

/** Polls until every listed party reports `expected`. */
async function agreedEpoch(expected: number, parties: readonly number[] = [1, 2, 3], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await epochs(parties);
    if (seen.every((e) => e === expected)) return;
    if (Date.now() > deadline) throw new Error(`parties ${parties.join(',')} at epochs ${seen.join(',')}, expected ${expected}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A signature through `party` under the agreed epoch, checked with OpenSSL. */
async function signsAt(party: number, expectedEpoch: number): Promise<void> {
  const res = await c.sign(party, KEY, { requestId: `crash-${requests++}`, message: `after crash ${requests}`, encoding: 'utf8', hash: 'sha256' });
  expect(res.status).toBe(201);
  const sig = res.body as SignatureResponse;
  expect(sig.epoch).toBe(expectedEpoch);
  expect(sig.publicKey).toBe(publicKey);
  expect(opensslVerdict(sig)).toBe(true);
}

/** Restarts `party` with a crash point armed; `died` settles when it reaches it. */
async function arm(party: number, checkpoint: string): Promise<{ died: Promise<unknown> }> {
  await c.stop(party);
  await c.start(party, { env: { VILNA_TEST_CRASH_AT: checkpoint } });
  // Wrapped: an async function returning the bare promise would wait for the death itself.
  return { died: c.party(party).exited! };
}

function refreshPlan() {
  const plan = c.plan({ protocol: 'refresh', keyId: KEY, epoch: epoch + 1, threshold: 2 });
  return { plan, approvals: c.approve(plan) };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-crash-'));
  c = await LocalCluster.create({
    dir,
    parties: 3,
    primesFile: path.join(root, 'test', 'fixtures', 'safe-primes.json'),
    presignPoolSize: 1,
    roundTimeoutMs: 30_000,
    entry: { script: path.join(root, 'test', 'support', 'test-sidecar.ts') },
  });
  await c.startAll();
  const plan = c.plan({ protocol: 'keygen', keyId: KEY, epoch: 0, threshold: 2 });
  publicKey = (await c.ceremony(1, plan, c.approve(plan))).result!.publicKey;
  await c.approvePolicy(1, KEY, 0);
}, 300_000);

afterAll(async () => {
  await c?.stopAll('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kill -9 during the epoch switch', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('a party killed after sealing but before voting: the plan aborts, everyone stays at the old epoch and signs', async () => {
    const { died } = await arm(3, 'participant.after-seal-pending');
    const { plan, approvals } = refreshPlan();
    const planHash = await c.startCeremony(1, plan, approvals);
    expect(await died).toBe('SIGKILL');
    await c.start(3);
    await expect(c.waitCeremony(1, planHash)).rejects.toBeInstanceOf(CeremonyFailed);
    await agreedEpoch(epoch);
    await signsAt(3, epoch);
  });

  it('a party killed right after voting: restarted, it reports its vote and the plan commits', async () => {
    const { died } = await arm(3, 'participant.after-vote');
    const { plan, approvals } = refreshPlan();
    const planHash = await c.startCeremony(1, plan, approvals);
    expect(await died).toBe('SIGKILL');
    await c.start(3);
    await c.waitCeremony(1, planHash);
    epoch++;
    await agreedEpoch(epoch);
    await signsAt(3, epoch);
  });

  it('the coordinator killed after recording its decision: restarted, it finishes the switch', async () => {
    const { died } = await arm(1, 'coordinator.after-decision');
    const { plan, approvals } = refreshPlan();
    const planHash = await c.startCeremony(1, plan, approvals);
    expect(await died).toBe('SIGKILL');
    await c.start(1);
    await c.waitCeremony(1, planHash);
    epoch++;
    await agreedEpoch(epoch);
    await signsAt(1, epoch);
  });

  it('the coordinator killed after the commit reached only some nodes: the others learn it from a peer', async () => {
    const { died } = await arm(1, 'coordinator.after-first-commit');
    const { plan, approvals } = refreshPlan();
    const planHash = await c.startCeremony(1, plan, approvals);
    expect(await died).toBe('SIGKILL');
    // Without the coordinator, parties 2 and 3 settle on the new epoch between themselves.
    await agreedEpoch(epoch + 1, [2, 3]);
    await signsAt(2, epoch + 1);
    // Restarted, the coordinator catches up and retires the old epoch.
    await c.start(1);
    await c.waitCeremony(1, planHash);
    epoch++;
    await agreedEpoch(epoch);
    await signsAt(1, epoch);
  });

  it('a party killed after promoting its share but before recording it: restarted, it commits', async () => {
    const { died } = await arm(2, 'participant.after-promote');
    const { plan, approvals } = refreshPlan();
    const planHash = await c.startCeremony(3, plan, approvals);
    expect(await died).toBe('SIGKILL');
    await c.start(2);
    await c.waitCeremony(3, planHash);
    epoch++;
    await agreedEpoch(epoch);
    await signsAt(2, epoch);
  });

  it('a party killed while retiring the old epoch: restarted, the retirement completes and the old shard is gone', async () => {
    const { died } = await arm(3, 'participant.before-retire');
    const { plan, approvals } = refreshPlan();
    const planHash = await c.startCeremony(2, plan, approvals);
    expect(await died).toBe('SIGKILL');
    await c.start(3);
    await c.waitCeremony(2, planHash);
    epoch++;
    await agreedEpoch(epoch);
    await signsAt(3, epoch);
    for (const p of c.parties) {
      const blobs = (await readdir(path.join(p.dir, 'blobs', KEY))).filter((f) => f.endsWith('.blob'));
      expect(blobs, `party ${p.index}`).toEqual([`${KEY}.e${epoch}.blob`]);
    }
  });
});
