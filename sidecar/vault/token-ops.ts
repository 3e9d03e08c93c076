/**
 * The vault's PKCS#11 operations on the token (DESIGN §4 "HSM vault"), run inside the host
 * process (./hsm-host.ts) synchronously and one at a time, so a find followed by a create cannot
 * interleave with another operation of this vault:
 * - a non-extractable P-256 identity key pair that signs (SHA-256 digest, r‖s) inside the token;
 * - per (key id, epoch) a non-extractable, sensitive AES-256 sealing key (crypto-shredding);
 * - seal / unseal with AES-GCM inside the token, the blob header as AAD (./blob.ts);
 * - a per-key epoch watermark and the approver pin as CKO_DATA objects.
 *
 * Every operation that creates an object looks for it first, so running it again after an
 * answer was lost finds what the first run made instead of making a second one.
 */
import graphene from 'graphene-pk11';
import type { Key, Session, SessionObject } from 'graphene-pk11';
import {
  APPROVERS_HASH_BYTES,
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
  type BlobHeader,
  type SealFields,
} from './blob.ts';
import { ckrOf, toVaultError, VaultError } from './errors.ts';
import type { ApproverPin, HostOps, SealingKeyRef, Unsealed } from './host-protocol.ts';
import type { SessionPool } from './session-pool.ts';

/** CKA_LABEL of the identity key pair. */
export const IDENTITY_LABEL = 'vilna-identity';
/** CKA_APPLICATION of the watermark and approver pin data objects. */
const DATA_APPLICATION = 'vilna-mpc';
/** CKA_LABEL of the approver pin data objects. */
const APPROVERS_LABEL = 'vilna-approvers';
/** DER of the P-256 curve OID 1.2.840.10045.3.1.7 (CKA_EC_PARAMS, RFC 5480 §2.1.1.1). */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
/** Uncompressed SEC1 point length for P-256: 0x04 ‖ x ‖ y. */
const P256_POINT_BYTES = 65;
/** SHA-256 digest length: what the identity key signs. */
const DIGEST_BYTES = 32;
/** AES-256 key length in bytes. */
const AES_KEY_BYTES = 32;
/** Bytes of the random CKA_ID given to each key. */
const KEY_ID_BYTES = 16;
/** Watermark value: the epoch as an unsigned 64-bit big-endian integer. */
const WATERMARK_BYTES = 8;
/** Approver pin value: u64 big-endian sequence number ‖ SHA-256 of the approver set. */
const APPROVERS_PIN_BYTES = 8 + APPROVERS_HASH_BYTES;

function watermarkLabel(keyId: string): string {
  return `vilna-watermark:${keyId}`;
}

