/**
 * Audit-log verification (DESIGN §4 "Audit log", §8 `vilna-mpc audit verify`).
 *
 * One log on its own: every line decodes (UTF-8, canonical JSON, field types), indices are
 * consecutive from 0, each `prev` is the hash of the line before, the party never changes, and
 * every signature verifies under the identity key the genesis entry names (optionally pinned by
 * the caller). A single changed byte therefore breaks the parse, the canonical form, the chain or
 * a signature, at the line that holds it.
 *
 * What one log cannot show: a clean cut at a line boundary leaves a shorter log that is still
 * intact. Peers catch that: after sessions and on a timer each party signs its head and its peers
 * record the head in their own logs ("anchor.peer"), so verifyWithPeers finds anchored entries
 * that are missing or different, and anchoredWithoutLog finds a party whose whole log is gone
 * while its peers still hold heads it signed.
 */
import { open, readFile } from 'node:fs/promises';
import { verifyIdentitySignature } from '../../cggmp/protocols/index.ts';
import {
  ANCHOR_KIND,
  decodeLine,
  entrySigningBytes,
  GENESIS_KIND,
  GENESIS_PREV,
  HEX64_RE,
  headSigningBytes,
  isLowS,
  isPublicKeyHex,
  isSignatureHex,
  lineHash,
  MAX_LINE_BYTES,
  type AuditEntry,
  type AuditHead,
} from './entry.ts';

const NEWLINE = 0x0a;

export interface VerifyOptions {
  /** The identity key the genesis entry must name (33-byte compressed P-256). */
  readonly identityKey?: Uint8Array;
  /** The party number the log must belong to. */
  readonly party?: number;
}

/** An intact log: its entries, the hash of every line, and its head. */
export interface VerifiedAuditLog {
  readonly ok: true;
  readonly party: number;
  /** From the genesis entry. */
  readonly identityKey: Uint8Array;
  readonly entries: readonly AuditEntry[];
  /** hashes[i] is the hex SHA-256 of line i. */
  readonly hashes: readonly string[];
  readonly head: AuditHead;
}

/** The first bad entry (0-based line number) and why; `party` when the genesis entry was readable. */
export interface AuditLogFailure {
  readonly ok: false;
  readonly index: number;
  readonly reason: string;
  readonly party?: number;
}

export type AuditVerifyResult = VerifiedAuditLog | AuditLogFailure;

/** Verifies a whole log held in memory. */
export function verifyAuditBytes(bytes: Uint8Array, opts: VerifyOptions = {}): AuditVerifyResult {
  const entries: AuditEntry[] = [];
  const hashes: string[] = [];
  let identityKey: Uint8Array | undefined;
  let party: number | undefined;
  const fail = (index: number, reason: string): AuditLogFailure => (party === undefined ? { ok: false, index, reason } : { ok: false, index, reason, party });

  if (bytes.length === 0) return fail(0, 'log is empty (no genesis entry)');
  let start = 0;
  for (let index = 0; start < bytes.length; index++) {
    const end = bytes.indexOf(NEWLINE, start);
    if (end < 0) return fail(index, 'partial last line (no trailing newline)');
    const line = bytes.subarray(start, end);
    start = end + 1;
    const decoded = decodeLine(line);
    if (!decoded.ok) return fail(index, decoded.reason);
    const entry = decoded.entry;
    if (index === 0) {
      const genesis = checkGenesis(entry, opts);
      if (typeof genesis === 'string') return fail(0, genesis);
      identityKey = genesis;
      party = entry.party;
    }
    const reason = checkEntry(entry, { index, prev: index === 0 ? GENESIS_PREV : hashes[index - 1], party: party as number, identityKey: identityKey as Uint8Array });
    if (reason !== undefined) return fail(index, reason);
    entries.push(entry);
    hashes.push(lineHash(line));
  }
  const last = entries.length - 1;
  return { ok: true, party: party as number, identityKey: identityKey as Uint8Array, entries, hashes, head: { index: last, hash: hashes[last] as string } };
}

