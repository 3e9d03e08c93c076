/**
 * Signer failover over real node processes (issue 11 item 1, issue 16 item 6): a 2-of-3 key,
 * party 1 receives the requests and its default signer set is {1, 2}. Party 2 is killed
 * (SIGKILL) or hung (SIGSTOP) by the test-only entry point at the moment it holds a request of
 * party 1's in flight — after consuming its presignature, or when its presign session starts —
 * and the request still completes within seconds, signed by {1, 3}, instead of waiting for the
 * 120 s round timeout. While party 2 is down, parties 1 and 3 both sign; once it is back, party 1
 * signs with it again; and with any one party down, the two others sign through either of them.
 *
 * The pool is off (every request presigns), so each request's signer set is chosen then and a
 * failover costs a fresh presignature of the other set. Party 3 coordinates the ceremony, so the
 * epoch's test signature ({1, 3}) does not reach party 2's crash point.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignatureResponse } from '../../api/signing.ts';
import { LocalCluster } from '../../cli/local-parties.ts';
import { expectSignatureValid } from '../support/signatures.ts';
import { E2E_TEST_TIMEOUT_MS } from '../support/timeouts.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const KEY = 'failover-key';
/** The nodes' round timeout (the default): what a request waited for before failover. */
const ROUND_TIMEOUT_MS = 120_000;
/**
 * What a failed-over request may take: two cold presignatures (the failed set's and the other
 * one's, a few seconds each here, several times that when the machine is loaded) and, for a hung
 * co-signer, the 5 s online-round deadline. Generous, and still half the round timeout.
 */
const FAILOVER_BOUND_MS = ROUND_TIMEOUT_MS / 2;
/** The reachability probe's interval (10 s) plus its ping timeout (3 s) and some slack. */
const PROBE_ROUND_MS = 15_000;

let dir: string;
let c: LocalCluster;
let n = 0;

async function sign(party: number): Promise<{ status: number; body: SignatureResponse & { error?: { code: string; message: string } }; ms: number }> {
  const t0 = performance.now();
  const res = await c.sign(party, KEY, { requestId: `failover-${++n}`, message: `failover ${n} via ${party}`, encoding: 'utf8', hash: 'sha256' });
  return { status: res.status, body: res.body as SignatureResponse & { error?: { code: string; message: string } }, ms: Math.round(performance.now() - t0) };
}

/** A request that must be signed, and by `signers`: the signature verified by OpenSSL and @noble/curves. */
async function signedBy(party: number, signers: number[]): Promise<number> {
  const res = await sign(party);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.signers).toEqual(signers);
  expectSignatureValid(res.body);
  return res.ms;
}

async function metric(party: number, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await fetch(c.party(party).ready!.metricsUrl!).then((r) => r.text());
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m?.[1] === name && Object.entries(labels).every(([k, v]) => m[2]!.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}

/** Starts party `index` and waits until every other running party's probe has seen it up since. */
async function startAndWaitSeen(index: number, env: Record<string, string> = {}): Promise<void> {
  await c.start(index, { env });
  await new Promise((r) => setTimeout(r, PROBE_ROUND_MS));
  for (const p of c.parties.filter((x) => x.index !== index && x.proc)) {
    expect(await metric(p.index, 'vilna_mpc_peer_reachable', { peer: String(index) }), `party ${p.index} sees party ${index}`).toBe(1);
  }
}

/** How party `index` exited (the signal of a crash point), waiting at most a little. */
async function exitOf(index: number): Promise<number | string | null | undefined> {
  const exited = c.party(index).exited;
  return Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000))]);
}

const report = (what: string, ms: number): void => void process.stderr.write(`failover e2e: ${what}: ${ms} ms\n`);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-failover-'));
  c = await LocalCluster.create({
    dir,
    parties: 3,
    primesFile: path.join(root, 'test', 'fixtures', 'safe-primes.json'),
    presignPoolSize: 0,
    roundTimeoutMs: ROUND_TIMEOUT_MS,
    entry: { script: path.join(root, 'test', 'support', 'test-sidecar.ts') },
  });
  await Promise.all([c.start(1), c.start(2, { env: { VILNA_TEST_CRASH_AT: 'sign.consumed' } }), c.start(3)]);
  const plan = c.plan({ protocol: 'keygen', keyId: KEY, epoch: 0, threshold: 2 });
  await c.ceremony(3, plan, c.approve(plan));
  await c.approvePolicy(3, KEY, 0);
}, E2E_TEST_TIMEOUT_MS);

