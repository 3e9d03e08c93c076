/**
 * Audit-log entries (DESIGN §4 "Audit log"): their shape, the canonical line encoding, the bytes
 * the party's identity key signs, and the guard that keeps secret-looking fields out of the log.
 *
 * A line is the canonical JSON of an entry including its `sig`: keys sorted by UTF-16 code units,
 * no whitespace, ECMAScript number and string forms (the RFC 8785 rules). `prev` is the SHA-256
 * of the previous line's bytes without its newline; `sig` is a low-s P-256 signature over
 * ENTRY_SIGNING_TAG ‖ 0x00 ‖ canonical JSON of the entry without `sig`. Only the canonical form
 * and only low-s signatures are accepted, so every entry has exactly one valid byte form and a
 * line's hash names its content.
 */
import { createHash } from 'node:crypto';
import type { Signer } from '../../cggmp/protocols/index.ts';
import { AuditError } from './errors.ts';

/** Entry format version (`v`). */
export const AUDIT_ENTRY_VERSION = 1;
/** `prev` of the genesis entry: there is no previous line. */
export const GENESIS_PREV = '0'.repeat(64);
/** Longest line accepted, in bytes without the newline: entries hold ids and hashes, not payloads. */
export const MAX_LINE_BYTES = 64 * 1024;
/** Largest canonical `data` object, leaving room in a line for the envelope fields and `sig`. */
export const MAX_DATA_BYTES = 32 * 1024;
/** Deepest nesting of JSON values inside an entry (the entry itself is depth 0). */
export const MAX_JSON_DEPTH = 16;
/** Largest party number: party numbers travel as u32 in the signed head. */
export const MAX_PARTY = 0xffff_ffff;

// Domain separation: the identity key also signs protocol envelopes and transport handshakes,
// so every audit signature starts with a tag no other message starts with.
const ENTRY_SIGNING_TAG = 'vilna-mpc/audit/entry/v1';
const HEAD_SIGNING_TAG = 'vilna-mpc/audit/head/v1';

/** P-256 group order n (FIPS 186-4 §D.1.2.3), to put signatures in low-s form. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_N = P256_N >> 1n;
/** Bytes of one P1363 signature half (r or s). */
const SCALAR_BYTES = 32;

/** Kinds the node records; `kind` is any short dotted lowercase name, these are the known ones. */
export const AUDIT_KINDS = [
  'genesis',
  'session.start',
  'session.end',
  'signature',
  'policy.denied',
  'plan.accepted',
  'plan.refused',
  'epoch.commit',
  'epoch.retire',
  'anchor.peer',
] as const;
export const GENESIS_KIND = 'genesis';
export const ANCHOR_KIND = 'anchor.peer';
const KIND_RE = /^[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*$/;
const MAX_KIND_LENGTH = 64;

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type AuditData = { readonly [key: string]: JsonValue };

export interface UnsignedAuditEntry {
  readonly v: typeof AUDIT_ENTRY_VERSION;
  /** 0-based, consecutive. */
  readonly index: number;
  /** ISO-8601 UTC with milliseconds. */
  readonly time: string;
  /** The 1-based party number that writes the log. */
  readonly party: number;
  readonly kind: string;
  readonly data: AuditData;
  /** Hex SHA-256 of the previous line's bytes; GENESIS_PREV for index 0. */
  readonly prev: string;
}

export interface AuditEntry extends UnsignedAuditEntry {
  /** Hex low-s r‖s identity signature over entrySigningBytes. */
  readonly sig: string;
}

/** The last entry of a log: its index and the hex SHA-256 of its line. */
export interface AuditHead {
  readonly index: number;
  readonly hash: string;
}

/** A head signed by its party's identity key, as sent to peers after sessions and on a timer. */
export interface SignedAuditHead extends AuditHead {
  readonly party: number;
  /** Hex r‖s over headSigningBytes. */
  readonly sig: string;
}

const utf8 = new TextEncoder();
export const HEX64_RE = /^[0-9a-f]{64}$/;
const SIG_RE = /^[0-9a-f]{128}$/;
const PUBLIC_KEY_RE = /^0[23][0-9a-f]{64}$/;
// What Date#toISOString produces for years 0000..9999.
const ISO_UTC_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Canonical JSON text of a value: sorted keys, no whitespace. Refuses anything JSON.parse could
 * not give back unchanged (undefined, bigint, non-finite numbers, typed arrays, class instances).
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, 0, '$');
}