/** Verifies the log file at `file` (reads it whole). */
export async function verifyAuditLog(file: string, opts: VerifyOptions = {}): Promise<AuditVerifyResult> {
  return verifyAuditBytes(new Uint8Array(await readFile(file)), opts);
}

/** Checks the genesis entry's own fields; returns its identity key or the reason it is bad. */
function checkGenesis(entry: AuditEntry, opts: VerifyOptions): Uint8Array | string {
  if (entry.kind !== GENESIS_KIND) return 'first entry is not a genesis entry';
  const data = entry.data;
  const keys = Object.keys(data).sort();
  if (keys.length !== 2 || keys[0] !== 'party' || keys[1] !== 'publicKey') return 'genesis data must hold exactly party and publicKey';
  if (data.party !== entry.party) return 'genesis data names another party than the entry';
  if (!isPublicKeyHex(data.publicKey)) return 'genesis publicKey is not a compressed P-256 key in hex';
  const key = new Uint8Array(Buffer.from(data.publicKey, 'hex'));
  if (opts.party !== undefined && entry.party !== opts.party) return `log belongs to party ${entry.party}, expected party ${opts.party}`;
  if (opts.identityKey !== undefined && !Buffer.from(opts.identityKey).equals(key)) return 'genesis identity key differs from the expected key';
  return key;
}

interface EntryExpectation {
  readonly index: number;
  /** Hash of the previous line; undefined when the previous line is not at hand. */
  readonly prev: string | undefined;
  readonly party: number;
  readonly identityKey: Uint8Array;
}

/** Chain position, party, kind and signature of one decoded entry; the reason it fails, if any. */
export function checkEntry(entry: AuditEntry, expect: EntryExpectation): string | undefined {
  if (entry.index !== expect.index) return `index is ${entry.index}, expected ${expect.index}`;
  if (expect.prev !== undefined && entry.prev !== expect.prev) {
    return expect.index === 0 ? 'genesis prev is not all zeros' : 'prev is not the hash of the previous line';
  }
  if (entry.party !== expect.party) return `party is ${entry.party}, the genesis entry says ${expect.party}`;
  if (expect.index > 0 && entry.kind === GENESIS_KIND) return 'a genesis entry after the first line';
  if (!isLowS(entry.sig)) return 'signature is not in low-s form';
  if (!verifyIdentitySignature(expect.identityKey, entrySigningBytes(entry), Buffer.from(entry.sig, 'hex'))) return 'signature does not verify';
  return undefined;
}

/** Where a cross-check failed: the party whose log holds the bad (or missing) entry. */
export interface PeerCheckFailure {
  readonly ok: false;
  readonly party: number;
  readonly index: number;
  readonly reason: string;
}

export type PeerCheckResult = { readonly ok: true; readonly anchors: number } | PeerCheckFailure;

/**
 * Checks `own` against every anchor its peers recorded about it: each anchored head must be
 * signed by own's identity key, lie within own's length, and carry the hash of own's line at
 * that index. The failure names the log that holds the bad entry: own (a cut tail, a rewritten
 * entry, a replaced genesis) or the peer (an anchor whose signature does not verify). Peers with
 * own's party number are skipped: a log is not its own peer.
 */
