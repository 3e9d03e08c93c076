/**
 * The soak (issue 11 item 5): a 2-of-3 key across three node processes, `clients` clients
 * signing `signatures` requests through all three parties while one party at a time is
 * SIGKILLed and restarted every `killEvery` signatures, and (with `resets`) connections between
 * parties reset at random through Toxiproxy. Every signature answered is checked by OpenSSL and @noble/curves and
 * against the key's public key; every failure must be one a client can retry (the request is
 * retried under the same requestId, through another party), and no request may go unanswered
 * past `requestDeadlineMs`. At the end, every party's audit chain must verify.
 *
 * Used by `npm run soak` (the long run, scripts/soak.ts) and by test/e2e/soak.test.ts (a short
 * run inside `npm test`). It reports; the caller judges.
 */
import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SignatureResponse } from '../../api/signing.ts';
import { runAuditVerify } from '../../cli/audit.ts';
import { LocalCluster } from '../../cli/local-parties.ts';
import { signatureProblems } from '../support/signature-verdicts.ts';
import { ToxiproxyServer, type ToxiproxyProxy } from '../support/toxiproxy.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const KEY = 'soak-key';
const PARTIES = [1, 2, 3] as const;

/**
 * Answers a client may retry, under the same requestId (DESIGN §5 error codes): a party or its
 * peers unreachable or slow, a presignature lost with a restarted party, a busy key, a throttle,
 * an abort that names nobody (a session cut by a kill). Anything else fails the soak.
 */
const RETRYABLE = new Set([
  'E_SIGNERS_UNAVAILABLE',
  'E_PEER_UNREACHABLE',
  'E_PEER_TIMEOUT',
  'E_PEER_TLS',
  'E_ROUND_TIMEOUT',
  'E_HANDSHAKE_TIMEOUT',
  'E_PRESIGNATURE_UNAVAILABLE',
  'E_BUSY',
  'E_KEY_BUSY',
  'E_TOO_MANY_REFUSALS',
  'E_PROTOCOL_ABORT',
  // The API socket itself: the party was killed under the request, or is down.
  'E_CONNECTION',
]);

