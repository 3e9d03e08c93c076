/**
 * Key shares at rest (DESIGN §4 "HSM vault", "Epoch switch"): each epoch's share is sealed in the
 * party's HSM under that (key, epoch)'s sealing key, first as a `pending-shard` and, once the
 * epoch is committed, re-sealed as a `shard` (the kind is authenticated, so an uncommitted share
 * can never be read as a committed one). Retiring an epoch destroys its sealing key and moves the
 * token's watermark past it, so old blobs and backups become useless.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { protocols, type SecurityLevel } from '../../cggmp/index.ts';
import { readBlob, writeBlob, type BlobKind, type Vault } from '../vault/index.ts';
import { WriteGate } from './write-gate.ts';

type KeyShare = protocols.KeyShare;

/** u32 big-endian length of the public part ‖ public part ‖ secret part. */
function encodeShare(share: KeyShare): Uint8Array {
  const pub = protocols.encodeKeySharePublic(share.public);
  const sec = protocols.encodeKeyShareSecret(share.secret);
  const out = new Uint8Array(4 + pub.length + sec.length);
  new DataView(out.buffer).setUint32(0, pub.length, false);
  out.set(pub, 4);
  out.set(sec, 4 + pub.length);
  return out;
}

function decodeShare(bytes: Uint8Array, level: SecurityLevel): KeyShare {
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
  return protocols.decodeKeyShare(bytes.subarray(4, 4 + n), bytes.subarray(4 + n), level);
}

/** A committed or pending share whose sealed blob is not on disk: the party cannot sign with it. */
export class ShardMissing extends Error {
  readonly code = 'E_BLOB_MISSING';
  override readonly name = 'ShardMissing';
}

export class ShardStore {
  readonly #vault: Vault;
  readonly #dir: string;
  readonly #party: number;
  readonly #level: SecurityLevel;

  readonly #gate: WriteGate;

  constructor(vault: Vault, dir: string, party: number, level: SecurityLevel, gate: WriteGate = new WriteGate()) {
    this.#vault = vault;
    this.#dir = dir;
    this.#party = party;
    this.#level = level;
    this.#gate = gate;
  }

  /** A committed share is named by its epoch; a pending one also by its plan, so two plans for one epoch never overwrite each other. */
  static objectId(keyId: string, epoch: number, kind: 'pending-shard' | 'shard', planHash?: string): string {
    if (kind === 'shard') return `${keyId}.e${epoch}`;
    if (planHash === undefined || !/^[0-9a-f]{64}$/.test(planHash)) throw new Error('a pending share is named by its plan hash');
    return `${keyId}.e${epoch}.p${planHash.slice(0, 16)}`;
  }

  #blobDir(keyId: string): string {
    return path.join(this.#dir, keyId);
  }

  #write(share: KeyShare, kind: BlobKind & ('pending-shard' | 'shard'), planHash?: string): Promise<void> {
    return this.#gate.shared(() => this.#writeNow(share, kind, planHash));
  }

  async #writeNow(share: KeyShare, kind: BlobKind & ('pending-shard' | 'shard'), planHash?: string): Promise<void> {
    const { keyId, epoch } = share.public;
    const objectId = ShardStore.objectId(keyId, epoch, kind, planHash);
    const plaintext = encodeShare(share);
    try {
      const blob = await this.#vault.seal({ keyId, party: this.#party, epoch, kind, objectId }, plaintext);
      await writeBlob(this.#blobDir(keyId), objectId, blob);
    } finally {
      plaintext.fill(0);
    }
  }

  #read(keyId: string, epoch: number, kind: 'pending-shard' | 'shard', planHash?: string): Promise<KeyShare> {
    return this.#gate.shared(() => this.#readNow(keyId, epoch, kind, planHash));
  }

  async #readNow(keyId: string, epoch: number, kind: 'pending-shard' | 'shard', planHash?: string): Promise<KeyShare> {
    const objectId = ShardStore.objectId(keyId, epoch, kind, planHash);
    let blob: Uint8Array;
    try {
      blob = await readBlob(this.#blobDir(keyId), objectId);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ShardMissing(`the sealed ${kind} of key ${keyId} at epoch ${epoch} (blob ${objectId}) is missing`);
      throw e;
    }
    const { plaintext } = await this.#vault.unseal(blob, { keyId, party: this.#party, epoch, kind, objectId });
    try {
      return decodeShare(plaintext, this.#level);
    } finally {
      plaintext.fill(0);
    }
  }

  sealPending(share: KeyShare, planHash: string): Promise<void> {
    return this.#write(share, 'pending-shard', planHash);
  }

  loadPending(keyId: string, epoch: number, planHash: string): Promise<KeyShare> {
    return this.#read(keyId, epoch, 'pending-shard', planHash);
  }

  load(keyId: string, epoch: number): Promise<KeyShare> {
    return this.#read(keyId, epoch, 'shard');
  }

  /** Commit step 3: the pending share re-sealed as the epoch's share. Idempotent. */
  async promote(keyId: string, epoch: number, planHash: string): Promise<KeyShare> {
    const share = await this.loadPending(keyId, epoch, planHash);
    await this.#write(share, 'shard');
    return share;
  }

  /** Removes every pending blob of epochs up to `epoch` (after a commit made them moot). */
  dropPendingBlobs(keyId: string, epoch: number): Promise<void> {
    return this.#gate.shared(() => this.#dropPendingBlobs(keyId, epoch));
  }

  async #dropPendingBlobs(keyId: string, epoch: number): Promise<void> {
    for (const f of await this.#files(keyId)) {
      const m = /\.e(\d+)\.p[0-9a-f]{16}\.blob$/.exec(f);
      if (m && Number(m[1]) <= epoch) await rm(path.join(this.#blobDir(keyId), f), { force: true });
    }
  }

  async #files(keyId: string): Promise<string[]> {
    try {
      return await readdir(this.#blobDir(keyId));
    } catch {
      return [];
    }
  }

  /** Step 4: every epoch below `keep` is shredded (sealing key destroyed, watermark moved, files removed). */
  retireBelow(keyId: string, keep: number): Promise<void> {
    return this.#gate.shared(() => this.#retireBelow(keyId, keep));
  }

  async #retireBelow(keyId: string, keep: number): Promise<void> {
    await this.#vault.advanceWatermark(keyId, keep);
    const epochs = new Set<number>();
    for (const f of await this.#files(keyId)) {
      const m = /\.e(\d+)(?:\.p[0-9a-f]{16})?\.blob$/.exec(f);
      if (m && Number(m[1]) < keep) {
        epochs.add(Number(m[1]));
        await rm(path.join(this.#blobDir(keyId), f), { force: true });
      }
    }
    if (keep > 0) epochs.add(keep - 1);
    for (const e of epochs) await this.#vault.destroySealingKey(keyId, e);
  }
}
