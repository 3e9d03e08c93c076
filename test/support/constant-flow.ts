/**
 * Constant-flow checks for JavaScript code: runs a function under V8's precise block coverage
 * (the inspector's Profiler, with call counts and per-block ranges) and returns how often every
 * block of the selected scripts ran. Two runs that differ only in a secret must give the same
 * profile: a branch, loop or early return that depends on the secret shows up as a block whose
 * count differs. This sees JavaScript control flow only — not BigInt internals, not native code
 * (the addon's constant-time argument is ct_core.c's, checked by review and by its tests).
 */
import { Session } from 'node:inspector/promises';
import { setFlagsFromString } from 'node:v8';

/**
 * Keeps V8 from optimising the code loaded after this call: Maglev and TurboFan inline small
 * hot functions and the inlined copies do not count their blocks, so counts would depend on
 * what got hot when. Call it at the top of a test file, before importing the code under test.
 */
export async function countingMode(): Promise<void> {
  setFlagsFromString('--max-opt=1');
  setFlagsFromString('--no-lazy-feedback-allocation');
  await profiler();
}

let session: Session | undefined;

async function profiler(): Promise<Session> {
  if (!session) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Debugger.enable');
    await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }
  return session;
}

/**
 * Per function ("file#function"), its coverage ranges. V8 reports a nested block only where its
 * count differs from its parent's, so a range absent from one run means "as often as the block
 * around it": counts are compared through `countAt`, never by a missing key taken as zero.
 */
export type FlowProfile = Map<string, readonly { readonly start: number; readonly end: number; readonly count: number }[]>;

// The executed source of each profiled script (offsets refer to it, not to the .ts file).
const sources = new Map<string, string>();

/** Runs `fn` and returns the block counts it produced in the included scripts. */
export async function controlFlowProfile(fn: () => unknown, include: (url: string) => boolean): Promise<FlowProfile> {
  const s = await profiler();
  await s.post('Profiler.takePreciseCoverage'); // resets the counters
  await fn();
  const { result } = await s.post('Profiler.takePreciseCoverage');
  const out: FlowProfile = new Map();
  for (const script of result) {
    if (!include(script.url)) continue;
    if (!sources.has(script.url)) {
      const { scriptSource } = await s.post('Debugger.getScriptSource', { scriptId: script.scriptId });
      sources.set(script.url, scriptSource);
    }
    for (const f of script.functions) {
      const key = `${script.url}#${f.functionName}@${f.ranges[0]?.startOffset ?? 0}#${script.scriptId}`;
      out.set(key, f.ranges.map((r) => ({ start: r.startOffset, end: r.endOffset, count: r.count })));
    }
  }
  return out;
}

/** How often the block [start, end) ran: the count of the innermost reported range around it. */
function countAt(ranges: FlowProfile extends Map<string, infer R> ? R : never, start: number, end: number): number {
  let best: { span: number; count: number } | undefined;
  for (const r of ranges) {
    if (r.start <= start && r.end >= end && (!best || r.end - r.start < best.span)) best = { span: r.end - r.start, count: r.count };
  }
  return best?.count ?? 0;
}

/** The blocks whose counts differ between two profiles, each with the source text it covers. */
export function flowDifferences(a: FlowProfile, b: FlowProfile): string[] {
  const diffs: string[] = [];
  for (const fnKey of new Set([...a.keys(), ...b.keys()])) {
    const [ra, rb] = [a.get(fnKey) ?? [], b.get(fnKey) ?? []];
    for (const r of [...ra, ...rb]) {
      const [ca, cb] = [countAt(ra, r.start, r.end), countAt(rb, r.start, r.end)];
      if (ca === cb) continue;
      const url = fnKey.slice(0, fnKey.indexOf('#'));
      const shown = fnKey.replace(/#\d+$/, '');
      const snippet = (sources.get(url) ?? '').slice(r.start, Math.min(r.end, r.start + 80)).replace(/\s+/g, ' ');
      const line = `${shown.replace(/^.*\/(cggmp|sidecar|api)\//, '$1/')} [${r.start}, ${r.end}) ran ${ca} vs ${cb} times: ${snippet}`;
      if (!diffs.includes(line)) diffs.push(line);
    }
  }
  return diffs;
}

/** A deterministic byte stream (SHA-256 in counter mode) standing in for the CSPRNG in such runs. */
export function deterministicBytes(seed: string): (n: number) => Buffer {
  // Imported lazily: the caller mocks node:crypto and must not recurse into its own mock.
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n: number): Buffer => {
    while (pool.length < n) {
      const { createHash } = process.getBuiltinModule('node:crypto');
      pool = Buffer.concat([pool, createHash('sha256').update(`${seed}/${counter++}`).digest()]);
    }
    const out = pool.subarray(0, n);
    pool = pool.subarray(n);
    return Buffer.from(out);
  };
}
