/**
 * The party's HSM vault over PKCS#11 (graphene-pk11), DESIGN §4 "HSM vault":
 * - a non-extractable P-256 identity key pair that signs (SHA-256, r‖s) inside the token;
 * - per (key id, epoch) a non-extractable, sensitive AES-256 sealing key, destroyed when that
 *   epoch is retired (crypto-shredding);
 * - seal / unseal with AES-GCM inside the token, the blob header as AAD (./blob.ts);
 * - a per-key epoch watermark in the token (a CKO_DATA object) that refuses older epochs' blobs.
 *
 * One vault per process: SoftHSM reads SOFTHSM2_CONF when the module is initialised, so the
 * caller points it at the party's token configuration before `openVault`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import graphene from 'graphene-pk11';
import type { Key, Module, Session, SessionObject, Slot } from 'graphene-pk11';
import {
  assertSealFields,
  BLOB_FORMAT_VERSION,
  encodeBlob,
  encodeHeader,
  GCM_IV_BYTES,
  GCM_TAG_BITS,
  GCM_TAG_BYTES,
  parseBlob,
  SEAL_MECHANISM,
  sealingKeyLabel,
  APPROVERS_HASH_BYTES,
  type BlobHeader,
  type SealFields,
} from './blob.ts';
import { toVaultError, VaultError } from './errors.ts';
import { SessionPool } from './session-pool.ts';

/** CKA_LABEL of the identity key pair. */
export const IDENTITY_LABEL = 'vilna-identity';
/** CKA_APPLICATION of the watermark data objects. */
const WATERMARK_APPLICATION = 'vilna-mpc';
/** DER of the P-256 curve OID 1.2.840.10045.3.1.7 (CKA_EC_PARAMS, RFC 5480 §2.1.1.1). */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
/** Uncompressed SEC1 point length for P-256: 0x04 ‖ x ‖ y. */
const P256_POINT_BYTES = 65;
/** AES-256 key length in bytes. */
const AES_KEY_BYTES = 32;
/** Bytes of the random CKA_ID given to each key. */
const KEY_ID_BYTES = 16;
/** Watermark value: the epoch as an unsigned 64-bit big-endian integer. */
const WATERMARK_BYTES = 8;
/** CKA_LABEL of the approver pin data objects. */
const APPROVERS_LABEL = 'vilna-approvers';
/** Approver pin value: u64 big-endian sequence number ‖ SHA-256 of the approver set. */
const APPROVERS_PIN_BYTES = 8 + APPROVERS_HASH_BYTES;
/** Default number of PKCS#11 sessions. */
const DEFAULT_SESSIONS = 4;

export interface VaultOptions {
  /** The PKCS#11 module (for SoftHSM, libsofthsm2.so). */
  readonly modulePath: string;
  readonly tokenLabel: string;
  /** File holding the user PIN. */
  readonly pinFile: string;
  readonly maxSessions?: number;
}

/** Fields checked on unseal; `epoch` may be left out when the caller takes any current epoch. */
export type ExpectedFields = Omit<SealFields, 'epoch'> & { readonly epoch?: number };

/** The approver set pinned in the token: its hash and how many times it was replaced. */
export interface ApproverPin {
  readonly sequence: number;
  readonly hash: Uint8Array;
}

export interface Unsealed {
  readonly header: BlobHeader;
  readonly plaintext: Uint8Array;
}

/** Opens the token by label and logs in. The caller closes the vault. */
export async function openVault(opts: VaultOptions): Promise<Vault> {
  let pin: string;
  try {
    pin = (await readFile(opts.pinFile, 'utf8')).trim();
  } catch {
    throw new VaultError('E_HSM_PIN', `PIN file ${opts.pinFile} cannot be read`);
  }
  let mod: Module;
  try {
    mod = graphene.Module.load(opts.modulePath, 'pkcs11');
    mod.initialize();
  } catch (e) {
    throw toVaultError(e, `loading PKCS#11 module ${opts.modulePath}`, 'E_HSM_UNAVAILABLE');
  }
  try {
    const slot = findSlot(mod, opts.tokenLabel);
    const pool = new SessionPool(slot, opts.maxSessions ?? DEFAULT_SESSIONS);
    pool.login(pin);
    return new Vault(mod, pool);
  } catch (e) {
    finalizeQuietly(mod);
    throw e;
  }
}

