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
 * so the configuration file matters at provisioning and can lag behind a change. The record is
 * not trusted by itself: before it moves the pin it is verified again, unexpired, against the
 * pin. The new set is in force from the moment the pin moves. Re-sealing holds the blobs' write
 * gate alone, so no blob is sealed under the old set meanwhile; a blob that cannot be re-sealed
 * (below the watermark, its sealing key destroyed, malformed: unreadable anyway) is reported,
 * never allowed to stop the change or the node. A change once applied is never applied again.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import { approverChangeHashHex, approverSetHash, type ApproverChange, type ApproverSet } from '../../api/index.ts';
import { TrustError, verifyApproverChange, type PinnedApprovers } from '../trust/index.ts';
import { parseBlob, VaultError, writeBlob } from '../vault/index.ts';
import { readJson, writeJsonAtomic } from './atomic-json.ts';
import type { WriteGate } from './write-gate.ts';

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
  /** The gate the shard store's seals, reads, writes and deletions share. */
  readonly gate: WriteGate;
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
  /** Hashes of every change applied here, oldest first: none is applied twice. */
  readonly applied?: readonly string[];
  /** The change no longer verified when it was to be finished (expired, or not approved): nothing moved. */
  readonly abandoned?: boolean;
}

export interface RotationResult {
  readonly changeHash: string;
  readonly approvers: string;
  readonly sequence: number;
  readonly resealed: number;
  /** Blobs that could not be re-sealed (unreadable under any set): object file names. */
  readonly skipped: readonly string[];
}

/** Vault refusals that mean a blob is unreadable whatever the approver set: skipped, not fatal. */
const UNREADABLE = new Set(['E_BLOB_ROLLBACK', 'E_SEALING_KEY_MISSING', 'E_BLOB_INVALID']);

const same = (a: Uint8Array, b: Uint8Array): boolean => bytesToHex(a) === bytesToHex(b);

function changeHashOf(value: unknown): string | undefined {
  try {
    return approverChangeHashHex(value as ApproverChange);
  } catch {
    return undefined;
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
      const known = await this.#settle(await this.#record());
      const hash = changeHashOf(change);
      if (known?.abandoned === true && hash === approverChangeHashHex(known.change)) throw new TrustError('E_PLAN_EXPIRED', 'this approver change was abandoned here (it no longer verified); make a new one');
      if (known && hash !== undefined && hash === approverChangeHashHex(known.change) && known.state === 'done') {
        const pin = await this.#pin();
        return { changeHash: hash, approvers: bytesToHex(pin.hash), sequence: pin.sequence, resealed: 0, skipped: [] };
      }
      const applied = [...(known?.applied ?? []), ...(known?.state === 'done' ? [approverChangeHashHex(known.change)] : [])];
      if (hash !== undefined && applied.includes(hash)) throw new TrustError('E_APPROVAL_INVALID', 'this approver change was applied here before; it cannot be applied again');
      const v = verifyApproverChange(change, approvals, { pinned: (await this.#pin()).hash, now: new Date() });
      const record: ChangeRecord = { change: v.change, approvals, state: 'accepted', applied: applied.slice(-64) };
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
      const record = await this.#settle(await this.#record());
      const pin = await this.#d.vault.approverPin();
      if (pin === undefined || same(pin.hash, approverSetHash(configured))) return { approvers: configured, stale: false };
      if (record && same(pin.hash, approverSetHash(record.change.to))) return { approvers: record.change.to, stale: true };
      return undefined;
    });
  }

  /**
   * An unfinished record: when the pin has already moved, the new set is the pinned one (the
   * token vouches for it) and only the re-sealing is finished; when it has not, the record must
   * verify again, unexpired, against the pin, or it is abandoned and nothing moves.
   */
  async #settle(record: ChangeRecord | undefined): Promise<ChangeRecord | undefined> {
    if (!record || record.state === 'done') return record;
    const pin = await this.#pin();
    if (!same(pin.hash, approverSetHash(record.change.to))) {
      try {
        verifyApproverChange(record.change, record.approvals, { pinned: pin.hash, now: new Date() });
      } catch (e) {
        const abandoned: ChangeRecord = { ...record, state: 'done', abandoned: true };
        await writeJsonAtomic(this.#file(), abandoned);
        await this.#d.audit('approvers.change-abandoned', { code: (e as { code?: string }).code ?? 'E_APPROVAL_INVALID' });
        return abandoned;
      }
    }
    await this.#complete(record);
    return { ...record, state: 'done' };
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
    const { pin, resealed, skipped } = await this.#d.gate.exclusive(async () => {
      let pin = await this.#pin();
      if (same(pin.hash, fromHash)) {
        pin = await this.#d.vault.replaceApproverPin(pin, toHash);
        this.#d.checkpoint?.('approvers.after-pin');
        await writeJsonAtomic(this.#file(), { ...record, state: 'pinned' } satisfies ChangeRecord);
      } else if (!same(pin.hash, toHash)) {
        throw new TrustError('E_TRUST_ANCHOR_MISMATCH', 'the token pins neither side of the recorded approver change');
      }
      // From here the old set approves nothing on this party.
      this.#d.changed?.(record.change.to);
      return { pin, ...(await this.#resealAll(fromHash)) };
    });
    await writeJsonAtomic(this.#file(), { ...record, state: 'done' } satisfies ChangeRecord);
    const changeHash = approverChangeHashHex(record.change);
    await this.#d.audit('approvers.changed', { changeHash, from: bytesToHex(fromHash), to: bytesToHex(toHash), sequence: pin.sequence, resealed, skipped });
    return { changeHash, approvers: bytesToHex(toHash), sequence: pin.sequence, resealed, skipped };
  }

  /** Re-seals every blob still under `from`; the caller holds the write gate alone. */
  async #resealAll(fromHash: Uint8Array): Promise<{ resealed: number; skipped: string[] }> {
    const from = bytesToHex(fromHash);
    let resealed = 0;
    const skipped: string[] = [];
    for (const keyDir of await listDir(this.#d.blobsDir)) {
      const dir = path.join(this.#d.blobsDir, keyDir);
      for (const f of await listDir(dir)) {
        if (!f.endsWith(BLOB_SUFFIX)) continue;
        try {
          const blob = new Uint8Array(await readFile(path.join(dir, f)));
          if (parseBlob(blob).header.approvers !== from) continue;
          await writeBlob(dir, f.slice(0, -BLOB_SUFFIX.length), await this.#d.vault.reseal(blob, fromHash));
          resealed++;
          this.#d.checkpoint?.('approvers.after-reseal-one');
        } catch (e) {
          if (!(e instanceof VaultError) || !UNREADABLE.has(e.code)) throw e;
          skipped.push(`${keyDir}/${f}`);
        }
      }
    }
    return { resealed, skipped };
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}
