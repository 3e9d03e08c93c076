/**
 * Signing through the API on loopback (issue 4): three party processes, a 2-of-3 key, requests
 * over HTTPS with a bearer token. Two figures:
 *  - warm pool: each request finds a presignature waiting and the nodes idle (the bench waits for
 *    the background refill between requests), so it costs one online round among the signers
 *    plus the HTTPS calls — p50 and p99 latency;
 *  - warm burst: three clients (one per node) drain full pools at once — signatures per second
 *    while presignatures are waiting;
 *  - warm at a derived path: the same, at a path made hot by signing there twice through each node
 *    (api-sign-derived-warm, with its ratio to api-sign warm; the first two: api-sign-derived-cold);
 *  - sustained: requests keep coming from three clients (one per node) after the pools are empty,
 *    so the rate is bounded by presigning — signatures per second and latencies.
 * Keygen uses the fixture primes (signing cost does not depend on them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../cli/local-parties.ts';
import type { ReportSuite } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const POOL = 8;
const WARM_REQUESTS = 20;
const SUSTAINED_MS = 30_000;
const KEY = 'bench-key';

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

async function poolSize(c: LocalCluster, party: number): Promise<number> {
  const text = await fetch(c.party(party).ready!.metricsUrl!).then((r) => r.text());
  const m = new RegExp(`vilna_mpc_presignatures_available\\{[^}]*key_id="${KEY}"[^}]*\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

const suite: ReportSuite = {
  op: 'api-sign',
  async report() {
    const dir = await mkdtemp(path.join(tmpdir(), 'vilna-bench-'));
    const c = await LocalCluster.create({ dir, parties: 3, primesFile: path.join(root, 'test', 'fixtures', 'safe-primes.json'), presignPoolSize: POOL });
    try {
      await c.startAll();
      const plan = c.plan({ protocol: 'keygen', keyId: KEY, epoch: 0, threshold: 2 });
      await c.ceremony(1, plan, c.approve(plan));
      await c.approvePolicy(1, KEY, 0);
      // Each node counts the presignatures it started (the ones it signs with), not the halves it
      // holds for its neighbours: full is POOL at every node.
      const full = async (): Promise<boolean> => (await Promise.all([1, 2, 3].map((p) => poolSize(c, p)))).every((n) => n >= POOL);
      const waitFull = async (limitMs: number): Promise<void> => {
        const t0 = performance.now();
        while (!(await full())) {
          if (performance.now() - t0 > limitMs) throw new Error('presignature pools did not fill in time');
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      const fillStarted = performance.now();
      await waitFull(600_000);
      const fillMs = performance.now() - fillStarted;
      let n = 0;
      const once = async (party: number): Promise<number> => {
        const t0 = performance.now();
        const res = await c.sign(party, KEY, { requestId: `bench-${n++}`, message: `bench ${n}`, encoding: 'utf8', hash: 'sha256' });
        if (res.status !== 201) throw new Error(`signing failed: ${res.status} ${JSON.stringify(res.body)}`);
        return performance.now() - t0;
      };
      const warm: number[] = [];
      for (let i = 0; i < WARM_REQUESTS; i++) {
        await waitFull(120_000);
        warm.push(await once((i % 3) + 1));
      }

      // Warm at a derived path: signed for twice through each node, the path is hot there and
      // its pool is refilled between requests, like m's above (README "Warm derived paths").
      const DERIVED = 'm/0/7';
      const pooledAt = async (party: number): Promise<number> => ((await c.getKey(party, KEY)).body as { presignatures?: Record<string, number> }).presignatures?.[DERIVED] ?? 0;
      // Idle as for m: every node's pool at the path full (presignPool.pathSize, 2 by default), no presigning under way.
      const waitDerived = async (): Promise<void> => {
        const t0 = performance.now();
        while ((await Promise.all([1, 2, 3].map(pooledAt))).some((k) => k < 2)) {
          if (performance.now() - t0 > 120_000) throw new Error(`the pools at ${DERIVED} did not fill in time`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      const onceAt = async (party: number, derivationPath: string): Promise<number> => {
        const t0 = performance.now();
        const res = await c.sign(party, KEY, { requestId: `bench-${n++}`, message: `bench ${n}`, encoding: 'utf8', hash: 'sha256', derivationPath });
        if (res.status !== 201) throw new Error(`signing failed: ${res.status} ${JSON.stringify(res.body)}`);
        return performance.now() - t0;
      };
      const derivedCold: number[] = [];
      for (const party of [1, 2, 3]) for (let i = 0; i < 2; i++) derivedCold.push(await onceAt(party, DERIVED));
      const derivedWarm: number[] = [];
      for (let i = 0; i < WARM_REQUESTS; i++) {
        const party = (i % 3) + 1;
        await waitFull(120_000);
        await waitDerived();
        derivedWarm.push(await onceAt(party, DERIVED));
      }

      // Each node leads one signer set with POOL presignatures waiting in it.
      await waitFull(300_000);
      const burst: number[] = [];
      const b0 = performance.now();
      await Promise.all([1, 2, 3].map(async (party) => {
        for (let i = 0; i < POOL; i++) burst.push(await once(party));
      }));
      const burstSeconds = (performance.now() - b0) / 1000;

      const sustained: number[] = [];
      const t0 = performance.now();
      await Promise.all([1, 2, 3].map(async (party) => {
        while (performance.now() - t0 < SUSTAINED_MS) sustained.push(await once(party));
      }));
      const elapsed = (performance.now() - t0) / 1000;
      const params = { parties: 3, threshold: 2, transport: 'https-loopback' };
      return [
        { op: 'api-sign', backend: 'native', params: { ...params, pool: 'warm', requests: warm.length }, ms: round3(percentile(warm, 50)), p99: round3(percentile(warm, 99)), },
        { op: 'api-sign', backend: 'native', params: { ...params, pool: 'warm-burst', clients: 3, requests: burst.length }, ms: round3(percentile(burst, 50)), p99: round3(percentile(burst, 99)), sigsPerSec: round3(burst.length / burstSeconds) },
        { op: 'api-sign', backend: 'native', params: { ...params, pool: 'sustained', clients: 3, requests: sustained.length }, ms: round3(percentile(sustained, 50)), p99: round3(percentile(sustained, 99)), sigsPerSec: round3(sustained.length / elapsed) },
        { op: 'api-sign-derived-warm', backend: 'native', params: { ...params, pool: 'warm', derivationPath: DERIVED, requests: derivedWarm.length }, ms: round3(percentile(derivedWarm, 50)), p99: round3(percentile(derivedWarm, 99)), warmRatio: round3(percentile(derivedWarm, 50) / percentile(warm, 50)) },
        { op: 'api-sign-derived-cold', backend: 'native', params: { ...params, pool: 'none', derivationPath: DERIVED, requests: derivedCold.length }, ms: round3(percentile(derivedCold, 50)), p99: round3(percentile(derivedCold, 99)) },
        { op: 'presign-pool-fill', backend: 'native', params: { ...params, presignatures: 3 * POOL }, ms: Math.round(fillMs) },
      ];
    } finally {
      await c.stopAll('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export default suite;
