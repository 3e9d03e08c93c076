/**
 * How a proof task's arguments and results cross to a worker thread and back. Structured clone
 * carries bigints, byte arrays and plain objects; two kinds of value need a form of their own:
 * curve points (class instances, sent compressed and rebuilt on the curve) and Paillier secret
 * keys (their native context cannot be cloned: the primes are sent and the worker keeps its own
 * context per key, see worker.ts). Everything stays inside this process's memory.
 */
import { Point } from '../curve/index.ts';
import type { PaillierSecretKey } from '../paillier/index.ts';

const POINT = '$point';
const SECRET_KEY = '$paillier';

type Wire = unknown;

function isSecretKey(v: object): v is PaillierSecretKey {
  return 'ops' in v && 'p' in v && 'q' in v && 'N' in v;
}

/** A value in the form that postMessage clones. */
export function encode(v: unknown): Wire {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return v;
  if (v instanceof Point) return { [POINT]: v.is0() ? null : v.toBytes(true) };
  if (Array.isArray(v)) return v.map(encode);
  if (isSecretKey(v)) return { [SECRET_KEY]: { p: v.p, q: v.q } };
  const out: Record<string, Wire> = {};
  for (const [k, x] of Object.entries(v)) out[k] = encode(x);
  return out;
}

/** The inverse of `encode`; `secretKey` turns primes back into a key (the worker's cache). */
export function decode(v: Wire, secretKey: (p: bigint, q: bigint) => PaillierSecretKey = noSecretKeys): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map((x) => decode(x, secretKey));
  const rec = v as Record<string, Wire>;
  if (POINT in rec) {
    const bytes = rec[POINT];
    return bytes === null ? Point.ZERO : Point.fromBytes(bytes as Uint8Array);
  }
  if (SECRET_KEY in rec) {
    const { p, q } = rec[SECRET_KEY] as { p: bigint; q: bigint };
    return secretKey(p, q);
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(rec)) out[k] = decode(x, secretKey);
  return out;
}

function noSecretKeys(): never {
  throw new Error('a secret key crossed back from a worker');
}
