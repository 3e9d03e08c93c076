/**
 * Signing, presigning and keygen over a modelled WAN (issue 11 item 4, README "WAN layer"):
 * three party processes whose peer listeners are reached only through Toxiproxy
 * (test/support/wan-cluster.ts), every link with the same round-trip time (40, 100, 150 ms in
 * turn), jitter and a bandwidth limit. Per RTT, on a fresh 2-of-3 key:
 *  - wan-keygen: the keygen ceremony (keygen, aux-info, the epoch's test signature), wall time
 *    as the operator sees it;
 *  - wan-sign warm: a pooled presignature waiting and the nodes idle (the pools are refilled
 *    between requests), so the request costs the online round — p50 and p99;
 *  - wan-presign: a cold signature, presigned after the request (hash "none": bound to the
 *    digest, never pooled), so presigning plus the online round — p50 and p99;
 * and wan-sign-p50, the warm p50 at 100 ms RTT against its target of 1 RTT + 15 ms (one message
 * each way between the signers, plus the nodes' own work and the client's call on loopback).
 * The client calls each node's API directly: it sits in the node's region.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEVELOPMENT_POLICY } from '../cli/local-parties.ts';
import { WanCluster, type WanProfile } from '../test/support/wan-cluster.ts';
import type { ReportSuite } from './harness.ts';

const RTTS_MS = [40, 100, 150] as const;
/** Each direction varies by ± half of this, per chunk. */
const JITTER_MS = 10;
const RATE_KBPS = 1_000;
const POOL = 2;
const WARM_REQUESTS = 20;
const COLD_REQUESTS = 6;
/** The acceptance row: warm p50 at this RTT within RTT + TARGET_SLACK_MS. */
const TARGET_RTT_MS = 100;
const TARGET_SLACK_MS = 15;
/** The demo's policy, and bare digests for the cold rows. */
const COLD_POLICY = { ...DEVELOPMENT_POLICY, allowPrehashed: true };

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
/** The rows come at the end, minutes later: say what is going on meanwhile. */
const progress = (what: string): void => void process.stderr.write(`wan bench: ${what}\n`);

const suite: ReportSuite = {
  op: 'wan-sign',
  async report() {
    const dir = await mkdtemp(path.join(tmpdir(), 'vilna-bench-wan-'));
    const profile = (rttMs: number): WanProfile => ({ rttMs, jitterMs: JITTER_MS, rateKBps: RATE_KBPS });
    const wan = await WanCluster.start({ dir, parties: 3, presignPoolSize: POOL, profile: profile(RTTS_MS[0]) });
    const c = wan.cluster;
    const rows: Awaited<ReturnType<ReportSuite['report']>>[number][] = [];
    try {
      let n = 0;
      for (const rttMs of RTTS_MS) {
        await wan.setProfile(profile(rttMs));
        const params = { parties: 3, threshold: 2, rttMs, jitterMs: JITTER_MS, rateKBps: RATE_KBPS, transport: 'https-toxiproxy' };
        const key = `wan-bench-${rttMs}`;
        const plan = c.plan({ protocol: 'keygen', keyId: key, epoch: 0, threshold: 2 });
        const k0 = performance.now();
        const done = await c.ceremony(1, plan, c.approve(plan));
        const keygenMs = performance.now() - k0;
        progress(`${rttMs} ms RTT: keygen ceremony ${Math.round(keygenMs)} ms; signing`);
        await c.approvePolicy(1, key, 0, COLD_POLICY);

        const once = async (party: number, hash: 'sha256' | 'none'): Promise<number> => {
          await wan.waitPoolsFull(key, POOL, 300_000);
          const id = `bench-${n++}`;
          const req = hash === 'none' ? { requestId: id, message: Buffer.alloc(32, n).toString('hex'), encoding: 'hex' as const, hash } : { requestId: id, message: `bench ${id}`, encoding: 'utf8' as const, hash };
          const t0 = performance.now();
          const res = await c.sign(party, key, req);
          const ms = performance.now() - t0;
          if (res.status !== 201) throw new Error(`signing failed at ${rttMs} ms RTT: ${res.status} ${JSON.stringify(res.body)}`);
          return ms;
        };
        const warm: number[] = [];
        for (let i = 0; i < WARM_REQUESTS; i++) warm.push(await once((i % 3) + 1, 'sha256'));
        const cold: number[] = [];
        for (let i = 0; i < COLD_REQUESTS; i++) cold.push(await once((i % 3) + 1, 'none'));

        const warmP50 = percentile(warm, 50);
        rows.push(
          { op: 'wan-keygen', backend: 'native', params, ms: Math.round(keygenMs), phasesMs: done.timingsMs },
          { op: 'wan-sign', backend: 'native', params: { ...params, pool: 'warm', requests: warm.length }, ms: round3(warmP50), p99: round3(percentile(warm, 99)), overRttMs: round3(warmP50 - rttMs) },
          { op: 'wan-presign', backend: 'native', params: { ...params, pool: 'none', requests: cold.length }, ms: round3(percentile(cold, 50)), p99: round3(percentile(cold, 99)), overWarmMs: round3(percentile(cold, 50) - warmP50) },
        );
        if (rttMs === TARGET_RTT_MS) {
          const targetMs = TARGET_RTT_MS + TARGET_SLACK_MS;
          rows.push({ op: 'wan-sign-p50', backend: 'native', params: { ...params, pool: 'warm', requests: warm.length }, ms: round3(warmP50), targetMs, met: warmP50 <= targetMs });
        }
      }
      return rows;
    } finally {
      await wan.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export default suite;