/** A Buffer over the same bytes (graphene wants Buffers; copying would leave another copy of a secret). */
function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function findAll(session: Session, template: graphene.ITemplate): SessionObject[] {
  const found = session.find(template);
  return Array.from({ length: found.length }, (_, i) => found.items(i));
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

export class TokenOps implements HostOps {
  readonly #pool: SessionPool;

  constructor(pool: SessionPool) {
    this.#pool = pool;
  }

  ensureIdentityKey(): Uint8Array {
    return this.#pool.use((s) => {
      try {
        const priv = findAll(s, { class: graphene.ObjectClass.PRIVATE_KEY, label: IDENTITY_LABEL })[0];
        if (priv !== undefined) {
          const id = priv.getAttribute({ id: null }).id as Buffer;
          const pub = findAll(s, { class: graphene.ObjectClass.PUBLIC_KEY, label: IDENTITY_LABEL, id })[0];
          if (pub === undefined) throw new VaultError('E_HSM_ERROR', 'the identity private key has no public key beside it');
          return compressEcPoint(pub.getAttribute({ pointEC: null }).pointEC as Buffer);
        }
        // A public half without its private key is what an interrupted generation leaves.
        for (const orphan of findAll(s, { class: graphene.ObjectClass.PUBLIC_KEY, label: IDENTITY_LABEL })) s.destroy(orphan);
        const id = s.generateRandom(KEY_ID_BYTES);
        const pair = s.generateKeyPair(
          'EC_KEY_PAIR_GEN',
          { keyType: graphene.KeyType.EC, token: true, private: false, label: IDENTITY_LABEL, id, paramsEC: P256_PARAMS, verify: true, modifiable: false },
          {
            keyType: graphene.KeyType.EC, token: true, private: true, label: IDENTITY_LABEL, id,
            sign: true, sensitive: true, extractable: false, derive: false, modifiable: false,
          },
        );
        return compressEcPoint(pair.publicKey.getAttribute({ pointEC: null }).pointEC as Buffer);
      } catch (e) {
        throw toVaultError(e, 'identity key');
      }
    });
  }

  signIdentity(digest: Uint8Array): Uint8Array {
    if (digest.length !== DIGEST_BYTES) throw new VaultError('E_HSM_ERROR', 'identity signature: digest must be 32 bytes');
    return this.#pool.use((s) => {
      try {
        const key = findAll(s, { class: graphene.ObjectClass.PRIVATE_KEY, label: IDENTITY_LABEL })[0];
        if (key === undefined) throw new VaultError('E_HSM_ERROR', 'identity key not provisioned (call ensureIdentityKey)');
        return new Uint8Array(s.createSign('ECDSA', key.toType<Key>()).once(view(digest)));
      } catch (e) {
        throw toVaultError(e, 'identity signature');
      }
    });
  }

  sealingKey(keyId: string, epoch: number): SealingKeyRef {
    return this.#pool.use((s) => this.#sealingKey(s, keyId, epoch));
  }

  countSealingKeys(label: string): number {
    return this.#pool.use((s) => {
      try {
        return findAll(s, { class: graphene.ObjectClass.SECRET_KEY, label }).length;
      } catch (e) {
        throw toVaultError(e, `looking for ${label}`);
      }
    });
  }

  destroySealingKey(label: string): number {
    return this.#pool.use((s) => {
      try {
        return s.destroy({ class: graphene.ObjectClass.SECRET_KEY, label });
      } catch (e) {
        throw toVaultError(e, `destroying ${label}`);
      }
    });
  }

  watermark(keyId: string): number {
    return this.#pool.use((s) => this.#readWatermark(s, keyId));
  }

  /** Crash-safe: the new value is created before the old ones are destroyed; reading takes the highest. */
  advanceWatermark(keyId: string, epoch: number): void {
    this.#pool.use((s) => {
      const current = this.#readWatermark(s, keyId);
      if (epoch < current) throw new VaultError('E_BLOB_ROLLBACK', `watermark of ${keyId} is at epoch ${current}, refusing ${epoch}`);
      if (epoch === current) return;
      const label = watermarkLabel(keyId);
      try {
        const old = findAll(s, { class: graphene.ObjectClass.DATA, application: DATA_APPLICATION, label });
        const value = Buffer.alloc(WATERMARK_BYTES);
        value.writeBigUInt64BE(BigInt(epoch));
        s.create({ class: graphene.ObjectClass.DATA, application: DATA_APPLICATION, label, value, token: true, private: true, modifiable: false });
        for (const o of old) s.destroy(o);
      } catch (e) {
        throw toVaultError(e, `watermark of ${keyId}`);
      }
    });
  }

  approverPin(): ApproverPin | undefined {
    return this.#pool.use((s) => this.#readApproverPin(s));
  }

  pinApprovers(hash: Uint8Array): ApproverPin {
    return this.#pool.use((s) => {
      const current = this.#readApproverPin(s);
      if (current !== undefined) {
        if (!Buffer.from(current.hash).equals(view(hash))) throw new VaultError('E_TRUST_ANCHOR_MISMATCH', 'the token already pins a different approver set');
        return current;
      }
      return this.#writeApproverPin(s, { sequence: 1, hash }, []);
    });
  }

  replaceApproverPin(expected: ApproverPin, next: Uint8Array): ApproverPin {
    return this.#pool.use((s) => {
      const current = this.#readApproverPin(s);
      if (current === undefined) throw new VaultError('E_TRUST_ANCHOR_MISSING', 'no approver set is pinned');
      if (current.sequence !== expected.sequence || !Buffer.from(current.hash).equals(view(expected.hash))) {
        throw new VaultError('E_TRUST_ANCHOR_MISMATCH', 'the pinned approver set changed meanwhile');
      }
      let olds: SessionObject[];
      try {
        olds = findAll(s, { class: graphene.ObjectClass.DATA, application: DATA_APPLICATION, label: APPROVERS_LABEL });
      } catch (e) {
        throw toVaultError(e, 'approver pin');
      }
      return this.#writeApproverPin(s, { sequence: current.sequence + 1, hash: next }, olds);
    });
  }

  seal(fields: SealFields, plaintext: Uint8Array): Uint8Array {
    assertSealFields(fields);
    return this.#pool.use((s) => {
      const mark = this.#readWatermark(s, fields.keyId);
      if (fields.epoch < mark) throw new VaultError('E_BLOB_ROLLBACK', `refusing to seal epoch ${fields.epoch} of ${fields.keyId} below watermark ${mark}`);
      const pin = this.#requireApproverPin(s);
      const sealing = this.#sealingKey(s, fields.keyId, fields.epoch);
      const key = this.#findSealingKey(s, sealing.label, sealing.id);
      try {
        // SoftHSM takes the caller's IV; it comes from the token's RNG and is stored as used.
        const iv = s.generateRandom(GCM_IV_BYTES);
        const header: BlobHeader = {
          v: BLOB_FORMAT_VERSION, sealingKey: sealing, mechanism: SEAL_MECHANISM, iv: iv.toString('hex'), tagBits: GCM_TAG_BITS,
          approvers: Buffer.from(pin.hash).toString('hex'), keyId: fields.keyId, party: fields.party, epoch: fields.epoch, kind: fields.kind, objectId: fields.objectId,
        };
        const headerBytes = encodeHeader(header);
        const cipher = s.createCipher({ name: 'AES_GCM', params: new graphene.AesGcm240Params(iv, Buffer.from(headerBytes), GCM_TAG_BITS) }, key);
        const ct = cipher.once(view(plaintext), Buffer.alloc(plaintext.length + GCM_TAG_BYTES));
        return encodeBlob(headerBytes, ct);
      } catch (e) {
        throw toVaultError(e, `sealing ${fields.objectId}`);
      }
    });
  }

  unseal(blob: Uint8Array): Unsealed {
    return this.#unseal(blob, undefined);
  }

  /**
   * Re-seals a blob under the pinned approver set after an approved change (DESIGN §4 "Trust
   * anchors"): a blob under `previous` (the set the change replaced) is decrypted and sealed again
   * with the same fields and a fresh IV; one already under the pin is returned as it is. The
   * plaintext never leaves this process.
   */
  reseal(blob: Uint8Array, previous: Uint8Array): Uint8Array {
    const { header } = parseBlob(blob);
    if (header.approvers === Buffer.from(this.approverPinOrThrow().hash).toString('hex')) return blob;
    const { plaintext } = this.#unseal(blob, Buffer.from(previous).toString('hex'));
    try {
      return this.seal({ keyId: header.keyId, party: header.party, epoch: header.epoch, kind: header.kind, objectId: header.objectId }, plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  approverPinOrThrow(): ApproverPin {
    return this.#pool.use((s) => this.#requireApproverPin(s));
  }

  /** `previous`: the one other approver set accepted, only while re-sealing. */
  #unseal(blob: Uint8Array, previous: string | undefined): Unsealed {
    const { header, headerBytes, ciphertext } = parseBlob(blob);
    return this.#pool.use((s) => {
      const mark = this.#readWatermark(s, header.keyId);
      if (header.epoch < mark) throw new VaultError('E_BLOB_ROLLBACK', `blob ${header.objectId} is from epoch ${header.epoch}, below watermark ${mark}`);
      // Swapping the pinned approvers makes existing shards unreadable rather than obedient (DESIGN §1).
      if (header.approvers !== Buffer.from(this.#requireApproverPin(s).hash).toString('hex') && header.approvers !== previous) {
        throw new VaultError('E_TRUST_ANCHOR_MISMATCH', `blob ${header.objectId} was sealed under another approver set`);
      }
      const key = this.#findSealingKey(s, header.sealingKey.label, header.sealingKey.id);
      const out = Buffer.alloc(ciphertext.length);
      try {
        const params = new graphene.AesGcm240Params(Buffer.from(header.iv, 'hex'), Buffer.from(headerBytes), GCM_TAG_BITS);
        // Single-part C_Decrypt: SoftHSM's multi-part GCM decrypt fails (DESIGN §4).
        const pt = s.createDecipher({ name: 'AES_GCM', params }, key).once(view(ciphertext), out);
        return { header, plaintext: new Uint8Array(pt.buffer, pt.byteOffset, pt.byteLength) };
      } catch (e) {
        // A module that failed late may have written plaintext into the buffer already.
        out.fill(0);
        throw this.#decryptFailure(s, e, header.objectId);
      }
    });
  }

  /** Finds or creates the (keyId, epoch) sealing key; find first, so a repeat finds the first run's key. */
  #sealingKey(s: Session, keyId: string, epoch: number): SealingKeyRef {
    const label = sealingKeyLabel(keyId, epoch);
    try {
      const existing = findAll(s, { class: graphene.ObjectClass.SECRET_KEY, label })[0];
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
  }

  #readWatermark(s: Session, keyId: string): number {
    try {
      let highest = 0;
      for (const o of findAll(s, { class: graphene.ObjectClass.DATA, application: DATA_APPLICATION, label: watermarkLabel(keyId) })) {
        const value = o.getAttribute({ value: null }).value as Buffer;
        if (value.length !== WATERMARK_BYTES) throw new VaultError('E_HSM_ERROR', `watermark of ${keyId} is malformed`);
        highest = Math.max(highest, Number(value.readBigUInt64BE()));
      }
      return highest;
    } catch (e) {
      throw toVaultError(e, `watermark of ${keyId}`);
    }
  }

  #writeApproverPin(s: Session, pin: ApproverPin, replaced: readonly SessionObject[]): ApproverPin {
    const value = Buffer.alloc(APPROVERS_PIN_BYTES);
    value.writeBigUInt64BE(BigInt(pin.sequence));
    value.set(pin.hash, 8);
    try {
      // modifiable: false, so the value cannot be edited in place, only replaced by this code path.
      s.create({ class: graphene.ObjectClass.DATA, application: DATA_APPLICATION, label: APPROVERS_LABEL, value, token: true, private: true, modifiable: false });
      // A crash before this loop leaves two pins; reading takes the highest sequence.
      for (const o of replaced) s.destroy(o);
    } catch (e) {
      throw toVaultError(e, 'approver pin');
    }
    return { sequence: pin.sequence, hash: new Uint8Array(pin.hash) };
  }

  #readApproverPin(s: Session): ApproverPin | undefined {
    try {
      let best: ApproverPin | undefined;
      for (const o of findAll(s, { class: graphene.ObjectClass.DATA, application: DATA_APPLICATION, label: APPROVERS_LABEL })) {
        const value = o.getAttribute({ value: null }).value as Buffer;
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

  /**
   * Tells a failed authentication from an outage: SoftHSM reports a wrong GCM tag as
   * CKR_GENERAL_ERROR, so that value counts as an outage only when the token also fails a
   * harmless request (one random byte) right after. Device errors stay outages.
   */
  #decryptFailure(s: Session, e: unknown, objectId: string): VaultError {
    const err = toVaultError(e, `unsealing ${objectId}`, 'E_BLOB_INVALID');
    if (ckrOf(e) !== 'CKR_GENERAL_ERROR') return err;
    try {
      s.generateRandom(1);
    } catch {
      return err;
    }
    return new VaultError('E_BLOB_INVALID', `blob ${objectId} failed authentication inside the HSM`, err.ckr === undefined ? {} : { ckr: err.ckr });
  }

  #findSealingKey(s: Session, label: string, idHex: string): Key {
    try {
      const key = findAll(s, { class: graphene.ObjectClass.SECRET_KEY, label, id: Buffer.from(idHex, 'hex') })[0];
      if (key === undefined) throw new VaultError('E_SEALING_KEY_MISSING', `sealing key ${label} is not in the token`);
      return key.toType<Key>();
    } catch (e) {
      throw toVaultError(e, `finding ${label}`);
    }
  }
}
