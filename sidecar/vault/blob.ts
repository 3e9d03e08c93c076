/**
 * Sealed-blob format and atomic blob files (DESIGN §4 "HSM vault").
 *
 *   blob = u32 big-endian header length ‖ header JSON (UTF-8) ‖ AES-GCM ciphertext ‖ tag
 *
 * The header bytes exactly as stored are the AES-GCM additional authenticated data, so every
 * field (format version, sealing key, mechanism, IV, key id, party, epoch, kind, object id, and
 * the hash of the approver set pinned in the token) is bound to the ciphertext. A blob file is named by its object id, and reading refuses a blob
 * whose header names another object id.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-write.ts';
import { VaultError } from './errors.ts';

/** Blob format version written into every header. */
export const BLOB_FORMAT_VERSION = 1;
/** Bytes of the big-endian header-length prefix. */
const HEADER_LENGTH_BYTES = 4;
/** Largest header accepted when parsing: headers are a few hundred bytes of JSON. */
const MAX_HEADER_BYTES = 4096;
/** AES-GCM tag length (bits / bytes): the full 128-bit tag, NIST SP 800-38D §5.2.1.2. */
export const GCM_TAG_BITS = 128;
export const GCM_TAG_BYTES = GCM_TAG_BITS / 8;
/** AES-GCM IV length: 96 bits, the length SP 800-38D recommends. */
export const GCM_IV_BYTES = 12;
/** Mechanism name stored in headers. */
export const SEAL_MECHANISM = 'CKM_AES_GCM';
/** Length of the approver-set hash (SHA-256). */
export const APPROVERS_HASH_BYTES = 32;
/** File name suffix of blob files. */
const BLOB_SUFFIX = '.blob';

/** What sealed material a blob holds. */
export type BlobKind = 'shard' | 'aux' | 'prime' | 'pending-shard' | 'other';
const BLOB_KINDS: readonly BlobKind[] = ['shard', 'aux', 'prime', 'pending-shard', 'other'];

/** Fields the caller chooses when sealing. */
export interface SealFields {
  readonly keyId: string;
  readonly party: number;
  readonly epoch: number;
  readonly kind: BlobKind;
  readonly objectId: string;
}

/** The authenticated header of a blob. */
export interface BlobHeader extends SealFields {
  readonly v: number;
  /** CKA_LABEL and CKA_ID (hex) of the sealing key inside the token. */
  readonly sealingKey: { readonly label: string; readonly id: string };
  readonly mechanism: string;
  /** The IV the HSM used, hex. */
  readonly iv: string;
  readonly tagBits: number;
  /** Hex SHA-256 of the approver set pinned in the token when sealing (DESIGN §1 threat model). */
  readonly approvers: string;
}

export interface ParsedBlob {
  readonly header: BlobHeader;
  /** The header bytes as stored: the AAD. */
  readonly headerBytes: Uint8Array;
  /** Ciphertext followed by the tag. */
  readonly ciphertext: Uint8Array;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HEX_RE = /^[0-9a-f]+$/;

/** Key ids and object ids: 1..128 characters of [A-Za-z0-9._-], not starting with a dot. */
export function assertId(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || !ID_RE.test(value)) {
    throw new VaultError('E_BLOB_INVALID', `${field} must be 1..128 characters of [A-Za-z0-9._-] starting with a letter or digit`);
  }
}

function assertUint(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new VaultError('E_BLOB_INVALID', `${field} must be a non-negative integer`);
  }
}

/** Validates the caller's fields before anything is sealed or compared. */
export function assertSealFields(f: SealFields): void {
  assertId(f.keyId, 'keyId');
  assertId(f.objectId, 'objectId');
  assertUint(f.party, 'party');
  assertUint(f.epoch, 'epoch');
  if (!BLOB_KINDS.includes(f.kind)) throw new VaultError('E_BLOB_INVALID', 'kind is not a known blob kind');
}

/** Canonical header bytes: fixed field order, no whitespace. */
export function encodeHeader(h: BlobHeader): Uint8Array {
  const ordered = {
    v: h.v,
    sealingKey: { label: h.sealingKey.label, id: h.sealingKey.id },
    mechanism: h.mechanism,
    iv: h.iv,
    tagBits: h.tagBits,
    approvers: h.approvers,
    keyId: h.keyId,
    party: h.party,
    epoch: h.epoch,
    kind: h.kind,
    objectId: h.objectId,
  };
  return new TextEncoder().encode(JSON.stringify(ordered));
}