function findSlot(mod: Module, label: string): Slot {
  let slots;
  try {
    slots = mod.getSlots(true);
  } catch (e) {
    throw toVaultError(e, 'listing slots', 'E_HSM_UNAVAILABLE');
  }
  for (let i = 0; i < slots.length; i++) {
    const slot = slots.items(i);
    if (slot.getToken().label.trim() === label) return slot;
  }
  throw new VaultError('E_HSM_TOKEN', `no token labelled "${label}"`);
}

function assertApproversHash(hash: Uint8Array): void {
  if (!(hash instanceof Uint8Array) || hash.length !== APPROVERS_HASH_BYTES) throw new VaultError('E_BLOB_INVALID', 'approver-set hash must be 32 bytes');
}

function finalizeQuietly(mod: Module): void {
  try {
    mod.finalize();
  } catch {
    // already finalized
  }
}

/** Converts a CKA_EC_POINT (DER OCTET STRING around an uncompressed point) to a compressed point. */
function compressEcPoint(ecPoint: Buffer): Uint8Array {
  // SoftHSM and most tokens wrap the point in an OCTET STRING (04 41 …); some return it raw.
  const point = ecPoint.length === P256_POINT_BYTES + 2 && ecPoint[0] === 0x04 && ecPoint[1] === P256_POINT_BYTES ? ecPoint.subarray(2) : ecPoint;
  if (point.length !== P256_POINT_BYTES || point[0] !== 0x04) throw new VaultError('E_HSM_ERROR', 'identity public key has an unexpected encoding');
  const out = new Uint8Array(33);
  out[0] = (point[P256_POINT_BYTES - 1]! & 1) === 1 ? 0x03 : 0x02;
  out.set(point.subarray(1, 33), 1);
  return out;
}

function findOne(session: Session, template: graphene.ITemplate): SessionObject | undefined {
  const found = session.find(template);
  return found.length > 0 ? found.items(0) : undefined;
}

/*
 * PKCS#11 calls are made synchronously: pkcs11js's callback variants (run on libuv's pool)
 * crashed the process (SIGSEGV) intermittently after a failed C_Decrypt under SoftHSM 2.6.1, and
 * sealing a shard takes microseconds. The pool still gives each operation its own session.
 */

export class Vault {
  readonly #mod: Module;
  readonly #pool: SessionPool;
  #closed = false;

  constructor(mod: Module, pool: SessionPool) {
    this.#mod = mod;
    this.#pool = pool;
  }

