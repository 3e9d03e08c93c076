/**
 * Whether each key this party holds can sign right now, for `/v1/health`: its state file parses,
 * and its current share unseals in the HSM (blob present, sealing key there, authentic). A
 * health answer that said "ok" while a shard could not be unsealed hid the one failure that
 * matters; a corrupt state file stopped the whole node. Now each key is reported on its own, a
 * key that turns unready is logged once at error level, and the others keep serving.
 *
 * Unsealing costs an HSM operation, so a result is reused for RECHECK_MS (the readiness probe
 * asks every few seconds) and redone at once after an epoch change.
 */
import type { KeyStateStore } from './key-state.ts';

/** How long one check of a key's share stands: health is polled every 5 s by the kubelet. */
export const RECHECK_MS = 30_000;

export interface KeyReadiness {
  readonly keyId: string;
  /** The current epoch, when the state file parses. */
  readonly epoch?: number;
  readonly ready: boolean;
  /** The stable code of what stops it (E_BLOB_MISSING, E_BLOB_INVALID, E_SEALING_KEY_MISSING, E_STATE_CORRUPT, ...). */
  readonly code?: string;
}

export interface KeyReadinessDeps {
  readonly keys: KeyStateStore;
  readonly identityKey: string;
  /** Loads (unseals and decodes) the key's share of an epoch; throws with a code when it cannot. */
  readonly load: (keyId: string, epoch: number) => Promise<unknown>;
  /** A key turned unready (once per change), or ready again. */
  readonly changed?: (r: KeyReadiness) => void;
  readonly now?: () => number;
}

const codeOf = (e: unknown): string => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E_[A-Z_]+$/.test(code) ? code : 'E_SHARD_UNREADABLE';
};

export class KeyReadinessChecker {
  readonly #d: KeyReadinessDeps;
  readonly #last = new Map<string, { readonly r: KeyReadiness; readonly at: number }>();

  constructor(deps: KeyReadinessDeps) {
    this.#d = deps;
  }

  /** Forgets a key's last result (after an epoch change, a retirement, a failed unseal elsewhere). */
  invalidate(keyId: string): void {
    this.#last.delete(keyId);
  }

  /** Every key this party holds a current share of, and every corrupt state file, with readiness. */
  async report(): Promise<KeyReadiness[]> {
    const now = (this.#d.now ?? Date.now)();
    const out: KeyReadiness[] = [];
    for (const state of await this.#d.keys.list()) {
      const cur = state.current;
      if (!cur || !cur.parties.some((p) => p.identityKey === this.#d.identityKey)) continue;
      const last = this.#last.get(state.keyId);
      if (last && last.r.epoch === cur.epoch && now - last.at < RECHECK_MS) {
        out.push(last.r);
        continue;
      }
      let r: KeyReadiness;
      try {
        await this.#d.load(state.keyId, cur.epoch);
        r = { keyId: state.keyId, epoch: cur.epoch, ready: true };
      } catch (e) {
        r = { keyId: state.keyId, epoch: cur.epoch, ready: false, code: codeOf(e) };
      }
      this.#record(r, now);
      out.push(r);
    }
    for (const bad of this.#d.keys.corrupt) {
      const r: KeyReadiness = { keyId: bad.keyId, ready: false, code: bad.code };
      this.#record(r, now);
      out.push(r);
    }
    return out;
  }

  #record(r: KeyReadiness, at: number): void {
    const before = this.#last.get(r.keyId)?.r;
    this.#last.set(r.keyId, { r, at });
    if (before?.ready !== r.ready || before?.code !== r.code) {
      if (before !== undefined || !r.ready) this.#d.changed?.(r);
    }
  }
}
