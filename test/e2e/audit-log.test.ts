/**
 * The audit log against an adversary, across three node processes (issue 16 items 2 and 3): a
 * flood of refused requests is throttled after a burst and leaves a bounded number of counted
 * entries; an entry no session follows is anchored at the peers within the anchor interval, so
 * cutting it fails `audit verify`; a deleted log and a log shorter than its anchored head fail it too, naming the party
 * and the peer whose anchor proves it; untouched logs pass. One cluster for the file: the steps
 * build on each other in order.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuditVerify } from '../../cli/audit.ts';
import { LocalCluster } from '../../cli/local-parties.ts';
import { REFUSALS_IN_FULL, type AuditEntry } from '../../sidecar/audit/index.ts';
import { REFUSAL_BURST } from '../../sidecar/http/refusal-throttle.ts';
import { AUDIT_ANCHOR_INTERVAL_MS } from '../../sidecar/node/audit-anchors.ts';
import { E2E_TEST_TIMEOUT_MS } from '../support/timeouts.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'vilna-mpc.js');
const PRIMES = path.join(root, 'test', 'fixtures', 'safe-primes.json');
const KEY = 'audit-key';
/** Junk plans and denied signing requests sent to one party. */
const JUNK_PLANS = 300;
const DENIED_SIGNATURES = 100;
/** Requests in flight at once during the flood. */
const FLOOD_CONCURRENCY = 25;

let dir: string;
let c: LocalCluster;
const copies: string[] = [];

const auditDir = (party: number) => path.join(c.party(party).dir, 'audit');

async function entries(party: number): Promise<AuditEntry[]> {
  const text = await readFile(path.join(auditDir(party), 'audit.jsonl'), 'utf8');
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as AuditEntry);
}

/** The parties' audit directories copied (in this order) to a fresh `<copy>/party-N/audit`. */
async function copyLogs(order: readonly number[] = [1, 2, 3]): Promise<string> {
  const copy = await mkdtemp(path.join(tmpdir(), 'vilna-audit-e2e-'));
  copies.push(copy);
  for (const p of order) await cp(auditDir(p), path.join(copy, `party-${p}`, 'audit'), { recursive: true });
  return copy;
}

/** Keeps the first `keep` lines of party's copied log: a clean cut at a line boundary. */
async function cutTo(copy: string, party: number, keep: number): Promise<void> {
  const file = path.join(copy, `party-${party}`, 'audit', 'audit.jsonl');
  const lines = (await readFile(file, 'utf8')).split('\n').slice(0, keep);
  await writeFile(file, lines.map((l) => `${l}\n`).join(''));
}

/**
 * A plan that names `from` as a party, as a refused plan must (a caller that is not a party of the
 * plan it hands in is refused before the plan is read, and nothing is audited), and is junk.
 */
const junkPlan = (i: number, from: number) => ({
  plan: { version: 1, keyId: `junk-${i}`, protocol: 'keygen', parties: [{ index: from, identityKey: c.party(from).ready!.identityKey, endpoint: 'https://x' }] },
  approvals: [],
});

async function inBatches(count: number, send: (i: number) => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i += FLOOD_CONCURRENCY) {
    statuses.push(...(await Promise.all(Array.from({ length: Math.min(FLOOD_CONCURRENCY, count - i) }, (_, j) => send(i + j)))));
  }
  return statuses;
}

const counted = (list: readonly AuditEntry[], kind: string) => list.filter((e) => e.kind === kind);
const sum = (list: readonly AuditEntry[]) => list.reduce((n, e) => n + (e.data.count as number), 0);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-e2e-audit-'));
  // No presignature pool: nothing runs in the background that the steps do not ask for.
  c = await LocalCluster.create({ dir, parties: 3, primesFile: PRIMES, presignPoolSize: 0 });
  await c.startAll();
  const plan = c.plan({ protocol: 'keygen', keyId: KEY, epoch: 0, threshold: 2 });
  await c.ceremony(1, plan, c.approve(plan));
}, 300_000);

