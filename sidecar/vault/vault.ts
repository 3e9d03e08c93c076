/**
 * The party's HSM vault over PKCS#11 (graphene-pk11), DESIGN §4 "HSM vault":
 * - a non-extractable P-256 identity key pair that signs (SHA-256, r‖s) inside the token;
 * - per (key id, epoch) a non-extractable, sensitive AES-256 sealing key, destroyed when that
 *   epoch is retired (crypto-shredding);
 * - seal / unseal with AES-GCM inside the token, the blob header as AAD (./blob.ts);
 * - a per-key epoch watermark in the token (a CKO_DATA object) that refuses older epochs' blobs;
 * - the approver-set pin (DESIGN §4 "Trust anchors").
 *
 * The PKCS#11 work runs in a host process of its own (./hsm-host.ts, why: see there), so a
 * blocked module call never blocks this event loop. Every operation has a deadline
 * (`operationTimeoutMs`, 10 s by default) covering its retries; past it the caller gets
 * E_HSM_UNAVAILABLE "HSM did not answer within …" and the host is replaced, so the next call
 * works as soon as the HSM does.
 *
 * Retries, on E_HSM_UNAVAILABLE only, with short backoff, within the deadline:
 * - reads: watermark, approverPin, unseal, signIdentity;
 * - find-or-create operations, which look for the object before creating it, so a repeat after a
 *   lost answer finds what the first attempt made: ensureIdentityKey, sealingKey, pinApprovers,
 *   seal and reseal (whose only token write is the sealing key; the encryption itself changes
 *   nothing).
 * Not retried: advanceWatermark, destroySealingKey, replaceApproverPin. After a failure they read
 * the token back and succeed if the first attempt took effect, else report the failure, saying
 * when the outcome could not be read back. Each of them leaves the token consistent either way:
 * new objects are created before old ones are destroyed and readers take the highest.
 *
 * Once the token refuses the PIN, the vault makes no further login attempt (tokens lock the PIN
 * after a few failures); open the vault again after fixing the PIN file.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { APPROVERS_HASH_BYTES, assertSealFields, parseBlob, sealingKeyLabel, type SealFields } from './blob.ts';
import { isUnavailable, VaultError, withOperation } from './errors.ts';
import { deadlineIn, HsmHost, type Deadline } from './host-client.ts';
import type { ApproverPin, HostOps, OpName, SealingKeyRef, Unsealed } from './host-protocol.ts';

export { IDENTITY_LABEL } from './token-ops.ts';
export type { ApproverPin, Unsealed } from './host-protocol.ts';

/** Default number of idle PKCS#11 sessions the host keeps besides the logged-in anchor. */
const DEFAULT_SESSIONS = 4;
/** Default deadline of one vault operation, retries included. */
const DEFAULT_OPERATION_TIMEOUT_MS = 10_000;
/** Waits before the 2nd and 3rd attempt of a retried operation: enough for a session to be reopened. */
const RETRY_DELAYS_MS: readonly number[] = [50, 200];

export interface VaultOptions {
  /** The PKCS#11 module (for SoftHSM, libsofthsm2.so). */
  readonly modulePath: string;
  readonly tokenLabel: string;
  /** File holding the user PIN; the host process reads it at each login. */
  readonly pinFile: string;
  /** Idle sessions kept open for reuse. */
  readonly maxSessions?: number;
  /** Deadline of each operation (and of opening), retries included; 10 s by default. */
  readonly operationTimeoutMs?: number;
  /** Extra environment for the PKCS#11 host process, e.g. SOFTHSM2_CONF for this vault's token. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Fields checked on unseal; `epoch` may be left out when the caller takes any current epoch. */
export type ExpectedFields = Omit<SealFields, 'epoch'> & { readonly epoch?: number };

function assertPositiveInt(value: number | undefined, field: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) throw new VaultError('E_HSM_ERROR', `${field} must be a positive integer`);
}

