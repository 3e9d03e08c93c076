/**
 * What this party knows about each key, persisted (DESIGN §4 "Epoch switch"): the committed
 * (current) epoch with its public data, and at most one pending epoch with the plan and the
 * transcript hash this party voted for. The secret material is in sealed blobs (shard-store.ts);
 * this file holds public values only, and the HSM's watermark, not this file, is what refuses a
 * rolled-back epoch.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { readJson, writeJsonAtomic } from './atomic-json.ts';

const hexString = z.string().regex(/^[0-9a-f]*$/);

const EpochInfo = z.strictObject({
  epoch: z.number().int().min(0),
  planHash: hexString,
  publicKey: hexString,
  xpub: z.string(),
  threshold: z.number().int(),
  /** Party numbers of the holders and their identity keys (hex), in order. */
  parties: z.array(z.strictObject({ index: z.number().int(), identityKey: hexString, endpoint: z.string() })),
});

const PendingInfo = EpochInfo.extend({
  /** Hash of the public transcript this party voted for (prepared vote). */
  transcriptHash: hexString,
  /** This party's signed prepared vote, kept so it can be reported again after a restart. */
  vote: z.strictObject({ party: z.number().int(), transcriptHash: hexString, signature: hexString }).optional(),
  /** The party that started the plan: the only one whose abort this party accepts. */
  coordinator: z.number().int().optional(),
  /** A reshare's signing policy, in force from the commit. */
  policy: z.unknown().optional(),
});

export const KeyStateSchema = z.strictObject({
  keyId: z.string(),
  current: EpochInfo.optional(),
  pending: PendingInfo.optional(),
  /**
   * Pending epochs this party voted for whose plan the coordinator then aborted. Their shares are
   * kept (blob and sealing key) until a later epoch commits: a complete commit decision may still
   * exist somewhere, and dropping a voted share could leave this party behind the others.
   */
  aborted: z.array(PendingInfo).max(16).default([]),
  /** Hashes of the policy plans applied to this key, newest last: a plan is never applied twice. */
  appliedPolicyPlans: z.array(hexString).max(64).default([]),
  /** Epochs below this one are retired (sealing keys destroyed). */
  retiredBelow: z.number().int().min(0).default(0),
  /** Set when a reshare moved the key away from this party and it shredded its share. */
  left: z.strictObject({ epoch: z.number().int().min(0), planHash: hexString }).optional(),
  /** Signing policy in force (a policy plan's policy), as the plan carried it. */
  policy: z.unknown().optional(),
});

export type EpochInfo = z.infer<typeof EpochInfo>;
export type PendingInfo = z.infer<typeof PendingInfo>;
export type KeyState = z.infer<typeof KeyStateSchema>;

/** A key's state file that does not parse: named, and only that key is affected. */
export class StateFileCorrupt extends Error {
  readonly code = 'E_STATE_CORRUPT';
  override readonly name = 'StateFileCorrupt';
  readonly keyId: string;
  readonly file: string;
  constructor(keyId: string, file: string, reason: string) {
    super(`the state file of key ${keyId} (${file}) is corrupt: ${reason}`);
    this.keyId = keyId;
    this.file = file;
  }
}

export interface KeyStateStoreOptions {
  /** Told once per corrupt file, as soon as it is first read. */
  readonly onCorrupt?: (e: StateFileCorrupt) => void;
}

export class KeyStateStore {
  readonly #dir: string;
  readonly #cache = new Map<string, KeyState>();
  readonly #corrupt = new Map<string, StateFileCorrupt>();
  readonly #onCorrupt: ((e: StateFileCorrupt) => void) | undefined;

  constructor(dir: string, opts: KeyStateStoreOptions = {}) {
    this.#dir = dir;
    this.#onCorrupt = opts.onCorrupt;
  }

  /** The state files that did not parse, by key id (public facts: their names and why). */
  get corrupt(): readonly StateFileCorrupt[] {
    return [...this.#corrupt.values()];
  }

  #file(keyId: string): string {
    // Key ids name files: only the plan schema's form, never a path.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(keyId)) throw new Error('E_MALFORMED: key id');
    return path.join(this.#dir, `${keyId}.json`);
  }

  async get(keyId: string): Promise<KeyState | undefined> {
    const cached = this.#cache.get(keyId);
    if (cached) return cached;
    const file = this.#file(keyId);
    let state: KeyState;
    try {
      const raw = await readJson(file);
      if (raw === undefined) return undefined;
      state = KeyStateSchema.parse(raw);
    } catch (e) {
      const known = this.#corrupt.get(keyId);
      if (known) throw known;
      const reason = e instanceof SyntaxError ? 'not valid JSON' : e instanceof z.ZodError ? `field ${e.issues[0]?.path.join('.') || '(root)'}: ${e.issues[0]?.message ?? 'invalid'}` : ((e as NodeJS.ErrnoException).code ?? 'unreadable');
      const corrupt = new StateFileCorrupt(keyId, file, reason);
      this.#corrupt.set(keyId, corrupt);
      this.#onCorrupt?.(corrupt);
      throw corrupt;
    }
    this.#corrupt.delete(keyId);
    this.#cache.set(keyId, state);
    return state;
  }

  async put(state: KeyState): Promise<void> {
    const checked = KeyStateSchema.parse(state);
    await writeJsonAtomic(this.#file(state.keyId), checked);
    this.#cache.set(state.keyId, checked);
  }

  async list(): Promise<KeyState[]> {
    let files: string[];
    try {
      files = await readdir(this.#dir);
    } catch {
      return [];
    }
    // A corrupt file is reported (onCorrupt, `corrupt`) and left out: the other keys keep working.
    const out: KeyState[] = [];
    for (const f of files) if (f.endsWith('.json') && !f.startsWith('.')) {
      try {
        const s = await this.get(f.slice(0, -'.json'.length));
        if (s) out.push(s);
      } catch (e) {
        if (!(e instanceof StateFileCorrupt)) throw e;
      }
    }
    return out;
  }
}
