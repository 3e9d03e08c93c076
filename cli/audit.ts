/**
 * `vilna-mpc audit verify DIR [--peers DIR...] [--json]` (DESIGN §8, §4 "Audit log").
 *
 * DIR (and each --peers DIR) is one party's audit directory, an audit.jsonl file, or a state
 * directory whose subdirectories hold audit logs (the demo's `<stateDir>/party-N/audit/`). Every
 * log found is verified on its own and then against the anchors all the others recorded about
 * it. A party that the logs anchored but that has no log among them fails too (its log was
 * deleted, or not given): the logs at hand prove it wrote at least the anchored entries. Only
 * when DIR names one log itself (its file or its audit directory) and no --peers are given is
 * that log checked alone, its chain only; the parties it anchored are then listed as not checked.
 * Exit 0 when everything is intact, 1 naming the first bad entry of each failing log (or the
 * missing log), 2 when no log is found. A summary line per log goes to stdout (without --json);
 * failures go to stderr; with --json the report is the last line of stdout.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import {
  anchoredWithoutLog,
  AUDIT_FILE_NAME,
  AuditError,
  verifyAuditLog,
  verifyWithPeers,
  type AuditHead,
  type AuditVerifyResult,
  type VerifiedAuditLog,
} from '../sidecar/audit/index.ts';

/** How deep below a state directory audit logs are looked for (`party-1/audit/audit.jsonl` is 2). */
const MAX_SEARCH_DEPTH = 4;

export interface AuditLogReport {
  /** The log's path relative to the directory it was found under (as printed). */
  readonly file: string;
  readonly path: string;
  /** From the genesis entry; null when that entry is unreadable. */
  readonly party: number | null;
  readonly ok: boolean;
  readonly entries: number;
  readonly head: AuditHead | null;
  /** Peer anchors about this log that were checked. */
  readonly anchorsChecked: number;
  /** The first bad entry (0-based line number; the log's length for a cut tail). */
  readonly failure: { readonly index: number; readonly reason: string } | null;
}

/** A party that the logs at hand anchored but that has no log among them. */
export interface MissingLogReport {
  readonly party: number;
  /** The highest head of that party a peer anchored: its log held at least index + 1 entries. */
  readonly anchored: AuditHead;
  /** The peer log holding that anchor, and the anchor's entry in it. */
  readonly peer: { readonly party: number; readonly file: string; readonly entry: number };
}

export interface AuditVerifyReport {
  readonly ok: boolean;
  readonly reports: readonly AuditLogReport[];
  /** Anchored parties without a log: each fails the verification. */
  readonly missing: readonly MissingLogReport[];
  /** Anchored parties without a log when one log was checked alone: listed, not failed. */
  readonly unchecked: readonly MissingLogReport[];
}

export interface FoundLog {
  readonly path: string;
  readonly display: string;
  /** The argument named this log itself (its file, or the directory holding it), not a tree to search. */
  readonly named: boolean;
}

/** The audit logs a DIR argument names: the file itself, DIR/audit.jsonl, or every log below DIR. */
export async function findAuditLogs(dir: string): Promise<FoundLog[]> {
  const root = path.resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (info === undefined) throw new AuditError('E_AUDIT_NOT_FOUND', `${dir} does not exist`);
  if (info.isFile()) return [{ path: root, display: path.basename(root), named: true }];
  const found: FoundLog[] = [];
  const walk = async (current: string, depth: number): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true });
    const direct = entries.find((e) => e.isFile() && e.name === AUDIT_FILE_NAME);
    if (direct) {
      const file = path.join(current, direct.name);
      found.push({ path: file, display: path.relative(root, file), named: depth === 0 });
      return;
    }
    if (depth >= MAX_SEARCH_DEPTH) return;
    // Symbolic links are not followed, so a link cannot make one log count twice or loop.
    for (const e of entries.filter((x) => x.isDirectory() && !x.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name))) {
      await walk(path.join(current, e.name), depth + 1);
    }
  };
  await walk(root, 0);
  if (found.length === 0) throw new AuditError('E_AUDIT_NOT_FOUND', `no ${AUDIT_FILE_NAME} in or below ${dir}`);
  return found;
}

/**
 * Verifies every log under `dir` and `peers` and cross-checks each against all the others.
 * Throws AuditError E_AUDIT_NOT_FOUND when a directory holds no log.
 */
