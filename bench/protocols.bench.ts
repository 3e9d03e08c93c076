/**
 * The protocols at the 128-bit level with every party in this process over the in-memory
 * network: wall-clock median of one session, and CPU time per party (the process's CPU time
 * over the party count; the parties share this machine's two cores). Aux-info runs cold (fresh
 * safe primes) and pooled (primes precomputed).
 */
import { freshPrimes, getBackend, type PrimeSource } from '../cggmp/arith/index.ts';
import { SECURITY_LEVEL_128 as L } from '../cggmp/params.ts';
import { auxInfo, generateAuxKeys } from '../cggmp/protocols/aux-info.ts';
import { keygen } from '../cggmp/protocols/keygen.ts';
import { withAux, type KeyShare } from '../cggmp/protocols/key-share.ts';
import { defaultWorkerCount, workerPool, type WorkerPool } from '../cggmp/parallel/index.ts';
import { presign, type Presignature } from '../cggmp/protocols/presign.ts';
import { refresh } from '../cggmp/protocols/refresh.ts';
import { reshare, reshareParticipants } from '../cggmp/protocols/reshare.ts';
import { sign } from '../cggmp/protocols/sign.ts';
import { runSession, simGroup, type Outcome } from '../cggmp/sim/run.ts';
import { fixturePrimeSource } from '../test/support/primes.ts';
import type { BenchCase, BenchSuite } from './harness.ts';

function unwrap<T>(m: Map<number, Outcome<T>>): Map<number, T> {
  return new Map([...m].map(([p, o]) => {
    if (!o.ok) throw o.error;
    return [p, o.value] as const;
  }));
}

const ONE_SHOT = { minRuns: 1, maxRuns: 1, timeMs: 0, warmup: false };
const FEW = { minRuns: 3, maxRuns: 10, timeMs: 8_000, warmup: false };
// Three runs give the anchor comparison (bench/anchors.ts) a median rather than one sample.
const POOLED_AUX = { minRuns: 3, maxRuns: 3, timeMs: 0, warmup: false };

interface Fixture {
  readonly parties: number[];
  readonly group: ReturnType<typeof simGroup>;
  readonly shares: Map<number, KeyShare>;
}

// One pool of proof workers for the process, as a party node has: every signer of a row shares
// it, so all signers together use the machine's cores, never more threads than cores.
let pool: WorkerPool | undefined;
const proofWork = (): WorkerPool => (pool ??= workerPool());

// Shares are built once per (n, t) and reused by the later rows.
const fixtures = new Map<string, Promise<Fixture>>();
const pooled: PrimeSource = fixturePrimeSource();

function fixture(n: number, t: number): Promise<Fixture> {
  const key = `${n}/${t}`;
  let f = fixtures.get(key);
  if (!f) {
    f = (async () => {
      const parties = Array.from({ length: n }, (_, i) => i + 1);
      const group = simGroup(parties);
      const base = unwrap(await runSession({ protocol: 'keygen', group, parties }, (s) => keygen(s, { keyId: 'bench', threshold: t })));
      const aux = unwrap(await runSession({ protocol: 'aux-info', group, parties }, (s) => auxInfo(s, { level: L, primes: pooled })));
      return { parties, group, shares: new Map(parties.map((p) => [p, withAux(base.get(p)!, aux.get(p)!)] as const)) };
    })();
    fixtures.set(key, f);
  }
  return f;
}