  /** Creates the identity key pair on first use; returns the compressed public key (33 bytes). */
  async ensureIdentityKey(): Promise<Uint8Array> {
    return this.#pool.use((s) => {
      try {
        let pub = findOne(s, { class: graphene.ObjectClass.PUBLIC_KEY, label: IDENTITY_LABEL });
        if (pub === undefined || findOne(s, { class: graphene.ObjectClass.PRIVATE_KEY, label: IDENTITY_LABEL }) === undefined) {
          const id = s.generateRandom(KEY_ID_BYTES);
          const pair = s.generateKeyPair(
            'EC_KEY_PAIR_GEN',
            { keyType: graphene.KeyType.EC, token: true, private: false, label: IDENTITY_LABEL, id, paramsEC: P256_PARAMS, verify: true, modifiable: false },
            {
              keyType: graphene.KeyType.EC, token: true, private: true, label: IDENTITY_LABEL, id,
              sign: true, sensitive: true, extractable: false, derive: false, modifiable: false,
            },
          );
          pub = pair.publicKey;
        }
        return compressEcPoint(pub.getAttribute({ pointEC: null }).pointEC as Buffer);
      } catch (e) {
        throw toVaultError(e, 'identity key');
      }
    });
  }

  /** ECDSA P-256 over SHA-256(message) with the identity key: 64 bytes r‖s (IEEE P1363). */
  async signIdentity(message: Uint8Array): Promise<Uint8Array> {
    const digest = createHash('sha256').update(message).digest();
    return this.#pool.use((s) => {
      const key = findOne(s, { class: graphene.ObjectClass.PRIVATE_KEY, label: IDENTITY_LABEL });
      if (key === undefined) throw new VaultError('E_HSM_ERROR', 'identity key not provisioned (call ensureIdentityKey)');
      try {
        return new Uint8Array(s.createSign('ECDSA', key.toType<Key>()).once(digest));
      } catch (e) {
        throw toVaultError(e, 'identity signature');
      }
    });
  }

  /** Creates (or finds) the sealing key for (keyId, epoch); returns its label and CKA_ID. */
  async sealingKey(keyId: string, epoch: number): Promise<{ label: string; id: string }> {
    assertSealFields({ keyId, epoch, party: 0, kind: 'other', objectId: 'x' });
    const label = sealingKeyLabel(keyId, epoch);
    return this.#pool.use((s) => {
      try {
        // Find and create run synchronously on this thread, so two callers cannot both create.
        const existing = findOne(s, { class: graphene.ObjectClass.SECRET_KEY, label });
        if (existing !== undefined) return { label, id: (existing.getAttribute({ id: null }).id as Buffer).toString('hex') };
        const id = s.generateRandom(KEY_ID_BYTES);
        s.generateKey('AES_KEY_GEN', {
          class: graphene.ObjectClass.SECRET_KEY, keyType: graphene.KeyType.AES, valueLen: AES_KEY_BYTES,
          token: true, private: true, sensitive: true, extractable: false, modifiable: false,
          encrypt: true, decrypt: true, wrap: false, unwrap: false, sign: false, verify: false, derive: false,
          label, id,
        });
        return { label, id: id.toString('hex') };
      } catch (e) {
        throw toVaultError(e, `sealing key ${label}`);
      }
    });
  }

  /** Destroys the sealing key of (keyId, epoch): every blob sealed under it becomes unreadable. */
  async destroySealingKey(keyId: string, epoch: number): Promise<number> {
    const label = sealingKeyLabel(keyId, epoch);
    return this.#pool.use((s) => {
      try {
        return s.destroy({ class: graphene.ObjectClass.SECRET_KEY, label });
      } catch (e) {
        throw toVaultError(e, `destroying ${label}`);
      }
    });
  }

  /** The lowest epoch of keyId whose blobs are still accepted (0 when never set). */
  async watermark(keyId: string): Promise<number> {
    return this.#pool.use((s) => this.#readWatermark(s, keyId));
  }

  /** Moves keyId's watermark to epoch; refuses to move it back. Crash-safe: create, then destroy. */
  async advanceWatermark(keyId: string, epoch: number): Promise<void> {
    assertSealFields({ keyId, epoch, party: 0, kind: 'other', objectId: 'x' });
    await this.#pool.use((s) => {
      const current = this.#readWatermark(s, keyId);
      if (epoch < current) throw new VaultError('E_BLOB_ROLLBACK', `watermark of ${keyId} is at epoch ${current}, refusing ${epoch}`);
      if (epoch === current) return;
      const label = `vilna-watermark:${keyId}`;
      try {
        const old = s.find({ class: graphene.ObjectClass.DATA, application: WATERMARK_APPLICATION, label });
        const value = Buffer.alloc(WATERMARK_BYTES);
        value.writeBigUInt64BE(BigInt(epoch));
        s.create({ class: graphene.ObjectClass.DATA, application: WATERMARK_APPLICATION, label, value, token: true, private: true, modifiable: false });
        // A crash before this loop leaves two objects; reading takes the highest.
        for (let i = 0; i < old.length; i++) s.destroy(old.items(i));
      } catch (e) {
        throw toVaultError(e, `watermark of ${keyId}`);
      }
    });
  }

  #readWatermark(s: Session, keyId: string): number {
    try {
      const found = s.find({ class: graphene.ObjectClass.DATA, application: WATERMARK_APPLICATION, label: `vilna-watermark:${keyId}` });
      let highest = 0;
      for (let i = 0; i < found.length; i++) {
        const value = found.items(i).getAttribute({ value: null }).value as Buffer;
        if (value.length !== WATERMARK_BYTES) throw new VaultError('E_HSM_ERROR', `watermark of ${keyId} is malformed`);
        highest = Math.max(highest, Number(value.readBigUInt64BE()));
      }
      return highest;
    } catch (e) {
      throw toVaultError(e, `watermark of ${keyId}`);
    }
  }

  /** The approver set pinned in the token, or undefined before provisioning. */
  async approverPin(): Promise<ApproverPin | undefined> {
    return this.#pool.use((s) => this.#readApproverPin(s));
  }

  /**
   * Pins the approver-set hash at provisioning (DESIGN §4 "Trust anchors"): a no-op when the same
   * hash is pinned, E_TRUST_ANCHOR_MISMATCH when another one is. Replacing a pin is
   * `replaceApproverPin`, which the caller runs only after a quorum of the pinned approvers
   * signed the change.
   */
  async pinApprovers(hash: Uint8Array): Promise<ApproverPin> {
    assertApproversHash(hash);
    return this.#pool.use((s) => {
      const current = this.#readApproverPin(s);
      if (current !== undefined) {
        if (!Buffer.from(current.hash).equals(Buffer.from(hash))) throw new VaultError('E_TRUST_ANCHOR_MISMATCH', 'the token already pins a different approver set');
        return current;
      }
      return this.#writeApproverPin(s, { sequence: 1, hash }, []);
    });
  }

  /** Replaces the pinned approver set (after the caller verified a quorum of the current one). */
  async replaceApproverPin(expected: ApproverPin, next: Uint8Array): Promise<ApproverPin> {
    assertApproversHash(next);
    return this.#pool.use((s) => {
      const current = this.#readApproverPin(s);
      if (current === undefined) throw new VaultError('E_TRUST_ANCHOR_MISSING', 'no approver set is pinned');
      if (current.sequence !== expected.sequence || !Buffer.from(current.hash).equals(Buffer.from(expected.hash))) {
        throw new VaultError('E_TRUST_ANCHOR_MISMATCH', 'the pinned approver set changed meanwhile');
      }
      const old = s.find({ class: graphene.ObjectClass.DATA, application: WATERMARK_APPLICATION, label: APPROVERS_LABEL });
      const olds = Array.from({ length: old.length }, (_, i) => old.items(i));
      return this.#writeApproverPin(s, { sequence: current.sequence + 1, hash: next }, olds);
    });
  }

  #writeApproverPin(s: Session, pin: ApproverPin, replaced: readonly SessionObject[]): ApproverPin {
    const value = Buffer.alloc(APPROVERS_PIN_BYTES);
    value.writeBigUInt64BE(BigInt(pin.sequence));
    value.set(pin.hash, 8);
    try {
      // modifiable: false, so the value cannot be edited in place, only replaced by this code path.
      s.create({ class: graphene.ObjectClass.DATA, application: WATERMARK_APPLICATION, label: APPROVERS_LABEL, value, token: true, private: true, modifiable: false });
      // A crash before this loop leaves two pins; reading takes the highest sequence.
      for (const o of replaced) s.destroy(o);
    } catch (e) {
      throw toVaultError(e, 'approver pin');
    }
    return { sequence: pin.sequence, hash: new Uint8Array(pin.hash) };
  }

  #readApproverPin(s: Session): ApproverPin | undefined {
    try {
      const found = s.find({ class: graphene.ObjectClass.DATA, application: WATERMARK_APPLICATION, label: APPROVERS_LABEL });
      let best: ApproverPin | undefined;
      for (let i = 0; i < found.length; i++) {
        const value = found.items(i).getAttribute({ value: null }).value as Buffer;
        if (value.length !== APPROVERS_PIN_BYTES) throw new VaultError('E_HSM_ERROR', 'approver pin is malformed');
        const sequence = Number(value.readBigUInt64BE());
        if (best === undefined || sequence > best.sequence) best = { sequence, hash: new Uint8Array(value.subarray(8)) };
      }
      return best;
    } catch (e) {
      throw toVaultError(e, 'approver pin');
    }
  }

  #requireApproverPin(s: Session): ApproverPin {
    const pin = this.#readApproverPin(s);
    if (pin === undefined) throw new VaultError('E_TRUST_ANCHOR_MISSING', 'no approver set is pinned in the token: provision the party first');
    return pin;
  }

  /** Seals plaintext under the (keyId, epoch) sealing key with AES-GCM inside the token. */
  async seal(fields: SealFields, plaintext: Uint8Array): Promise<Uint8Array> {
    assertSealFields(fields);
    const sealing = await this.sealingKey(fields.keyId, fields.epoch);
    return this.#pool.use((s) => {
      const mark = this.#readWatermark(s, fields.keyId);
      if (fields.epoch < mark) throw new VaultError('E_BLOB_ROLLBACK', `refusing to seal epoch ${fields.epoch} of ${fields.keyId} below watermark ${mark}`);
      const pin = this.#requireApproverPin(s);
      const key = this.#findSealingKey(s, sealing.label, sealing.id);
      // SoftHSM takes the caller's IV; it comes from the token's RNG and is stored as used.
      const iv = s.generateRandom(GCM_IV_BYTES);
      const header: BlobHeader = {
        v: BLOB_FORMAT_VERSION, sealingKey: sealing, mechanism: SEAL_MECHANISM, iv: iv.toString('hex'), tagBits: GCM_TAG_BITS,
        approvers: Buffer.from(pin.hash).toString('hex'), keyId: fields.keyId, party: fields.party, epoch: fields.epoch, kind: fields.kind, objectId: fields.objectId,
      };
      const headerBytes = encodeHeader(header);
      try {
        const cipher = s.createCipher({ name: 'AES_GCM', params: new graphene.AesGcm240Params(iv, Buffer.from(headerBytes), GCM_TAG_BITS) }, key);
        const ct = cipher.once(Buffer.from(plaintext), Buffer.alloc(plaintext.length + GCM_TAG_BYTES));
        return encodeBlob(headerBytes, ct);
      } catch (e) {
        throw toVaultError(e, `sealing ${fields.objectId}`);
      }
    });
  }

  /** Authenticates and decrypts a blob inside the token after checking its header against `expected`. */
  async unseal(blob: Uint8Array, expected: ExpectedFields): Promise<Unsealed> {
    const { header, headerBytes, ciphertext } = parseBlob(blob);
    for (const field of ['keyId', 'party', 'kind', 'objectId', 'epoch'] as const) {
      if (expected[field] !== undefined && header[field] !== expected[field]) {
        throw new VaultError('E_BLOB_INVALID', `blob ${header.objectId}: ${field} is not the expected one`);
      }
    }
    return this.#pool.use((s) => {
      const mark = this.#readWatermark(s, header.keyId);
      if (header.epoch < mark) throw new VaultError('E_BLOB_ROLLBACK', `blob ${header.objectId} is from epoch ${header.epoch}, below watermark ${mark}`);
      // Swapping the pinned approvers makes existing shards unreadable rather than obedient (DESIGN §1).
      if (header.approvers !== Buffer.from(this.#requireApproverPin(s).hash).toString('hex')) {
        throw new VaultError('E_TRUST_ANCHOR_MISMATCH', `blob ${header.objectId} was sealed under another approver set`);
      }
      const key = this.#findSealingKey(s, header.sealingKey.label, header.sealingKey.id);
      try {
        const params = new graphene.AesGcm240Params(Buffer.from(header.iv, 'hex'), Buffer.from(headerBytes), GCM_TAG_BITS);
        // Single-part C_Decrypt: SoftHSM's multi-part GCM decrypt fails (DESIGN §4).
        const decipher = s.createDecipher({ name: 'AES_GCM', params }, key);
        const pt = decipher.once(Buffer.from(ciphertext), Buffer.alloc(ciphertext.length));
        return { header, plaintext: new Uint8Array(pt) };
      } catch (e) {
        throw this.#decryptFailure(s, e, header.objectId);
      }
    });
  }

  /**
   * Tells a failed authentication from an outage: SoftHSM reports a wrong GCM tag as
   * CKR_GENERAL_ERROR, so a device-level error counts as an outage only when the token also
   * fails a harmless request (one random byte) right after.
   */
  #decryptFailure(s: Session, e: unknown, objectId: string): VaultError {
    const err = toVaultError(e, `unsealing ${objectId}`, 'E_BLOB_INVALID');
    if (err.code !== 'E_HSM_UNAVAILABLE') return err;
    try {
      s.generateRandom(1);
    } catch {
      return err;
    }
    return new VaultError('E_BLOB_INVALID', `blob ${objectId} failed authentication inside the HSM`, err.ckr === undefined ? {} : { ckr: err.ckr });
  }

  #findSealingKey(s: Session, label: string, idHex: string): Key {
    try {
      const key = findOne(s, { class: graphene.ObjectClass.SECRET_KEY, label, id: Buffer.from(idHex, 'hex') });
      if (key === undefined) throw new VaultError('E_SEALING_KEY_MISSING', `sealing key ${label} is not in the token`);
      return key.toType<Key>();
    } catch (e) {
      throw toVaultError(e, `finding ${label}`);
    }
  }

  /** Closes every session and finalizes the module. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.close();
    finalizeQuietly(this.#mod);
  }
}