export async function runAuditVerify(dir: string, peers: readonly string[] = []): Promise<AuditVerifyReport> {
  const logs: FoundLog[] = [];
  const seen = new Set<string>();
  for (const root of [dir, ...peers]) {
    for (const log of await findAuditLogs(root)) {
      const real = await realpath(log.path);
      if (seen.has(real)) continue;
      seen.add(real);
      logs.push(log);
    }
  }

  const results: AuditVerifyResult[] = [];
  for (const log of logs) {
    try {
      results.push(await verifyAuditLog(log.path));
    } catch (e) {
      results.push({ ok: false, index: 0, reason: `cannot read the log (${errorCode(e)})` });
    }
  }

  const failures = new Map<number, { index: number; reason: string }>();
  const byParty = new Map<number, number[]>();
  results.forEach((r, i) => {
    if (r.ok) byParty.set(r.party, [...(byParty.get(r.party) ?? []), i]);
  });
  for (const [party, indices] of byParty) {
    if (indices.length < 2) continue;
    for (const i of indices) {
      const others = indices.filter((j) => j !== i).map((j) => logs[j]?.display);
      failures.set(i, { index: 0, reason: `party ${party} also has a log at ${others.join(', ')}` });
    }
  }

  const verified = results.flatMap((r, i) => (r.ok && !failures.has(i) ? [{ log: r, i }] : []));
  const anchors = new Map<number, number>();
  for (const { log, i } of verified) {
    const check = verifyWithPeers(
      log,
      verified.filter((v) => v.i !== i).map((v): VerifiedAuditLog => v.log),
    );
    if (check.ok) {
      anchors.set(i, check.anchors);
      continue;
    }
    // The failure belongs to the log that holds the bad entry, which may be the peer's.
    const holder = verified.find((v) => v.log.party === check.party)?.i ?? i;
    if (!failures.has(holder)) failures.set(holder, { index: check.index, reason: check.reason });
  }

  // Parties the intact chains anchored but that have no log here. Logs that failed still count
  // as present: their failure is reported already.
  const present = new Set(results.flatMap((r) => (r.ok ? [r.party] : r.party === undefined ? [] : [r.party])));
  const found = anchoredWithoutLog(
    verified.map((v) => v.log),
    present,
  );
  const logOf = new Map(verified.map((v) => [v.log.party, v.i]));
  for (const f of found.failures) {
    const holder = logOf.get(f.party);
    if (holder !== undefined && !failures.has(holder)) failures.set(holder, { index: f.index, reason: f.reason });
  }
  const absent = found.missing.map((m): MissingLogReport => ({
    party: m.party,
    anchored: { index: m.index, hash: m.hash },
    peer: { party: m.peer, file: logs[logOf.get(m.peer) ?? -1]?.display ?? '?', entry: m.peerEntry },
  }));
  const alone = peers.length === 0 && logs.length === 1 && logs[0]?.named === true;

  const reports = logs.map((log, i): AuditLogReport => {
    const r = results[i] as AuditVerifyResult;
    const failure = r.ok ? (failures.get(i) ?? null) : { index: r.index, reason: r.reason };
    return {
      file: log.display,
      path: log.path,
      party: r.ok ? r.party : (r.party ?? null),
      ok: failure === null,
      entries: r.ok ? r.entries.length : 0,
      head: r.ok ? r.head : null,
      anchorsChecked: anchors.get(i) ?? 0,
      failure,
    };
  });
  const missing = alone ? [] : absent;
  return { ok: reports.every((r) => r.ok) && missing.length === 0, reports, missing, unchecked: alone ? absent : [] };
}

/** The line that names a log's first bad entry: `party 2 audit.jsonl entry 17: signature does not verify`. */
export function failureLine(r: AuditLogReport): string | undefined {
  if (r.failure === null) return undefined;
  return `party ${r.party ?? '?'} ${r.file} entry ${r.failure.index}: ${r.failure.reason}`;
}

/** The line that names a missing log and the anchor that proves it existed. */
export function missingLine(m: MissingLogReport): string {
  return `party ${m.party}: no audit log, but party ${m.peer.party} anchored its entry ${m.anchored.index} (${m.peer.file} entry ${m.peer.entry}): entries 0..${m.anchored.index} are missing`;
}

function summaryLine(r: AuditLogReport): string {
  if (r.failure !== null) return `FAIL party ${r.party ?? '?'} ${r.file}`;
  const head = r.head === null ? '' : `, head ${r.head.index} ${r.head.hash.slice(0, 16)}`;
  return `ok   party ${r.party ?? '?'} ${r.file}: ${r.entries} entries${head}, ${r.anchorsChecked} peer anchors checked`;
}

function errorCode(e: unknown): string {
  return typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : 'error';
}

export interface AuditVerifyCommandOptions {
  readonly peers?: readonly string[];
  readonly json?: boolean;
}

/** Runs the command, writes its output, and returns the exit code. */
export async function auditVerifyCommand(dir: string, opts: AuditVerifyCommandOptions): Promise<number> {
  let report: AuditVerifyReport;
  try {
    report = await runAuditVerify(dir, opts.peers ?? []);
  } catch (e) {
    if (!(e instanceof AuditError)) throw e;
    process.stderr.write(`${e.message}\n`);
    if (opts.json) process.stdout.write(JSON.stringify({ ok: false, error: { code: e.code, message: e.message } }) + '\n');
    return 2;
  }
  for (const r of report.reports) {
    if (!opts.json) process.stdout.write(summaryLine(r) + '\n');
    const line = failureLine(r);
    if (line !== undefined) process.stderr.write(line + '\n');
  }
  for (const m of report.missing) {
    if (!opts.json) process.stdout.write(`FAIL party ${m.party} (no audit log)\n`);
    process.stderr.write(missingLine(m) + '\n');
  }
  if (!opts.json) {
    for (const m of report.unchecked) process.stdout.write(`--   party ${m.party}: no log given, anchored up to entry ${m.anchored.index} here (not checked)\n`);
  }
  if (opts.json) process.stdout.write(JSON.stringify(report) + '\n');
  return report.ok ? 0 : 1;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the party audit logs (signed, hash-chained, anchored by peers)');
  audit
    .command('verify')
    .description('verify audit logs and their peer anchors; exit 0 when intact, 1 naming the first bad entry')
    .argument('<dir>', "a party's audit directory, an audit.jsonl file, or a state directory holding several")
    .option('--peers <dirs...>', "peers' audit or state directories whose anchors are checked too")
    .option('--json', 'the report as one JSON object on the last line of stdout')
    .action(async (dir: string, opts: { peers?: string[]; json?: boolean }) => {
      process.exitCode = await auditVerifyCommand(dir, opts);
    });
}