afterAll(async () => {
  await c?.stopAll('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
  for (const copy of copies) await rm(copy, { recursive: true, force: true });
});

describe('the audit log under attack, across three processes', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('counts a flood of refused plans and denied signatures into a bounded number of entries; the log still verifies', async () => {
    const before = (await entries(2)).length;
    // Party 3's certificate and binding (a compromised party-3 host): any other caller is refused
    // before the plan is read and costs no audit entry at all.
    const as3 = await c.asParty(3);
    const plans = await inBatches(JUNK_PLANS, async (i) => (await as3.request(c.party(2).ready!.peerUrl, '/v1/peer/control/plans', junkPlan(i, 3), { retries: 0 })).status);
    // Refused until the caller's burst is spent (a batch in flight may get a few more through),
    // then throttled: 429 before the plan is read.
    const refusedPlans = plans.filter((s) => s === 400).length;
    expect(new Set(plans)).toEqual(new Set([400, 429]));
    expect(refusedPlans).toBeGreaterThanOrEqual(REFUSAL_BURST);
    expect(refusedPlans).toBeLessThan(REFUSAL_BURST + 2 * FLOOD_CONCURRENCY);
    // Another party is not held back by it.
    expect((await (await c.asParty(1)).request(c.party(2).ready!.peerUrl, '/v1/peer/control/ping', undefined, { method: 'GET', retries: 0 })).status).toBe(200);
    // The key has no signing policy yet: every request is denied (rule "path") by party 2 itself.
    const denied = await inBatches(DENIED_SIGNATURES, async (i) => (await c.sign(2, KEY, { requestId: `flood-${i}`, message: `junk ${i}`, encoding: 'utf8', hash: 'sha256', derivationPath: 'm/9/9' })).status);
    const deniedSignatures = denied.filter((s) => s === 403).length;
    expect(new Set(denied)).toEqual(new Set([403, 429]));
    expect(deniedSignatures).toBeGreaterThanOrEqual(REFUSAL_BURST);
    expect(deniedSignatures).toBeLessThan(REFUSAL_BURST + 2 * FLOOD_CONCURRENCY);

    // While the window is open only the first few of each group are written.
    const during = (await entries(2)).slice(before);
    expect(counted(during, 'plan.refused')).toHaveLength(REFUSALS_IN_FULL);
    expect(counted(during, 'policy.denied')).toHaveLength(REFUSALS_IN_FULL);
    // A graceful stop writes the counts of the open windows.
    await c.stop(2);
    const after = (await entries(2)).slice(before);
    const refused = counted(after, 'plan.refused');
    const denials = counted(after, 'policy.denied');
    const throttled = counted(after, 'request.throttled');
    expect(refused).toHaveLength(REFUSALS_IN_FULL + 1);
    expect(sum(refused)).toBe(refusedPlans);
    expect(denials).toHaveLength(REFUSALS_IN_FULL + 1);
    expect(sum(denials)).toBe(deniedSignatures);
    // Every request is accounted for: refused, or throttled (counted per caller and listener).
    expect(sum(throttled)).toBe(JUNK_PLANS - refusedPlans + DENIED_SIGNATURES - deniedSignatures);
    expect(throttled.filter((e) => e.data.caller === `peer:${c.party(3).ready!.identityKey}`).every((e) => e.data.listener === 'peer')).toBe(true);
    expect(throttled.filter((e) => e.data.caller === 'api-client:local-client').every((e) => e.data.listener === 'api')).toBe(true);
    expect(refused.at(-1)!.data).toMatchObject({ code: 'E_PLAN_INVALID', caller: `peer:${c.party(3).ready!.identityKey}`, count: refusedPlans - REFUSALS_IN_FULL, first: expect.any(String), last: expect.any(String) });
    expect(denials.at(-1)!.data).toMatchObject({ keyId: KEY, rule: 'path', caller: 'api-client:local-client', count: deniedSignatures - REFUSALS_IN_FULL });
    expect(after.length).toBeLessThan(6 * (REFUSALS_IN_FULL + 1));
    expect((await runAuditVerify(auditDir(2))).ok).toBe(true);
    await c.start(2);
  });

  it('anchors an entry no session follows within the anchor interval, so cutting it fails audit verify', async () => {
    const res = await (await c.asParty(2)).request(c.party(1).ready!.peerUrl, '/v1/peer/control/plans', junkPlan(-1, 2), { retries: 0 });
    expect(res.status).toBe(400);
    const refusal = (await entries(1)).findLast((e) => e.kind === 'plan.refused')!;
    expect(refusal.data).toMatchObject({ keyId: 'junk--1', count: 1 });
    // Both peers record a head covering it, from party 1's timer alone.
    const anchoredBy = async (peer: number) => (await entries(peer)).some((e) => e.kind === 'anchor.peer' && e.data.peer === 1 && (e.data.index as number) >= refusal.index);
    const waitMs = 3 * AUDIT_ANCHOR_INTERVAL_MS + 30_000;
    const deadline = Date.now() + waitMs;
    while (!((await anchoredBy(2)) && (await anchoredBy(3)))) {
      if (Date.now() > deadline) throw new Error(`the peers did not anchor party 1's entry ${refusal.index} within ${waitMs} ms`);
      await new Promise((r) => setTimeout(r, 500));
    }
    // The peers first, so that party 1's copy is at least as long as any head they hold of it.
    const intact = await copyLogs([2, 3, 1]);
    expect((await runAuditVerify(intact)).reports.find((r) => r.party === 1)).toMatchObject({ ok: true });
    const cut = await copyLogs([2, 3, 1]);
    await cutTo(cut, 1, refusal.index);
    const report = await runAuditVerify(cut);
    expect(report.ok).toBe(false);
    expect(report.reports.find((r) => r.party === 1)?.failure).toEqual({
      index: refusal.index,
      reason: expect.stringMatching(new RegExp(`^tail cut: peer [23] anchored entry \\d+ with hash [0-9a-f]{64}, log ends at entry ${refusal.index - 1}$`)),
    });
  });

  it('fails audit verify on a deleted log and on a log shorter than an anchored head, and passes the untouched logs', async () => {
    // Stopped (gracefully: last heads sent), so that the copies agree with each other.
    await c.stopAll();
    const untouched = await copyLogs();
    const intact = await runAuditVerify(untouched);
    expect(intact.ok, JSON.stringify(intact.reports.filter((r) => !r.ok))).toBe(true);
    expect(intact.reports.map((r) => r.anchorsChecked > 0)).toEqual([true, true, true]);

    const deleted = await copyLogs();
    await rm(path.join(deleted, 'party-1', 'audit', 'audit.jsonl'));
    const run = spawnSync(process.execPath, [bin, 'audit', 'verify', deleted], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^party 1: no audit log, but party [23] anchored its entry (\d+) \(party-[23]\/audit\/audit\.jsonl entry \d+\): entries 0\.\.\1 are missing$/m);
    expect(run.stdout).toMatch(/^FAIL party 1 \(no audit log\)$/m);

    const short = await copyLogs();
    await cutTo(short, 3, 2);
    const report = await runAuditVerify(short);
    expect(report.ok).toBe(false);
    expect(report.reports.find((r) => r.party === 3)?.failure).toMatchObject({ index: 2, reason: expect.stringMatching(/^tail cut: peer [12] anchored entry \d+ with hash [0-9a-f]{64}, log ends at entry 1$/) });
  });
});