export function encodeBlob(headerBytes: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH_BYTES + headerBytes.length + ciphertext.length);
  new DataView(out.buffer).setUint32(0, headerBytes.length, false);
  out.set(headerBytes, HEADER_LENGTH_BYTES);
  out.set(ciphertext, HEADER_LENGTH_BYTES + headerBytes.length);
  return out;
}

/** Splits and validates a blob; decrypting it (which authenticates the header) is the vault's job. */
export function parseBlob(blob: Uint8Array): ParsedBlob {
  if (blob.length < HEADER_LENGTH_BYTES) throw new VaultError('E_BLOB_INVALID', 'blob is shorter than its length prefix');
  const headerLength = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0, false);
  if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) throw new VaultError('E_BLOB_INVALID', 'blob header length out of range');
  if (blob.length < HEADER_LENGTH_BYTES + headerLength + GCM_TAG_BYTES) throw new VaultError('E_BLOB_INVALID', 'blob is truncated');
  const headerBytes = blob.slice(HEADER_LENGTH_BYTES, HEADER_LENGTH_BYTES + headerLength);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch {
    throw new VaultError('E_BLOB_INVALID', 'blob header is not UTF-8 JSON');
  }
  const header = validateHeader(raw);
  // Only the canonical encoding is accepted, so one header has exactly one byte form.
  if (!bytesEqual(encodeHeader(header), headerBytes)) throw new VaultError('E_BLOB_INVALID', 'blob header is not canonical');
  return { header, headerBytes, ciphertext: blob.slice(HEADER_LENGTH_BYTES + headerLength) };
}

function validateHeader(raw: unknown): BlobHeader {
  if (typeof raw !== 'object' || raw === null) throw new VaultError('E_BLOB_INVALID', 'blob header is not an object');
  const h = raw as Record<string, unknown>;
  if (h.v !== BLOB_FORMAT_VERSION) throw new VaultError('E_BLOB_INVALID', 'unsupported blob format version');
  if (h.mechanism !== SEAL_MECHANISM) throw new VaultError('E_BLOB_INVALID', 'unsupported sealing mechanism');
  if (h.tagBits !== GCM_TAG_BITS) throw new VaultError('E_BLOB_INVALID', 'unsupported tag length');
  if (typeof h.iv !== 'string' || h.iv.length !== GCM_IV_BYTES * 2 || !HEX_RE.test(h.iv)) throw new VaultError('E_BLOB_INVALID', 'iv must be 12 bytes of lowercase hex');
  if (typeof h.approvers !== 'string' || h.approvers.length !== APPROVERS_HASH_BYTES * 2 || !HEX_RE.test(h.approvers)) {
    throw new VaultError('E_BLOB_INVALID', 'approvers must be a 32-byte hash in lowercase hex');
  }
  const sk = h.sealingKey as Record<string, unknown> | null | undefined;
  if (typeof sk !== 'object' || sk === null || typeof sk.label !== 'string' || typeof sk.id !== 'string' || !HEX_RE.test(sk.id)) {
    throw new VaultError('E_BLOB_INVALID', 'sealingKey must name a label and a hex id');
  }
  const fields = { keyId: h.keyId, party: h.party, epoch: h.epoch, kind: h.kind, objectId: h.objectId } as SealFields;
  assertSealFields(fields);
  if (sk.label !== sealingKeyLabel(fields.keyId, fields.epoch)) throw new VaultError('E_BLOB_INVALID', 'sealing key label does not match key id and epoch');
  return {
    v: BLOB_FORMAT_VERSION,
    sealingKey: { label: sk.label, id: sk.id },
    mechanism: SEAL_MECHANISM,
    iv: h.iv,
    tagBits: GCM_TAG_BITS,
    approvers: h.approvers,
    ...fields,
  };
}

/** The CKA_LABEL of the sealing key for (keyId, epoch). */
export function sealingKeyLabel(keyId: string, epoch: number): string {
  return `vilna-seal:${keyId}:${epoch}`;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function blobPath(dir: string, objectId: string): string {
  assertId(objectId, 'objectId');
  return path.join(dir, `${objectId}${BLOB_SUFFIX}`);
}

/** Writes a blob atomically (temp file, fsync, rename over the target, fsync the directory). */
export async function writeBlob(dir: string, objectId: string, blob: Uint8Array): Promise<string> {
  const target = blobPath(dir, objectId);
  await writeFileAtomic(target, blob);
  return target;
}

/** Reads the blob stored under objectId, refusing one whose header names another object. */
export async function readBlob(dir: string, objectId: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(blobPath(dir, objectId)));
  const { header } = parseBlob(bytes);
  if (header.objectId !== objectId) {
    throw new VaultError('E_BLOB_INVALID', `blob file ${objectId} holds object ${header.objectId}`);
  }
  return bytes;
}