function canonical(value: unknown, depth: number, at: string): string {
  if (depth > MAX_JSON_DEPTH) throw new AuditError('E_AUDIT_DATA', `${at} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new AuditError('E_AUDIT_DATA', `${at} is not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => canonical(v, depth + 1, `${at}[${i}]`)).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k], depth + 1, `${at}.${k}`)}`).join(',')}}`;
  }
  throw new AuditError('E_AUDIT_DATA', `${at} is not a JSON value (${typeof value}); encode bytes as hex`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

// Words that name key material or credentials. Whole words only for the short ones, so that
// "pinned" or "shipping" pass; a "public" qualifier makes share words harmless ("publicShares").
const SECRET_WORDS = new Set(['secret', 'secrets', 'share', 'shares', 'shard', 'shards', 'pin', 'pins', 'seed', 'seeds', 'xprv', 'password', 'passwords']);
const SECRET_SUBSTRINGS = ['secret', 'privatekey', 'privkey', 'password', 'passphrase', 'mnemonic'];

/** Whether a data key is named like something that must never be logged (secret, share, privateKey, pin…). */
export function isSecretLikeKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((w) => w !== '');
  const joined = words.join('');
  if (SECRET_SUBSTRINGS.some((s) => joined.includes(s))) return true;
  return words.some((w, i) => SECRET_WORDS.has(w) && words[i - 1] !== 'public');
}

function assertNoSecretKeys(value: unknown, at: string): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertNoSecretKeys(v, `${at}[${i}]`));
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      // The key name is the caller's own code, not secret material, so naming it is safe.
      if (isSecretLikeKey(k)) throw new AuditError('E_AUDIT_DATA', `${at}.${k}: the audit log refuses fields named like secrets, shares, private keys or PINs`);
      assertNoSecretKeys(v, `${at}.${k}`);
    }
  }
}

/**
 * Validates entry data and returns a canonical snapshot of it (later changes by the caller do not
 * reach the log): a plain JSON object, at most MAX_DATA_BYTES, with no secret-looking key at any
 * depth. This is a guard against mistakes, not a proof that no value is secret.
 */
export function auditDataSnapshot(data: unknown): AuditData {
  if (!isPlainObject(data)) throw new AuditError('E_AUDIT_DATA', 'data must be a plain JSON object');
  const text = canonicalJson(data);
  if (utf8.encode(text).length > MAX_DATA_BYTES) throw new AuditError('E_AUDIT_DATA', `data is larger than ${MAX_DATA_BYTES} bytes`);
  assertNoSecretKeys(data, 'data');
  return JSON.parse(text) as AuditData;
}

export function assertKind(kind: unknown): asserts kind is string {
  if (typeof kind !== 'string' || kind.length > MAX_KIND_LENGTH || !KIND_RE.test(kind)) {
    throw new AuditError('E_AUDIT_DATA', `kind must be a dotted lowercase name of at most ${MAX_KIND_LENGTH} characters`);
  }
}

export function assertParty(party: unknown, field = 'party'): asserts party is number {
  if (typeof party !== 'number' || !Number.isInteger(party) || party < 1 || party > MAX_PARTY) {
    throw new AuditError('E_AUDIT_DATA', `${field} must be an integer 1..${MAX_PARTY}`);
  }
}

/** The bytes an entry's `sig` covers. */
export function entrySigningBytes(e: UnsignedAuditEntry): Uint8Array {
  const unsigned = { v: e.v, index: e.index, time: e.time, party: e.party, kind: e.kind, data: e.data, prev: e.prev };
  return utf8.encode(`${ENTRY_SIGNING_TAG}\u0000${canonicalJson(unsigned)}`);
}

/** The bytes a signed head covers: tag ‖ 0x00 ‖ u32 party ‖ u64 index ‖ 32-byte line hash. */
export function headSigningBytes(party: number, head: AuditHead): Uint8Array {
  const tag = utf8.encode(HEAD_SIGNING_TAG);
  const out = new Uint8Array(tag.length + 1 + 4 + 8 + 32);
  out.set(tag, 0);
  const view = new DataView(out.buffer);
  view.setUint32(tag.length + 1, party, false);
  view.setBigUint64(tag.length + 5, BigInt(head.index), false);
  out.set(Buffer.from(head.hash, 'hex'), tag.length + 13);
  return out;
}

/** The line of an entry, without its newline. */
export function encodeLine(entry: AuditEntry): Uint8Array {
  const { v, index, time, party, kind, data, prev, sig } = entry;
  return utf8.encode(canonicalJson({ v, index, time, party, kind, data, prev, sig }));
}

