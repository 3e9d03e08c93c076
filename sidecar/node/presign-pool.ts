/**
 * Presignatures in memory only (DESIGN §3 "Presignatures", §4): one pool per key, epoch, signer
 * set and derivation path. Each entry keeps the live presign session, because the one online
 * signing round continues that session. Taking an entry removes it synchronously, so two
 * concurrent requests can never get the same presignature; the whole pool of a key is dropped
 * at every epoch change.
 *
 * A presignature belongs to the node that started its session: only that node assembles a
 * signature with it, and every co-signer holds its half until that node asks for it by sid.
 * Two nodes that sign with the same set (both fail over to it when a third party is down) would
 * otherwise take the same presignature for two different requests, run one online session with
 * two digests, and both requests would fail ("signs a different digest").
 */
import { protocols } from '../../cggmp/index.ts';

export interface PoolEntry {
  readonly sid: string;
  readonly keyId: string;
  readonly epoch: number;
  readonly signers: readonly number[];
  readonly derivationPath: string;
  /** Digest-only presignatures are bound to one digest and never taken for another request. */
  readonly boundDigest?: string;
  readonly presignature: protocols.Presignature;
  readonly session: protocols.Session;
  readonly close: () => void;
  readonly createdAt: number;
  /** This node started the presign session: only it hands the entry to a request (takeFor). */
  readonly own: boolean;
}

export function poolKey(keyId: string, epoch: number, signers: readonly number[], derivationPath: string): string {
  return `${keyId}|${epoch}|${signers.join(',')}|${derivationPath}`;
}

export class PresignPool {
  readonly #bySid = new Map<string, PoolEntry>();
  readonly #onChange: ((keyId: string, available: number) => void) | undefined;
  readonly #maxPerKey: number;

  /** `maxPerKey` bounds what presign sessions started by others can leave in memory. */
  constructor(onChange?: (keyId: string, available: number) => void, maxPerKey = 256) {
    this.#onChange = onChange;
    this.#maxPerKey = maxPerKey;
  }

  add(entry: PoolEntry): void {
    // Full: the oldest entry of the key goes (insertion order is age).
    if ([...this.#bySid.values()].filter((e) => e.keyId === entry.keyId).length >= this.#maxPerKey) {
      for (const e of this.#bySid.values()) {
        if (e.keyId === entry.keyId) {
          this.#bySid.delete(e.sid);
          e.close();
          break;
        }
      }
    }
    this.#bySid.set(entry.sid, entry);
    this.#changed(entry.keyId);
  }

  /** Removes and returns the entry of this presign session (a signer asked to sign with it). */
  take(sid: string): PoolEntry | undefined {
    const e = this.#bySid.get(sid);
    if (e) {
      this.#bySid.delete(sid);
      this.#changed(e.keyId);
    }
    return e;
  }

  /** Removes and returns this node's oldest entry for (key, epoch, signers, path). */
  takeFor(keyId: string, epoch: number, signers: readonly number[], derivationPath: string): PoolEntry | undefined {
    const want = poolKey(keyId, epoch, signers, derivationPath);
    for (const e of this.#bySid.values()) {
      if (e.own && e.boundDigest === undefined && poolKey(e.keyId, e.epoch, e.signers, e.derivationPath) === want) return this.take(e.sid);
    }
    return undefined;
  }

  /** This node's own entries of a key (what it can sign with), optionally of one binding. */
  count(keyId: string, epoch?: number, signers?: readonly number[], derivationPath?: string): number {
    let n = 0;
    for (const e of this.#bySid.values()) {
      if (e.keyId !== keyId || !e.own) continue;
      if (epoch !== undefined && signers !== undefined && derivationPath !== undefined && poolKey(e.keyId, e.epoch, e.signers, e.derivationPath) !== poolKey(keyId, epoch, signers, derivationPath)) continue;
      n++;
    }
    return n;
  }

  /** This node's presignatures of a key, epoch and signer set by derivation path (digest-bound ones left out), for the key's API answer. */
  countsByPath(keyId: string, epoch: number, signers: readonly number[]): Record<string, number> {
    const out: Record<string, number> = {};
    const set = signers.join(',');
    for (const e of this.#bySid.values()) {
      if (e.own && e.keyId === keyId && e.epoch === epoch && e.boundDigest === undefined && e.signers.join(',') === set) out[e.derivationPath] = (out[e.derivationPath] ?? 0) + 1;
    }
    return out;
  }

  /** Drops every presignature of a key (epoch change) and closes their sessions. */
  dropKey(keyId: string): void {
    for (const e of [...this.#bySid.values()]) {
      if (e.keyId === keyId) {
        this.#bySid.delete(e.sid);
        e.close();
      }
    }
    this.#changed(keyId);
  }

  /**
   * Drops this node's presignatures of a key made with `party` (which answered that it holds
   * no half of one: it restarted and lost them all). Others' entries, and sets without that
   * party, stay: they are still whole.
   */
  dropWith(keyId: string, party: number): void {
    for (const e of [...this.#bySid.values()]) {
      if (e.keyId === keyId && e.own && e.signers.includes(party)) {
        this.#bySid.delete(e.sid);
        e.close();
      }
    }
    this.#changed(keyId);
  }

  close(): void {
    for (const e of this.#bySid.values()) e.close();
    this.#bySid.clear();
  }

  #changed(keyId: string): void {
    this.#onChange?.(keyId, this.count(keyId));
  }
}
