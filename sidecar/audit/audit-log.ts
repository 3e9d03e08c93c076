/**
 * The party's append-only audit log (DESIGN §4 "Audit log"): `<dir>/audit.jsonl`, one signed,
 * hash-chained entry per line (entry.ts).
 *
 * Appends are serialised inside the process: each is one write of one full line to a file opened
 * with O_APPEND, then fsync, before the next starts, so a crash leaves at most a partial last
 * line, which the next open refuses rather than silently extending. After a failed write or
 * fsync the state on disk is unknown and the log refuses further appends until reopened. After
 * sessions and on a timer the node sends `signedHead()` to its peers and records theirs with
 * `recordPeerHead` (sidecar/node/audit-anchors.ts), which is what makes a cut tail detectable
 * (verify.ts).
 *
 * One writer per file: a second open of the same path in this process is refused; separate
 * processes must not share a directory (each party has its own state directory).
 */
import { chmod, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { verifyIdentitySignature, type Signer } from '../../cggmp/protocols/index.ts';
import {
  ANCHOR_KIND,
  assertKind,
  assertParty,
  AUDIT_ENTRY_VERSION,
  auditDataSnapshot,
  encodeLine,
  entrySigningBytes,
  GENESIS_KIND,
  GENESIS_PREV,
  HEX64_RE,
  headSigningBytes,
  isSignatureHex,
  lineHash,
  MAX_LINE_BYTES,
  signLowS,
  type AuditData,
  type AuditHead,
  type SignedAuditHead,
  type UnsignedAuditEntry,
} from './entry.ts';
import { AuditError } from './errors.ts';
import { verifyAuditLog, verifyAuditTail } from './verify.ts';
import { makePrivateDir } from '../file-modes.ts';

/** The log's file name inside its directory. */
export const AUDIT_FILE_NAME = 'audit.jsonl';
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/** Bytes of a compressed P-256 public key. */
const IDENTITY_KEY_BYTES = 33;

export interface AuditLogOptions {
  /** This party's 1-based number. */
  readonly party: number;
  /** The party's HSM identity key; the genesis entry records its public key. */
  readonly signer: Signer;
  /**
   * How much of an existing log to check before appending: its two ends (default; constant time
   * whatever the size) or every entry.
   */
  readonly verify?: 'tail' | 'full';
  /** Clock for entry times (tests). */
  readonly now?: () => Date;
}

// Paths open for appending in this process: two writers would fork the chain.
const openPaths = new Set<string>();

export class AuditLog {
  readonly file: string;
  readonly party: number;
  readonly #signer: Signer;
  readonly #now: () => Date;
  readonly #fh: FileHandle;
  #closing = false;
  #head: AuditHead;
  #contentIndex: number;
  #queue: Promise<unknown> = Promise.resolve();
  #broken: string | undefined;

  private constructor(file: string, fh: FileHandle, opts: AuditLogOptions, head: AuditHead) {
    this.file = file;
    this.party = opts.party;
    this.#signer = opts.signer;
    this.#now = opts.now ?? (() => new Date());
    this.#fh = fh;
    this.#head = head;
    // An existing log's last entries may be anything: count them as not yet anchored.
    this.#contentIndex = head.index;
  }

  /**
   * Opens (creating with a genesis entry when new) the log in `dir`: directory 0700, file 0600.
   * An existing log must verify and belong to this party and identity key, else E_AUDIT_CORRUPT
   * or E_AUDIT_IDENTITY.
   */
  static async open(dir: string, opts: AuditLogOptions): Promise<AuditLog> {
    assertParty(opts.party);
    const publicKey = opts.signer.publicKey;
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== IDENTITY_KEY_BYTES) {
      throw new AuditError('E_AUDIT_IDENTITY', 'the identity signer has no 33-byte compressed public key');
    }
    const file = path.resolve(dir, AUDIT_FILE_NAME);
    if (openPaths.has(file)) throw new AuditError('E_AUDIT_BUSY', `${file} is already open in this process`);
    openPaths.add(file);
    let fh: FileHandle | undefined;
    try {
      await makePrivateDir(dir);
      await chmod(dir, DIR_MODE);
      fh = await open(file, 'a', FILE_MODE);
      await fh.chmod(FILE_MODE);
      const size = (await fh.stat()).size;
      if (size > 0) return new AuditLog(file, fh, opts, await checkExisting(file, opts.party, publicKey, opts.verify ?? 'tail'));
      // The genesis entry's index is 0, so the head before it is index -1 over no line.
      const log = new AuditLog(file, fh, opts, { index: -1, hash: GENESIS_PREV });
      await log.#write(GENESIS_KIND, { party: opts.party, publicKey: Buffer.from(publicKey).toString('hex') });
      await syncDirectory(dir);
      return log;
    } catch (e) {
      openPaths.delete(file);
      await fh?.close();
      throw e;
    }
  }

  /** Index and line hash of the last entry written. */
  head(): AuditHead {
    return this.#head;
  }

  /**
   * Index of the last entry that is not an "anchor.peer" record (the head itself right after
   * opening an existing log). Entries up to here are what this party's peers must anchor; the
   * records of their heads after it need not trigger another send (audit-anchors.ts).
   */
  contentIndex(): number {
    return this.#contentIndex;
  }

  /**
   * Appends one entry and resolves with the new head once the line is on disk. Concurrent calls
   * are written in call order. Refuses kinds "genesis" and "anchor.peer" (use recordPeerHead)
   * and data that is not plain JSON (bytes must be hex strings) or has a key named like a secret
   * at any depth; the type is loose because this check is made at run time anyway.
   */
  async append(kind: string, data: Readonly<Record<string, unknown>>): Promise<AuditHead> {
    this.#assertUsable();
    assertKind(kind);
    if (kind === GENESIS_KIND || kind === ANCHOR_KIND) throw new AuditError('E_AUDIT_DATA', `kind "${kind}" is written by the log itself`);
    const snapshot = auditDataSnapshot(data);
    return this.#enqueue(() => this.#write(kind, snapshot));
  }

  /** The current head signed by the identity key, to send to peers (audit-anchors.ts). */
  async signedHead(): Promise<SignedAuditHead> {
    this.#assertUsable();
    const head = this.#head;
    const sig = await signLowS(this.#signer, headSigningBytes(this.party, head));
    return { party: this.party, index: head.index, hash: head.hash, sig };
  }

  /**
   * Verifies a peer's signed head with that peer's identity key (from the caller's pinned plan,
   * never from the message) and records it as an "anchor.peer" entry.
   */
  async recordPeerHead(peerParty: number, signed: unknown, peerPublicKey: Uint8Array): Promise<AuditHead> {
    this.#assertUsable();
    assertParty(peerParty, 'peerParty');
    if (peerParty === this.party) throw new AuditError('E_AUDIT_PEER_HEAD', 'a party does not anchor its own head');
    if (!(peerPublicKey instanceof Uint8Array) || peerPublicKey.length !== IDENTITY_KEY_BYTES) {
      throw new AuditError('E_AUDIT_PEER_HEAD', 'peer identity key must be a 33-byte compressed P-256 key');
    }
    const head = assertSignedHead(signed);
    if (head.party !== peerParty) throw new AuditError('E_AUDIT_PEER_HEAD', `signed head is from party ${head.party}, expected party ${peerParty}`);
    if (!verifyIdentitySignature(peerPublicKey, headSigningBytes(peerParty, head), Buffer.from(head.sig, 'hex'))) {
      throw new AuditError('E_AUDIT_PEER_HEAD', `signed head of party ${peerParty} does not verify under its identity key`);
    }
    const data = { peer: peerParty, publicKey: Buffer.from(peerPublicKey).toString('hex'), index: head.index, hash: head.hash, sig: head.sig };
    return this.#enqueue(() => this.#write(ANCHOR_KIND, data));
  }

  /** Waits for queued appends, then closes the file. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await this.#queue;
    openPaths.delete(this.file);
    await this.#fh.close();
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #assertUsable(): void {
    if (this.#closing) throw new AuditError('E_AUDIT_UNAVAILABLE', `${this.file} is closed`);
    if (this.#broken !== undefined) throw new AuditError('E_AUDIT_UNAVAILABLE', `${this.file}: an earlier write failed (${this.#broken}); reopen the log`);
  }

  // Runs only from the queue (or from open, before the log is shared), so #head is stable here.
  async #write(kind: string, data: AuditData): Promise<AuditHead> {
    if (this.#broken !== undefined) throw new AuditError('E_AUDIT_UNAVAILABLE', `${this.file}: an earlier write failed (${this.#broken}); reopen the log`);
    const fh = this.#fh;
    const unsigned: UnsignedAuditEntry = {
      v: AUDIT_ENTRY_VERSION,
      index: this.#head.index + 1,
      time: this.#now().toISOString(),
      party: this.party,
      kind,
      data,
      prev: this.#head.hash,
    };
    let sig: string;
    try {
      sig = await signLowS(this.#signer, entrySigningBytes(unsigned));
    } catch (e) {
      if (e instanceof AuditError) throw e;
      throw new AuditError('E_AUDIT_UNAVAILABLE', 'the identity key could not sign the entry', { cause: e });
    }
    const line = encodeLine({ ...unsigned, sig });
    if (line.length > MAX_LINE_BYTES) throw new AuditError('E_AUDIT_DATA', `entry is longer than ${MAX_LINE_BYTES} bytes`);
    const bytes = new Uint8Array(line.length + 1);
    bytes.set(line, 0);
    bytes[line.length] = 0x0a;
    try {
      const { bytesWritten } = await fh.write(bytes, 0, bytes.length);
      if (bytesWritten !== bytes.length) throw new Error(`short write (${bytesWritten} of ${bytes.length} bytes)`);
      await fh.sync();
    } catch (e) {
      this.#broken = e instanceof Error && 'code' in e ? String(e.code) : 'write failed';
      throw new AuditError('E_AUDIT_UNAVAILABLE', `${this.file}: appending entry ${unsigned.index} failed`, { cause: e });
    }
    this.#head = { index: unsigned.index, hash: lineHash(line) };
    if (kind !== ANCHOR_KIND) this.#contentIndex = unsigned.index;
    return this.#head;
  }
}

async function checkExisting(file: string, party: number, identityKey: Uint8Array, mode: 'tail' | 'full'): Promise<AuditHead> {
  if (mode === 'full') {
    const result = await verifyAuditLog(file);
    if (!result.ok) throw new AuditError('E_AUDIT_CORRUPT', `${file} entry ${result.index}: ${result.reason}`);
    if (result.party !== party || !Buffer.from(result.identityKey).equals(identityKey)) {
      throw new AuditError('E_AUDIT_IDENTITY', `${file} belongs to party ${result.party} under another identity key or party number`);
    }
    return result.head;
  }
  const result = await verifyAuditTail(file, { party, identityKey });
  if (!result.ok) throw new AuditError(result.identity ? 'E_AUDIT_IDENTITY' : 'E_AUDIT_CORRUPT', `${file}: ${result.reason}`);
  return result.head;
}

function assertSignedHead(value: unknown): SignedAuditHead {
  if (typeof value !== 'object' || value === null) throw new AuditError('E_AUDIT_PEER_HEAD', 'signed head is not an object');
  const { party, index, hash, sig } = value as Record<string, unknown>;
  try {
    assertParty(party, 'signed head party');
  } catch {
    throw new AuditError('E_AUDIT_PEER_HEAD', 'signed head party is not a party number');
  }
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) throw new AuditError('E_AUDIT_PEER_HEAD', 'signed head index is not a non-negative integer');
  if (typeof hash !== 'string' || !HEX64_RE.test(hash)) throw new AuditError('E_AUDIT_PEER_HEAD', 'signed head hash is not 64 lowercase hex digits');
  if (!isSignatureHex(sig)) throw new AuditError('E_AUDIT_PEER_HEAD', 'signed head sig is not 128 lowercase hex digits');
  return { party, index, hash, sig };
}

// A new file's directory entry is durable only once the directory itself is synced.
async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