function rows(n: number, t: number): BenchCase[] {
  const params = { n, t, modBits: L.modulusBits };
  const backend = getBackend().name;
  const row = (op: string, budget: typeof FEW, setup: BenchCase['setup']): BenchCase => ({ op, backend, params, parties: n, budget, setup });
  return [
    row('keygen', FEW, () => {
      const parties = Array.from({ length: n }, (_, i) => i + 1);
      const group = simGroup(parties);
      return async () => unwrap(await runSession({ protocol: 'keygen', group, parties }, (s) => keygen(s, { keyId: 'bench', threshold: t })));
    }),
    row('aux-info-pooled', POOLED_AUX, async () => {
      const { parties, group } = await fixture(n, t);
      // Keys from precomputed primes are made before timing: the pool's whole point. Each run
      // gets keys of its own (fresh ring-Pedersen s, t), so no run finds the verifier tables of
      // an earlier one.
      const stock: Map<number, Awaited<ReturnType<typeof generateAuxKeys>>>[] = [];
      for (let i = 0; i < POOLED_AUX.maxRuns; i++) {
        const pool = fixturePrimeSource();
        const keys = new Map<number, Awaited<ReturnType<typeof generateAuxKeys>>>();
        for (const p of parties) keys.set(p, await generateAuxKeys(L, pool));
        stock.push(keys);
      }
      return async () => {
        const keys = stock.pop();
        if (!keys) throw new Error('aux key stock exhausted');
        return unwrap(await runSession({ protocol: 'aux-info', group, parties }, (s) => auxInfo(s, { level: L }, keys.get(s.params.self))));
      };
    }),
    row('aux-info-cold', ONE_SHOT, async () => {
      const { parties, group } = await fixture(n, t);
      return async () => unwrap(await runSession({ protocol: 'aux-info', group, parties }, (s) => auxInfo(s, { level: L, primes: freshPrimes })));
    }),
    {
      // As the node runs it: the per-peer proofs on the worker pool.
      ...row('presign', FEW, async () => {
        const { parties, group, shares } = await fixture(n, t);
        const signers = parties.slice(0, t);
        const work = proofWork();
        return async () => unwrap(await runSession({ protocol: 'presign', group, parties: signers }, (s) => presign(s, { level: L, share: shares.get(s.params.self)!, work })));
      }),
      params: { ...params, workers: defaultWorkerCount() },
      // Only the t signers presign: CPU per party is over them, as for sign (and as the anchor counts it).
      parties: t,
    },
    {
      // Everything on this one thread, as the anchor runs: the arithmetic alone.
      ...row('presign-1thread', FEW, async () => {
        const { parties, group, shares } = await fixture(n, t);
        const signers = parties.slice(0, t);
        return async () => unwrap(await runSession({ protocol: 'presign', group, parties: signers }, (s) => presign(s, { level: L, share: shares.get(s.params.self)! })));
      }),
      params: { ...params, workers: 0 },
      parties: t,
    },
    {
      ...row('sign', FEW, async () => {
        const { parties, group, shares } = await fixture(n, t);
        const signers = parties.slice(0, t);
        // A stock of presignatures made before timing; each timed run consumes one set.
        const stock: Map<number, Presignature>[] = [];
        for (let i = 0; i < 12; i++) {
          stock.push(unwrap(await runSession({ protocol: 'presign', group, parties: signers }, (s) => presign(s, { level: L, share: shares.get(s.params.self)! }))));
        }
        const message = new TextEncoder().encode('bench');
        return async () => {
          const presigs = stock.pop();
          if (!presigs) throw new Error('presignature stock exhausted');
          const sid = presigs.get(signers[0]!)!.binding.sid;
          return unwrap(await runSession({ protocol: 'sign', group, parties: signers, sid }, (s) => sign(s, presigs.get(s.params.self)!, { message, hash: 'sha256' })));
        };
      }),
      parties: t,
    },
    row('refresh', FEW, async () => {
      const { parties, group, shares } = await fixture(n, t);
      return async () => unwrap(await runSession({ protocol: 'refresh', group, parties }, (s) => refresh(s, shares.get(s.params.self)!)));
    }),
    row('reshare', FEW, async () => {
      const { parties, group, shares } = await fixture(n, t);
      const pub = shares.get(1)!.public;
      const newParty = n + 1;
      const bigger = simGroup([newParty]);
      const identities = new Map([...group.identities, ...bigger.identities]);
      const signers = new Map([...group.signers, ...bigger.signers]);
      const plan = {
        keyId: pub.keyId,
        oldEpoch: pub.epoch,
        publicKey: pub.publicKey,
        chainCode: pub.chainCode,
        oldThreshold: t,
        oldParties: parties,
        oldPublicShares: pub.publicShares,
        dealers: parties.slice(0, t),
        newParties: [...parties, newParty],
        newThreshold: t,
      };
      return async () =>
        unwrap(
          await runSession({ protocol: 'reshare', group: { identities, signers }, parties: reshareParticipants(plan) }, (s) =>
            reshare(s, { ...plan, ...(plan.dealers.includes(s.params.self) ? { share: shares.get(s.params.self)! } : {}) }),
          ),
        );
    }),
  ];
}

const cases: BenchCase[] = [...rows(3, 2), ...rows(5, 3)];
export default cases satisfies BenchSuite;