function assertApproversHash(hash: Uint8Array): void {
  if (!(hash instanceof Uint8Array) || hash.length !== APPROVERS_HASH_BYTES) throw new VaultError('E_BLOB_INVALID', 'approver-set hash must be 32 bytes');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * Starts the vault's PKCS#11 host, opens the token by label and logs in. The caller closes the
 * vault. SoftHSM reads SOFTHSM2_CONF when the module is initialised: pass it in `env` (or set it
 * in this process's environment before opening).
 */
export async function openVault(opts: VaultOptions): Promise<Vault> {
  assertPositiveInt(opts.maxSessions, 'maxSessions');
  assertPositiveInt(opts.operationTimeoutMs, 'operationTimeoutMs');
  const timeoutMs = opts.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  const host = new HsmHost({
    modulePath: opts.modulePath,
    tokenLabel: opts.tokenLabel,
    pinFile: opts.pinFile,
    maxSessions: opts.maxSessions ?? DEFAULT_SESSIONS,
    ...(opts.env === undefined ? {} : { env: opts.env }),
  });
  try {
    await host.start(deadlineIn(timeoutMs));
  } catch (e) {
    await host.close();
    throw withOperation(e, `opening token "${opts.tokenLabel}"`);
  }
  return new Vault(host, timeoutMs);
}

export class Vault {
  readonly #host: HsmHost;
  readonly #timeoutMs: number;
  /** The token refused the PIN: no more logins until the vault is opened again. */
  #pinRefused: VaultError | undefined;

  constructor(host: HsmHost, operationTimeoutMs: number) {
    this.#host = host;
    this.#timeoutMs = operationTimeoutMs;
  }

  /** Creates the identity key pair on first use; returns the compressed public key (33 bytes). */
  async ensureIdentityKey(): Promise<Uint8Array> {
    return this.#retried('identity key', 'ensureIdentityKey', []);
  }

  /** ECDSA P-256 over SHA-256(message) with the identity key: 64 bytes r‖s (IEEE P1363). */
  async signIdentity(message: Uint8Array): Promise<Uint8Array> {
    const digest = new Uint8Array(createHash('sha256').update(message).digest());
    return this.#retried('identity signature', 'signIdentity', [digest]);
  }

  /** Creates (or finds) the sealing key for (keyId, epoch); returns its label and CKA_ID. */
  async sealingKey(keyId: string, epoch: number): Promise<{ label: string; id: string }> {
    assertSealFields({ keyId, epoch, party: 0, kind: 'other', objectId: 'x' });
    const ref: SealingKeyRef = await this.#retried(`sealing key ${sealingKeyLabel(keyId, epoch)}`, 'sealingKey', [keyId, epoch]);
    return { label: ref.label, id: ref.id };
  }

  /** Destroys the sealing key of (keyId, epoch): every blob sealed under it becomes unreadable. */
  async destroySealingKey(keyId: string, epoch: number): Promise<number> {
    assertSealFields({ keyId, epoch, party: 0, kind: 'other', objectId: 'x' });
    const label = sealingKeyLabel(keyId, epoch);
    const what = `destroying ${label}`;
    const deadline = deadlineIn(this.#timeoutMs);
    const before = await this.#retried(what, 'countSealingKeys', [label], deadline);
    if (before === 0) return 0;
    try {
      return await this.#call('destroySealingKey', [label], deadline);
    } catch (e) {
      if (!isUnavailable(e)) throw withOperation(e, what);
      const left = await this.#readBack('countSealingKeys', [label], deadline);
      if (left === 0) return before;
      throw withOperation(e, `${what} (${left === undefined ? 'outcome unknown: the token could not be read back' : `not done: ${left} of ${before} left`})`);
    }
  }

  /** The lowest epoch of keyId whose blobs are still accepted (0 when never set). */
  async watermark(keyId: string): Promise<number> {
    return this.#retried(`watermark of ${keyId}`, 'watermark', [keyId]);
  }

  /** Moves keyId's watermark to epoch; refuses to move it back. */
  async advanceWatermark(keyId: string, epoch: number): Promise<void> {
    assertSealFields({ keyId, epoch, party: 0, kind: 'other', objectId: 'x' });
    const what = `advancing the watermark of ${keyId} to ${epoch}`;
    const deadline = deadlineIn(this.#timeoutMs);
    try {
      await this.#call('advanceWatermark', [keyId, epoch], deadline);
    } catch (e) {
      if (!isUnavailable(e)) throw withOperation(e, what);
      const mark = await this.#readBack('watermark', [keyId], deadline);
      if (mark !== undefined && mark >= epoch) return;
      throw withOperation(e, `${what} (${mark === undefined ? 'outcome unknown: the token could not be read back' : `not done: still ${mark}`})`);
    }
  }

  /** The approver set pinned in the token, or undefined before provisioning. */
  async approverPin(): Promise<ApproverPin | undefined> {
    return this.#retried('approver pin', 'approverPin', []);
  }

  /**
   * Pins the approver-set hash at provisioning (DESIGN §4 "Trust anchors"): a no-op when the same
   * hash is pinned, E_TRUST_ANCHOR_MISMATCH when another one is. Replacing a pin is
   * `replaceApproverPin`, which the caller runs only after a quorum of the pinned approvers
   * signed the change.
   */
  async pinApprovers(hash: Uint8Array): Promise<ApproverPin> {
    assertApproversHash(hash);
    return this.#retried('pinning the approver set', 'pinApprovers', [new Uint8Array(hash)]);
  }

  /** Replaces the pinned approver set (after the caller verified a quorum of the current one). */
  async replaceApproverPin(expected: ApproverPin, next: Uint8Array): Promise<ApproverPin> {
    assertApproversHash(next);
    const what = 'replacing the approver set';
    const deadline = deadlineIn(this.#timeoutMs);
    try {
      return await this.#call('replaceApproverPin', [{ sequence: expected.sequence, hash: new Uint8Array(expected.hash) }, new Uint8Array(next)], deadline);
    } catch (e) {
      if (!isUnavailable(e)) throw withOperation(e, what);
      const pin = await this.#readBack('approverPin', [], deadline);
      if (pin !== undefined && pin.sequence === expected.sequence + 1 && sameBytes(pin.hash, next)) return pin;
      throw withOperation(e, `${what} (${pin === undefined ? 'outcome unknown: the token could not be read back' : 'not done'})`);
    }
  }

  /** Seals plaintext under the (keyId, epoch) sealing key with AES-GCM inside the token. */
  async seal(fields: SealFields, plaintext: Uint8Array): Promise<Uint8Array> {
    assertSealFields(fields);
    const copy = { keyId: fields.keyId, party: fields.party, epoch: fields.epoch, kind: fields.kind, objectId: fields.objectId };
    return this.#retried(`sealing ${fields.objectId}`, 'seal', [copy, plaintext]);
  }

  /** Authenticates and decrypts a blob inside the token after checking its header against `expected`. */
  async unseal(blob: Uint8Array, expected: ExpectedFields): Promise<Unsealed> {
    const { header } = parseBlob(blob);
    for (const field of ['keyId', 'party', 'kind', 'objectId', 'epoch'] as const) {
      if (expected[field] !== undefined && header[field] !== expected[field]) {
        throw new VaultError('E_BLOB_INVALID', `blob ${header.objectId}: ${field} is not the expected one`);
      }
    }
    return this.#retried(`unsealing ${header.objectId}`, 'unseal', [blob]);
  }

  /**
   * After the pinned approver set was replaced by an approved change: the blob sealed again under
   * the pin if it was under `previous`, unchanged if already under the pin. Retried: the input
   * blob is not touched, so a repeat starts from the same bytes.
   */
  async reseal(blob: Uint8Array, previous: Uint8Array): Promise<Uint8Array> {
    assertApproversHash(previous);
    const { header } = parseBlob(blob);
    return this.#retried(`re-sealing ${header.objectId}`, 'reseal', [blob, new Uint8Array(previous)]);
  }

  /** Stops the PKCS#11 host (logout, finalize); resolves when it has exited. */
  async close(): Promise<void> {
    await this.#host.close();
  }

  /** One attempt; remembers a refused PIN so that no later call logs in with it again. */
  async #call<K extends OpName>(op: K, args: Parameters<HostOps[K]>, deadline: Deadline): Promise<ReturnType<HostOps[K]>> {
    if (this.#pinRefused !== undefined) {
      throw new VaultError('E_HSM_PIN', 'the token refused the PIN earlier; no further login is tried (it could lock the PIN): fix the PIN file and open the vault again', {
        ...(this.#pinRefused.ckr === undefined ? {} : { ckr: this.#pinRefused.ckr }),
      });
    }
    try {
      return await this.#host.call(op, args, deadline);
    } catch (e) {
      if (e instanceof VaultError && e.code === 'E_HSM_PIN') this.#pinRefused = e;
      throw e;
    }
  }

  /** Attempts op again after E_HSM_UNAVAILABLE while the deadline allows; errors name `what`. */
  async #retried<K extends OpName>(what: string, op: K, args: Parameters<HostOps[K]>, deadline = deadlineIn(this.#timeoutMs)): Promise<ReturnType<HostOps[K]>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#call(op, args, deadline);
      } catch (e) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (!isUnavailable(e) || delay === undefined || Date.now() + delay >= deadline.at) throw withOperation(e, what);
        await sleep(delay);
      }
    }
  }

  /** A read after a failed write, within what is left of its deadline; undefined when it cannot be had. */
  async #readBack<K extends OpName>(op: K, args: Parameters<HostOps[K]>, deadline: Deadline): Promise<ReturnType<HostOps[K]> | undefined> {
    if (Date.now() >= deadline.at) return undefined;
    try {
      return await this.#retried(op, op, args, deadline);
    } catch {
      return undefined;
    }
  }
}