/** Hex SHA-256 of a line's bytes (without its newline): what the next entry's `prev` holds. */
export function lineHash(line: Uint8Array): string {
  return createHash('sha256').update(line).digest('hex');
}

/**
 * Signs with the identity key and returns the low-s form (HSMs return either s or n − s; both
 * verify, so only one may be stored or a line could be rewritten without its key).
 */
export async function signLowS(signer: Signer, message: Uint8Array): Promise<string> {
  const sig = await signer.sign(message);
  if (!(sig instanceof Uint8Array) || sig.length !== 2 * SCALAR_BYTES) {
    throw new AuditError('E_AUDIT_UNAVAILABLE', 'the identity signer returned a malformed signature');
  }
  const s = BigInt('0x' + Buffer.from(sig.subarray(SCALAR_BYTES)).toString('hex'));
  if (s <= P256_HALF_N) return Buffer.from(sig).toString('hex');
  const low = (P256_N - s).toString(16).padStart(2 * SCALAR_BYTES, '0');
  return Buffer.from(sig.subarray(0, SCALAR_BYTES)).toString('hex') + low;
}

/** Whether a hex r‖s signature has s ≤ n/2. */
export function isLowS(sigHex: string): boolean {
  return BigInt('0x' + sigHex.slice(2 * SCALAR_BYTES)) <= P256_HALF_N;
}

export function isPublicKeyHex(value: unknown): value is string {
  return typeof value === 'string' && PUBLIC_KEY_RE.test(value);
}

export function isSignatureHex(value: unknown): value is string {
  return typeof value === 'string' && SIG_RE.test(value);
}

export type DecodedLine = { readonly ok: true; readonly entry: AuditEntry } | { readonly ok: false; readonly reason: string };

const ENTRY_FIELDS = ['data', 'index', 'kind', 'party', 'prev', 'sig', 'time', 'v'];
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses one line and checks its form (UTF-8, JSON, canonical, field types); the chain and the
 * signature are the verifier's business. Never throws.
 */
export function decodeLine(line: Uint8Array): DecodedLine {
  if (line.length > MAX_LINE_BYTES) return { ok: false, reason: `line is longer than ${MAX_LINE_BYTES} bytes` };
  let text: string;
  let raw: unknown;
  try {
    text = fatalUtf8.decode(line);
  } catch {
    return { ok: false, reason: 'line is not valid UTF-8' };
  }
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'line is not JSON' };
  }
  if (!isPlainObject(raw)) return { ok: false, reason: 'line is not a JSON object' };
  let canonicalText: string;
  try {
    canonicalText = canonicalJson(raw);
  } catch (e) {
    return { ok: false, reason: e instanceof AuditError ? e.message.replace(/^E_AUDIT_DATA: /, '') : 'line is not canonical JSON' };
  }
  if (canonicalText !== text) return { ok: false, reason: 'line is not in canonical form' };
  const keys = Object.keys(raw).sort();
  if (keys.length !== ENTRY_FIELDS.length || keys.some((k, i) => k !== ENTRY_FIELDS[i])) return { ok: false, reason: 'entry has missing or unexpected fields' };
  const { v, index, time, party, kind, data, prev, sig } = raw;
  if (v !== AUDIT_ENTRY_VERSION) return { ok: false, reason: 'unsupported entry version' };
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) return { ok: false, reason: 'index is not a non-negative integer' };
  if (typeof time !== 'string' || !ISO_UTC_RE.test(time) || Number.isNaN(Date.parse(time))) return { ok: false, reason: 'time is not an ISO-8601 UTC timestamp' };
  if (typeof party !== 'number' || !Number.isInteger(party) || party < 1 || party > MAX_PARTY) return { ok: false, reason: 'party is not a party number' };
  if (typeof kind !== 'string' || kind.length > MAX_KIND_LENGTH || !KIND_RE.test(kind)) return { ok: false, reason: 'kind is not a dotted lowercase name' };
  if (!isPlainObject(data)) return { ok: false, reason: 'data is not a JSON object' };
  if (typeof prev !== 'string' || !HEX64_RE.test(prev)) return { ok: false, reason: 'prev is not 64 lowercase hex digits' };
  if (!isSignatureHex(sig)) return { ok: false, reason: 'sig is not 128 lowercase hex digits' };
  return { ok: true, entry: { v: AUDIT_ENTRY_VERSION, index, time, party, kind, data: data as AuditData, prev, sig } };
}
