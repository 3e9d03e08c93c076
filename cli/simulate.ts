/**
 * `vilna-mpc simulate`: the whole life cycle in one process over the in-memory channel at the
 * 128-bit level (DESIGN §8). Progress on stderr; with --json the report is the last stdout line.
 */
import { readFileSync } from 'node:fs';
import { bytesToHex } from '@noble/hashes/utils.js';
import { freshPrimes, isSafePrimeAsync, type PrimeSource } from '../cggmp/arith/index.ts';
import { SECURITY_LEVEL_128 } from '../cggmp/params.ts';
import { BEHAVIOUR_NAMES } from '../cggmp/sim/behaviours.ts';
import { simulate, SimulationAborted, type FlowReport } from '../cggmp/sim/flow.ts';

export interface SimulateOptions {
  readonly parties: number;
  readonly threshold: number;
  readonly corrupt?: string;
  readonly primes?: string;
  readonly json?: boolean;
}

const hex = (b: Uint8Array): string => bytesToHex(b);
const hex64 = (x: bigint): string => x.toString(16).padStart(64, '0');

/**
 * Precomputed safe primes from a file ({ "primes": { "1536": ["hex", …] } }, as
 * `npm run fixtures` writes), each checked and used once, then fresh generation.
 */
export function filePrimeSource(path: string): PrimeSource {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { primes?: Record<string, string[]> };
  const pools = new Map(Object.entries(parsed.primes ?? {}).map(([bits, list]) => [Number(bits), list.map((h) => BigInt('0x' + h))]));
  return {
    async take(bits) {
      const pool = pools.get(bits);
      const p = pool?.shift();
      if (p === undefined) return freshPrimes.take(bits);
      if (!(await isSafePrimeAsync(p, bits))) throw new Error(`${path}: a ${bits}-bit entry is not a safe prime`);
      return p;
    },
  };
}

export function reportJson(r: FlowReport) {
  return {
    publicKey: hex(r.publicKey.toBytes(true)),
    xpub: r.xpub,
    threshold: r.threshold,
    parties: r.parties,
    signatures: r.signatures.map((s) => ({
      message: hex(s.message),
      hash: s.hash,
      digest: hex(s.signature.digest),
      r: hex64(s.signature.r),
      s: hex64(s.signature.s),
      recoveryId: s.signature.recoveryId,
      derivationPath: s.derivationPath,
      publicKey: hex(s.signature.publicKey.toBytes(true)),
      epoch: s.epoch,
      signers: s.signature.signers,
    })),
    rotation: r.rotation,
    reshare: r.reshare,
    timingsMs: r.timingsMs,
  };
}

function parseCorrupt(spec: string, parties: number): { party: number; behaviour: string } {
  const m = /^(\d+):([a-z-]+)$/.exec(spec);
  if (!m) throw new Error(`--corrupt expects PARTY:BEHAVIOUR, e.g. 2:sch`);
  const party = Number(m[1]);
  const behaviour = m[2]!;
  if (party < 1 || party > parties) throw new Error(`--corrupt: party must be 1..${parties}`);
  if (!BEHAVIOUR_NAMES.includes(behaviour)) throw new Error(`--corrupt: unknown behaviour "${behaviour}" (one of ${BEHAVIOUR_NAMES.join(', ')})`);
  return { party, behaviour };
}

export async function runSimulate(o: SimulateOptions): Promise<number> {
  if (!Number.isInteger(o.parties) || o.parties < 2 || o.parties > 15) throw new Error('--parties must be 2..15 (the reshare adds one)');
  if (!Number.isInteger(o.threshold) || o.threshold < 2 || o.threshold > o.parties) throw new Error('--threshold must be 2..parties');
  const corrupt = o.corrupt ? parseCorrupt(o.corrupt, o.parties) : undefined;
  const started = Date.now();
  try {
    const report = await simulate({
      level: SECURITY_LEVEL_128,
      parties: o.parties,
      threshold: o.threshold,
      ...(o.primes ? { primes: filePrimeSource(o.primes) } : {}),
      ...(corrupt ? { corrupt } : {}),
      progress: (line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`),
    });
    const out = reportJson(report);
    if (o.json) process.stdout.write(JSON.stringify(out) + '\n');
    else process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    if (corrupt) {
      process.stderr.write(`party ${corrupt.party} (${corrupt.behaviour}) was not detected\n`);
      return 1;
    }
    return 0;
  } catch (e) {
    if (!(e instanceof SimulationAborted)) throw e;
    const out = { aborted: true, protocol: e.protocol, round: e.round, culprits: e.culprits, reason: e.reason };
    process.stderr.write(`aborted: ${e.message}\n`);
    process.stdout.write(JSON.stringify(out) + (o.json ? '\n' : '\n'));
    return 3;
  }
}