afterAll(async () => {
  await c?.stopAll('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('signer failover across node processes, 2-of-3', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('party 2 killed mid-request, after consuming its presignature: the request to party 1 completes within seconds, signed by {1, 3}', async () => {
    const ms = await signedBy(1, [1, 3]);
    report('SIGKILL of party 2 in the online round, request time', ms);
    expect(ms).toBeLessThan(FAILOVER_BOUND_MS);
    // Party 2 died at its crash point, so the request was in flight at it with {1, 2}.
    expect(await exitOf(2)).toBe('SIGKILL');
    expect(await metric(1, 'vilna_mpc_signer_failovers_total', { key_id: KEY, reason: 'unreachable' })).toBe(1);
    expect(await metric(1, 'vilna_mpc_signer_set_switches_total', { key_id: KEY, reason: 'unavailable' })).toBe(1);
    const log1 = await readFile(c.party(1).logFile, 'utf8');
    expect(log1).toMatch(/"from":"1,2"[^\n]*"to":"1,3"[^\n]*retrying once with another signer set/);
    // Party 3 released its partial signature for the request once, with the set {1, 3}.
    const audit3 = (await readFile(path.join(c.party(3).dir, 'audit', 'audit.jsonl'), 'utf8')).split('\n').filter((l) => l.includes('"signature.partial"') && l.includes('"failover-1"'));
    expect(audit3).toHaveLength(1);
    expect(audit3[0]).toMatch(/"signers":\[1,3\]/);
  });

  it('with party 2 down, requests to parties 1 and 3 both succeed, each showing the signers used', async () => {
    report('party 2 down, via party 1', await signedBy(1, [1, 3]));
    report('party 2 down, via party 3', await signedBy(3, [1, 3]));
    // Party 1 already leaves party 2 out: no second failover.
    expect(await metric(1, 'vilna_mpc_signer_failovers_total', { key_id: KEY, reason: 'unreachable' })).toBe(1);
  });

  it('party 2 back: party 1 signs with it again', async () => {
    await startAndWaitSeen(2);
    report('cold signature with {1, 2} (no failover)', await signedBy(1, [1, 2]));
    expect(await metric(1, 'vilna_mpc_signer_set_switches_total', { key_id: KEY, reason: 'recovered' })).toBe(1);
  });

  it('party 2 killed as its presign session for a request starts: the request fails over as well', async () => {
    await c.stop(2, 'SIGKILL');
    await startAndWaitSeen(2, { VILNA_TEST_CRASH_AT: 'presign.session' });
    const ms = await signedBy(1, [1, 3]);
    report('SIGKILL of party 2 while presigning, request time', ms);
    expect(ms).toBeLessThan(FAILOVER_BOUND_MS);
    expect(await exitOf(2)).toBe('SIGKILL');
    expect(await metric(1, 'vilna_mpc_signer_failovers_total', { key_id: KEY, reason: 'unreachable' })).toBe(2);
  });

  it('party 2 hung mid-request (SIGSTOP: connections open, no answers): the request fails over at the online round\'s deadline', async () => {
    await startAndWaitSeen(2, { VILNA_TEST_STOP_AT: 'sign.consumed' });
    try {
      const ms = await signedBy(1, [1, 3]);
      report('SIGSTOP of party 2 in the online round, request time', ms);
      expect(ms).toBeLessThan(FAILOVER_BOUND_MS);
      expect(await metric(1, 'vilna_mpc_signer_failovers_total', { key_id: KEY, reason: 'timeout' })).toBe(1);
      expect(await metric(1, 'vilna_mpc_peer_call_failures_total', { peer: '2', reason: 'timeout' })).toBeGreaterThanOrEqual(1);
    } finally {
      await c.stop(2, 'SIGKILL');
    }
  });

  it('with any one party down, the two others sign through either of them', { timeout: 3 * E2E_TEST_TIMEOUT_MS }, async () => {
    await startAndWaitSeen(2);
    for (const down of [1, 2, 3]) {
      await c.stop(down, 'SIGKILL');
      const up = [1, 2, 3].filter((p) => p !== down);
      for (const p of up) report(`party ${down} down, via party ${p}`, await signedBy(p, up));
      await startAndWaitSeen(down);
    }
  });
});