export function verifyWithPeers(own: VerifiedAuditLog, peers: readonly VerifiedAuditLog[]): PeerCheckResult {
  const ownKey = Buffer.from(own.identityKey).toString('hex');
  const length = own.entries.length;
  let anchors = 0;
  let tailCut: { anchored: number; peer: number; hash: string } | undefined;
  for (const peer of peers) {
    if (peer.party === own.party) continue;
    for (const entry of peer.entries) {
      if (entry.kind !== ANCHOR_KIND || entry.data.peer !== own.party) continue;
      const at = (reason: string): PeerCheckFailure => ({ ok: false, party: peer.party, index: entry.index, reason });
      const { publicKey, index, hash, sig } = entry.data;
      if (!isPublicKeyHex(publicKey) || !isSignatureHex(sig) || typeof hash !== 'string' || !HEX64_RE.test(hash)) return at('anchor.peer data is malformed');
      if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return at('anchor.peer index is not a non-negative integer');
      if (publicKey !== ownKey) {
        return { ok: false, party: own.party, index: 0, reason: `genesis identity key differs from the key peer ${peer.party} anchored at its entry ${entry.index}` };
      }
      if (!verifyIdentitySignature(own.identityKey, headSigningBytes(own.party, { index, hash }), Buffer.from(sig, 'hex'))) {
        return at(`anchored head of party ${own.party} has a signature that does not verify`);
      }
      anchors++;
      if (index >= length) {
        if (tailCut === undefined || index > tailCut.anchored) tailCut = { anchored: index, peer: peer.party, hash };
      } else if (own.hashes[index] !== hash) {
        return { ok: false, party: own.party, index, reason: `entry differs from the one peer ${peer.party} anchored at its entry ${entry.index} (hash ${hash})` };
      }
    }
  }
  if (tailCut !== undefined) {
    return {
      ok: false,
      party: own.party,
      index: length,
      reason: `tail cut: peer ${tailCut.peer} anchored entry ${tailCut.anchored} with hash ${tailCut.hash}, log ends at entry ${length - 1}`,
    };
  }
  return { ok: true, anchors };
}

/** A party whose peers anchored its heads but whose log is not among the logs checked. */
export interface MissingLog {
  readonly party: number;
  /** The highest head of `party` any peer anchored: the log had at least index + 1 entries. */
  readonly index: number;
  readonly hash: string;
  /** The peer whose log holds that anchor, and the anchor's entry there. */
  readonly peer: number;
  readonly peerEntry: number;
}

export interface MissingLogsResult {
  readonly missing: readonly MissingLog[];
  /** Anchors about absent parties that are malformed or do not verify, by the log holding them. */
  readonly failures: readonly PeerCheckFailure[];
}

/**
 * The parties that the anchors in `logs` name but that have no log in `present` (the party
 * numbers of every log at hand, intact or not), each with the highest head its peers anchored.
 * Each such anchor's head signature is checked under the identity key the peer recorded with it,
 * so a missing log is named only on a head its own key signed; an anchor that does not verify
 * is a failure of the peer's log instead (as in verifyWithPeers; the first one per log) and is
 * not counted. Ordered by party number.
 */
export function anchoredWithoutLog(logs: readonly VerifiedAuditLog[], present: ReadonlySet<number>): MissingLogsResult {
  const highest = new Map<number, MissingLog>();
  const failures: PeerCheckFailure[] = [];
  for (const peer of logs) {
    let failed = false;
    for (const entry of peer.entries) {
      if (entry.kind !== ANCHOR_KIND) continue;
      const { peer: party, publicKey, index, hash, sig } = entry.data;
      if (typeof party !== 'number' || present.has(party)) continue;
      const bad = anchorFault(party, publicKey, index, hash, sig);
      if (bad !== undefined) {
        if (!failed) failures.push({ ok: false, party: peer.party, index: entry.index, reason: bad });
        failed = true;
        continue;
      }
      const at = index as number;
      const known = highest.get(party);
      if (known === undefined || at > known.index) highest.set(party, { party, index: at, hash: hash as string, peer: peer.party, peerEntry: entry.index });
    }
  }
  return { missing: [...highest.values()].sort((a, b) => a.party - b.party), failures };
}

/** Why an anchor of `party`'s head is unusable, checking its signature under the key recorded with it. */
function anchorFault(party: number, publicKey: unknown, index: unknown, hash: unknown, sig: unknown): string | undefined {
  if (!Number.isInteger(party) || party < 1) return 'anchor.peer peer is not a party number';
  if (!isPublicKeyHex(publicKey) || !isSignatureHex(sig) || typeof hash !== 'string' || !HEX64_RE.test(hash)) return 'anchor.peer data is malformed';
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return 'anchor.peer index is not a non-negative integer';
  if (!verifyIdentitySignature(Buffer.from(publicKey, 'hex'), headSigningBytes(party, { index, hash }), Buffer.from(sig, 'hex'))) {
    return `anchored head of party ${party} has a signature that does not verify`;
  }
  return undefined;
}

