/**
 * Replacing this party's pinned approver set through an approved change (DESIGN §4 "Trust
 * anchors"; the change and its checks are api/approver-change.ts and
 * sidecar/trust/verify-approver-change.ts). Every sealed blob carries the approver-set hash in
 * its AAD, so after the token's pin moves each blob is re-sealed under the new hash inside the
 * HSM. Steps, each durable before the next, so that a crash anywhere is finished on next start:
 *   1. the verified change and its approvals are recorded (state/approvers/change.json);
 *   2. the token's pin moves from → to (compare-and-swap on the pin's sequence);
 *   3. every blob still under `from` is re-sealed under `to`, each file replaced atomically;
 *   4. the record is marked done and the new set takes effect.
 * The pin is the authority: the recorded set is used only when it hashes to what the token pins,
 * so the configuration file matters at provisioning and can lag behind a change.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import { approverChangeHashHex, approverSetHash, type ApproverChange, type ApproverSet } from '../../api/index.ts';
import { TrustError, verifyApproverChange, type PinnedApprovers } from '../trust/index.ts';
import { parseBlob, writeBlob } from '../vault/index.ts';
import { readJson, writeJsonAtomic } from './atomic-json.ts';

const BLOB_SUFFIX = '.blob';

export interface RotationVault {
  approverPin(): Promise<PinnedApprovers | undefined>;
  replaceApproverPin(expected: PinnedApprovers, next: Uint8Array): Promise<PinnedApprovers>;
  reseal(blob: Uint8Array, previous: Uint8Array): Promise<Uint8Array>;
}

export interface ApproverRotationDeps {
  readonly vault: RotationVault;
  /** Where the change record is kept (public data only). */
  readonly dir: string;
  /** Root of the sealed blobs (one folder per key). */
  readonly blobsDir: string;
  readonly audit: (kind: string, data: Record<string, unknown>) => Promise<unknown>;
  /** The new set is in force (plan checks and signing approvals use it from now on). */
  readonly changed?: (set: ApproverSet) => void;
  /** Test-only crash points. */
  readonly checkpoint?: (name: string) => void;
}

interface ChangeRecord {
  readonly change: ApproverChange;
  readonly approvals: unknown;
  readonly state: 'accepted' | 'pinned' | 'done';
}

export interface RotationResult {
  readonly changeHash: string;
  readonly approvers: string;
  readonly sequence: number;
  readonly resealed: number;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => bytesToHex(a) === bytesToHex(b);

/** True when `other` is the recorded change itself (a repeated request). */
function sameChange(recorded: ApproverChange, other: unknown): boolean {
  try {
    return approverChangeHashHex(recorded) === approverChangeHashHex(other as ApproverChange);
  } catch {
    return false;
  }
}

export class ApproverRotation {
  readonly #d: ApproverRotationDeps;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(deps: ApproverRotationDeps) {
    this.#d = deps;
  }

  #file(): string {
    return path.join(this.#d.dir, 'change.json');
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => undefined);
    return next;
  }

  /** Verifies the change against the pin, records it and carries it out. Idempotent. */
  apply(change: unknown, approvals: unknown): Promise<RotationResult> {
    return this.#serial(async () => {
      const known = await this.#record();
      if (known && known.state !== 'done') await this.#complete(known);
      if (known && sameChange(known.change, change)) {
        const pin = await this.#pin();
        return { changeHash: approverChangeHashHex(known.change), approvers: bytesToHex(pin.hash), sequence: pin.sequence, resealed: 0 };
      }
      const v = verifyApproverChange(change, approvals, { pinned: (await this.#pin()).hash, now: new Date() });
      const record: ChangeRecord = { change: v.change, approvals, state: 'accepted' };
      await writeJsonAtomic(this.#file(), record);
      this.#d.checkpoint?.('approvers.after-record');
      return this.#complete(record);
    });
  }

  /**
   * At start: finishes a recorded change that a crash interrupted, then returns the approver set
   * the token pins: the configured one, or the recorded change's new set when that is what the
   * token pins (the configuration has not caught up yet). Undefined when neither matches.
   */
  resume(configured: ApproverSet): Promise<{ approvers: ApproverSet; stale: boolean } | undefined> {
    return this.#serial(async () => {
      const record = await this.#record();
      if (record && record.state !== 'done') {
        // Re-checked against the pin before anything moves: the file is not trusted by itself.
        const pin = await this.#pin();
        const pinned = same(pin.hash, approverSetHash(record.change.to)) ? approverSetHash(record.change.from) : pin.hash;
        verifyApproverChange(record.change, record.approvals, { pinned, now: new Date(), allowExpired: true });
        await this.#complete(record);
      }
      const pin = await this.#d.vault.approverPin();
      if (pin === undefined || same(pin.hash, approverSetHash(configured))) return { approvers: configured, stale: false };
      if (record && same(pin.hash, approverSetHash(record.change.to))) return { approvers: record.change.to, stale: true };
      return undefined;
    });
  }

  async #pin(): Promise<PinnedApprovers> {
    const pin = await this.#d.vault.approverPin();
    if (pin === undefined) throw new TrustError('E_TRUST_ANCHOR_MISMATCH', 'no approver set is pinned in the token');
    return pin;
  }

  async #record(): Promise<ChangeRecord | undefined> {
    return (await readJson(this.#file())) as ChangeRecord | undefined;
  }

  async #complete(record: ChangeRecord): Promise<RotationResult> {
    const fromHash = approverSetHash(record.change.from);
    const toHash = approverSetHash(record.change.to);
    let pin = await this.#pin();
    if (same(pin.hash, fromHash)) {
      pin = await this.#d.vault.replaceApproverPin(pin, toHash);
      this.#d.checkpoint?.('approvers.after-pin');
      await writeJsonAtomic(this.#file(), { ...record, state: 'pinned' } satisfies ChangeRecord);
    } else if (!same(pin.hash, toHash)) {
      throw new TrustError('E_TRUST_ANCHOR_MISMATCH', 'the token pins neither side of the recorded approver change');
    }
    const resealed = await this.#resealAll(fromHash);
    await writeJsonAtomic(this.#file(), { ...record, state: 'done' } satisfies ChangeRecord);
    const changeHash = approverChangeHashHex(record.change);
    await this.#d.audit('approvers.changed', { changeHash, from: bytesToHex(fromHash), to: bytesToHex(toHash), sequence: pin.sequence, resealed });
    this.#d.changed?.(record.change.to);
    return { changeHash, approvers: bytesToHex(toHash), sequence: pin.sequence, resealed };
  }

  /** Re-seals every blob still under `from`; returns how many were rewritten. */
  async #resealAll(fromHash: Uint8Array): Promise<number> {
    const from = bytesToHex(fromHash);
    let count = 0;
    for (const keyDir of await listDir(this.#d.blobsDir)) {
      const dir = path.join(this.#d.blobsDir, keyDir);
      for (const f of await listDir(dir)) {
        if (!f.endsWith(BLOB_SUFFIX)) continue;
        let blob: Uint8Array;
        try {
          blob = new Uint8Array(await readFile(path.join(dir, f)));
        } catch {
          continue; // removed meanwhile (an epoch retired)
        }
        if (parseBlob(blob).header.approvers !== from) continue;
        const next = await this.#d.vault.reseal(blob, fromHash);
        await writeBlob(dir, f.slice(0, -BLOB_SUFFIX.length), next);
        count++;
        this.#d.checkpoint?.('approvers.after-reseal-one');
      }
    }
    return count;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}