export interface SoakOptions {
  /** Where the cluster's state lives (removed by the caller). */
  readonly dir: string;
  readonly signatures: number;
  readonly clients: number;
  /** A party is SIGKILLed after every `killEvery` signatures (0: never). */
  readonly killEvery: number;
  /** How long a killed party stays down before it is restarted. */
  readonly downMs: number;
  readonly poolSize?: number;
  /** No request may take longer than this from its first attempt to its signature. */
  readonly requestDeadlineMs: number;
  /**
   * Connection resets between parties: every party's peer listener is reached through its own
   * Toxiproxy proxy, and about every `everyMs` one link, drawn at random, resets its connections
   * (a TCP RST as soon as data flows, on a random direction) for `lastMs`.
   */
  readonly resets?: { readonly everyMs: number; readonly lastMs: number };
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export interface SoakReport {
  readonly signed: number;
  readonly wrong: readonly string[];
  /** Answers that were neither a signature nor retryable: each fails the soak. */
  readonly unexpected: readonly string[];
  /** Requests that took longer than requestDeadlineMs. */
  readonly stuck: readonly string[];
  readonly retries: Readonly<Record<string, number>>;
  readonly kills: number;
  readonly faultsInjected: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Resident set of each party's node process (MiB): the first sample after keygen, the last, the largest. */
  readonly rssMiB: Readonly<Record<number, { readonly start: number; readonly end: number; readonly max: number }>>;
  readonly auditVerified: boolean;
  readonly seconds: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function rssMiB(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => undefined);
  const started = performance.now();
  const toxiproxy = o.resets ? await ToxiproxyServer.start() : undefined;
  const links = new Map<number, ToxiproxyProxy>();
  const c = await LocalCluster.create({
    dir: o.dir,
    parties: 3,
    primesFile: path.join(root, 'test', 'fixtures', 'safe-primes.json'),
    presignPoolSize: o.poolSize ?? 4,
    ...(toxiproxy ? { advertisedPeerUrl: (index: number) => links.get(index)?.url('https') } : {}),
  });
  try {
    if (toxiproxy) for (const p of c.parties) links.set(p.index, await toxiproxy.createProxy(`party-${p.index}-peer`, { host: '127.0.0.1', port: p.ports.peer }));
    await c.startAll();
    const plan = c.plan({ protocol: 'keygen', keyId: KEY, epoch: 0, threshold: 2 });
    const publicKey = (await c.ceremony(1, plan, c.approve(plan))).result!.publicKey;
    await c.approvePolicy(1, KEY, 0);
    log(`soak: key ${publicKey.slice(0, 16)}…, ${o.signatures} signatures from ${o.clients} clients, a party killed every ${o.killEvery || '∞'}`);

    const rss: Record<number, { start: number; end: number; max: number }> = {};
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const p of PARTIES) {
          const mib = await rssMiB(c.party(p).proc?.pid);
          if (mib === undefined) continue;
          const r = (rss[p] ??= { start: mib, end: mib, max: mib });
          r.end = mib;
          r.max = Math.max(r.max, mib);
        }
        await sleep(2_000);
      }
    })();
    
    let next = 0;
    let signed = 0;
    let kills = 0;
    const wrong: string[] = [];
    const unexpected: string[] = [];
    const stuck: string[] = [];
    const retries: Record<string, number> = {};
    const latencies: number[] = [];
    const down = new Set<number>();
    let resetting = o.resets !== undefined;
    let injected = 0;
    const resetter = (async () => {
      if (!o.resets) return;
      while (resetting) {
        // Ends within half a second of the clients' last signature.
        for (let wait = o.resets.everyMs / 2 + randomInt(o.resets.everyMs); wait > 0 && resetting; wait -= 500) await sleep(Math.min(500, wait));
        if (!resetting) break;
        const link = links.get(PARTIES[randomInt(PARTIES.length)]!)!;
        const stream = randomInt(2) === 0 ? 'upstream' : 'downstream';
        await link.addToxic({ type: 'reset_peer', timeout: 0 }, { name: 'soak_reset', stream });
        injected++;
        await sleep(o.resets.lastMs);
        await link.removeToxic('soak_reset');
      }
    })().catch((e: unknown) => void unexpected.push(`resets: Toxiproxy failed: ${(e as Error).message}`));

    const attempt = async (party: number, requestId: string, message: string): Promise<{ status: number; body: SignatureResponse & { error?: { code: string; message: string } } }> => {
      try {
        return (await c.sign(party, KEY, { requestId, message, encoding: 'utf8', hash: 'sha256' })) as never;
      } catch (e) {
        return { status: 0, body: { error: { code: 'E_CONNECTION', message: (e as Error).message } } } as never;
      }
    };

    const client = async (): Promise<void> => {
      for (let i = next++; i < o.signatures; i = next++) {
        const requestId = `soak-${i}`;
        const message = `soak ${i}`;
        const t0 = performance.now();
        // Each request starts at the next party in turn and moves on to the next after a failure.
        for (let tries = 0, party = (i % 3) + 1; ; tries++, party = (party % 3) + 1) {
          if (performance.now() - t0 > o.requestDeadlineMs) {
            stuck.push(`${requestId}: unsigned after ${Math.round(performance.now() - t0)} ms and ${tries} attempts`);
            break;
          }
          if (down.has(party) || !c.party(party).proc) {
            await sleep(50);
            continue;
          }
          const res = await attempt(party, requestId, message);
          if (res.status === 201) {
            const ms = performance.now() - t0;
            latencies.push(ms);
            if (ms > o.requestDeadlineMs) stuck.push(`${requestId}: signed after ${Math.round(ms)} ms`);
            const problems = signatureProblems(res.body);
            if (res.body.publicKey !== publicKey) problems.push(`signed by ${res.body.publicKey}, not the key`);
            if (res.body.message !== Buffer.from(message).toString('hex')) problems.push('another message');
            if (problems.length > 0) wrong.push(`${requestId} via ${party}: ${problems.join('; ')}`);
            signed++;
            break;
          }
          const code = res.body.error?.code ?? `HTTP ${res.status}`;
          if (!RETRYABLE.has(code)) {
            unexpected.push(`${requestId} via ${party}: ${res.status} ${code}: ${res.body.error?.message ?? JSON.stringify(res.body).slice(0, 200)}`);
            break;
          }
          retries[code] = (retries[code] ?? 0) + 1;
          await sleep(100 + randomInt(400));
        }
      }
    };

    // One party down at a time, in turn; restarted after downMs.
    const killer = (async () => {
      if (o.killEvery <= 0) return;
      let victim = 0;
      for (let at = o.killEvery; at < o.signatures; at += o.killEvery) {
        while (signed < at && next < o.signatures) await sleep(100);
        if (next >= o.signatures) return;
        const p = PARTIES[victim++ % 3]!;
        down.add(p);
        await c.stop(p, 'SIGKILL');
        kills++;
        log(`soak: ${signed} signed, party ${p} killed`);
        await sleep(o.downMs);
        await c.start(p);
        down.delete(p);
        log(`soak: party ${p} restarted`);
      }
    })();

    let progress = 0;
    const reporter = setInterval(() => {
      if (signed - progress >= Math.max(50, o.signatures / 20)) log(`soak: ${(progress = signed)} / ${o.signatures} signed`);
    }, 5_000);
    await Promise.all(Array.from({ length: o.clients }, () => client()));
    clearInterval(reporter);
    await killer;
    resetting = false;
    await resetter;
    sampling = false;
    await sampler;
    await c.stopAll('SIGTERM');
    // All three logs at once: each chain, and every party's anchors of the others' heads.
    const audit = await runAuditVerify(c.party(1).dir, [c.party(2).dir, c.party(3).dir]);
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      signed,
      wrong,
      unexpected,
      stuck,
      retries,
      kills,
      faultsInjected: injected,
      latencyMs: { p50: Math.round(percentile(sorted, 0.5)), p99: Math.round(percentile(sorted, 0.99)), max: Math.round(sorted.at(-1) ?? 0) },
      rssMiB: rss,
      auditVerified: audit.ok && audit.reports.length === PARTIES.length,
      seconds: Math.round((performance.now() - started) / 1000),
    };
  } finally {
    await c.stopAll('SIGKILL');
    await toxiproxy?.stop();
  }
}