/** Result of checking only the two ends of a log (what opening a log for appending needs). */
export type AuditTailResult =
  | { readonly ok: true; readonly head: AuditHead }
  | { readonly ok: false; readonly reason: string; readonly identity: boolean };

/**
 * Checks the genesis entry against the expected party and key, and the last two lines: both
 * decode and verify, the last follows the one before it, and the file ends with a newline. Reads
 * at most a few line lengths whatever the log's size; `verifyAuditLog` checks everything.
 */
export async function verifyAuditTail(file: string, expect: { readonly party: number; readonly identityKey: Uint8Array }): Promise<AuditTailResult> {
  const fail = (reason: string, identity = false): AuditTailResult => ({ ok: false, reason, identity });
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size === 0) return fail('log is empty (no genesis entry)');
    const read = async (position: number, length: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(length);
      const { bytesRead } = await fh.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    };
    const first = await read(0, Math.min(size, MAX_LINE_BYTES + 1));
    const firstEnd = first.indexOf(NEWLINE);
    if (firstEnd < 0) return fail('entry 0: no complete first line');
    const genesisLine = first.subarray(0, firstEnd);
    const genesis = decodeLine(genesisLine);
    if (!genesis.ok) return fail(`entry 0: ${genesis.reason}`);
    const key = checkGenesis(genesis.entry, expect);
    if (typeof key === 'string') return fail(`entry 0: ${key}`, true);
    const genesisReason = checkEntry(genesis.entry, { index: 0, prev: GENESIS_PREV, party: expect.party, identityKey: key });
    if (genesisReason !== undefined) return fail(`entry 0: ${genesisReason}`);

    // The last two lines (each at most MAX_LINE_BYTES plus its newline) and the byte before them.
    const windowStart = Math.max(0, size - 2 * (MAX_LINE_BYTES + 1) - 1);
    const tail = await read(windowStart, size - windowStart);
    if (tail[tail.length - 1] !== NEWLINE) return fail('partial last line (no trailing newline)');
    const lines = splitLines(tail.subarray(0, tail.length - 1));
    if (windowStart > 0) lines.shift(); // begins mid-line or is the empty piece before a newline
    const lastLine = lines[lines.length - 1];
    if (lastLine === undefined) return fail('last line is longer than the line limit');
    const last = decodeLine(lastLine);
    if (!last.ok) return fail(`last line: ${last.reason}`);
    if (last.entry.index === 0) {
      if (windowStart !== 0 || lines.length !== 1) return fail('last line claims index 0');
      return { ok: true, head: { index: 0, hash: lineHash(genesisLine) } };
    }
    const beforeLine = lines[lines.length - 2];
    if (beforeLine === undefined) return fail(`entry ${last.entry.index}: the line before it is missing or too long`);
    const before = decodeLine(beforeLine);
    if (!before.ok) return fail(`entry ${last.entry.index - 1}: ${before.reason}`);
    const beforeReason = checkEntry(before.entry, { index: before.entry.index, prev: undefined, party: expect.party, identityKey: key });
    if (beforeReason !== undefined) return fail(`entry ${before.entry.index}: ${beforeReason}`);
    const lastReason = checkEntry(last.entry, { index: before.entry.index + 1, prev: lineHash(beforeLine), party: expect.party, identityKey: key });
    if (lastReason !== undefined) return fail(`entry ${before.entry.index + 1}: ${lastReason}`);
    return { ok: true, head: { index: last.entry.index, hash: lineHash(lastLine) } };
  } finally {
    await fh.close();
  }
}

function splitLines(bytes: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(NEWLINE, start);
    if (end < 0) {
      lines.push(bytes.subarray(start));
      return lines;
    }
    lines.push(bytes.subarray(start, end));
    start = end + 1;
  }
}
