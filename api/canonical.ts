/**
 * Canonical JSON and domain-separated hashes of contract data (DESIGN §4 "Plans and approvals"):
 * the bytes every node, the operator and an approver's laptop must agree on before a plan hash,
 * an approver-set hash or a policy hash means anything.
 *
 * Canonical form: UTF-8 JSON with no whitespace, object keys sorted recursively by UTF-16 code
 * units (the order of RFC 8785 §3.2.3, and of `Array.prototype.sort`), strings escaped as
 * `JSON.stringify` escapes them. Only the values that have one obvious text are accepted: strings
 * (well-formed Unicode), safe integers, booleans, null, arrays and plain objects. Floats,
 * undefined, bigint, NaN, functions, symbols, class instances and cycles are refused, because a
 * value that two encoders could spell differently must never reach a hash.
 *
 * Also home of ContractError, the one error every api/ parser throws.
 */
import { sha256 } from '@noble/hashes/sha2.js';

export type ContractErrorCode =
  /** a value cannot be encoded canonically (float, undefined, bigint, cycle, …) */
  | 'E_NOT_CANONICAL'
  /** a plan fails its schema or one of its invariants */
  | 'E_PLAN_INVALID'
  /** an approval or signing approval is malformed */
  | 'E_APPROVAL_INVALID'
  /** an approver set is malformed (keys, order, quorum) */
  | 'E_APPROVER_SET_INVALID'
  /** a signing policy is malformed */
  | 'E_POLICY_INVALID'
  /** a signing request (the fields a signing approval covers) is malformed */
  | 'E_SIGNING_REQUEST_INVALID'
  /** a private key given to a signing helper is not an Ed25519 private key */
  | 'E_APPROVER_KEY_INVALID';

/** Typed error of the shared contracts; messages name the field and the rule, never a secret. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
  readonly code: ContractErrorCode;

  constructor(code: ContractErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/**
 * Nesting deeper than any contract needs (a plan is five levels deep); deeper input is refused
 * so a hostile document cannot exhaust the stack.
 */
const MAX_NESTING = 32;

function fieldName(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function refuse(path: readonly (string | number)[], rule: string): never {
  throw new ContractError('E_NOT_CANONICAL', `${fieldName(path)}: ${rule}`);
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function encodeValue(v: unknown, path: (string | number)[], open: Set<object>, out: string[]): void {
  if (v === null) {
    out.push('null');
    return;
  }
  switch (typeof v) {
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'string':
      if (!v.isWellFormed()) refuse(path, 'string holds a lone surrogate (not encodable as UTF-8)');
      out.push(JSON.stringify(v));
      return;
    case 'number':
      if (!Number.isSafeInteger(v)) refuse(path, `${String(v)} is not a safe integer (floats have no canonical text)`);
      out.push(String(v === 0 ? 0 : v)); // -0 and 0 are one value
      return;
    case 'object':
      break;
    default:
      refuse(path, `${typeof v} is not a JSON value`);
  }
  if (path.length >= MAX_NESTING) refuse(path, `nested deeper than ${MAX_NESTING}`);
  if (open.has(v)) refuse(path, 'cycle');
  open.add(v);
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.push(',');
      // Index access, not iteration, so a hole is seen (as undefined) and refused.
      path.push(i);
      encodeValue(v[i], path, open, out);
      path.pop();
    }
    out.push(']');
  } else {
    if (!isPlainObject(v)) refuse(path, `${v.constructor?.name ?? 'object'} is not a plain object`);
    if (Object.getOwnPropertySymbols(v).length > 0) refuse(path, 'symbol keys are not JSON');
    const keys = Object.keys(v).sort();
    out.push('{');
    keys.forEach((k, i) => {
      if (i > 0) out.push(',');
      if (!k.isWellFormed()) refuse(path, 'key holds a lone surrogate');
      out.push(JSON.stringify(k), ':');
      path.push(k);
      encodeValue(v[k], path, open, out);
      path.pop();
    });
    out.push('}');
  }
  open.delete(v);
}

/** Canonical JSON text of `value`; throws ContractError E_NOT_CANONICAL naming the field. */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  encodeValue(value, [], new Set(), out);
  return out.join('');
}

/** Canonical JSON of `value` as UTF-8 bytes. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/** Longest domain tag accepted: tags are short constants such as "vilna-mpc/plan/v1". */
const MAX_TAG_BYTES = 255;

/**
 * The framing of a domain tag: its UTF-8 length as a 4-byte big-endian integer, then the UTF-8
 * bytes. The length prefix keeps the tag boundary unambiguous, so no (tag, data) pair can be
 * read as another tag with other data.
 */
export function frameTag(domainTag: string): Uint8Array {
  if (typeof domainTag !== 'string' || domainTag.length === 0 || !domainTag.isWellFormed()) {
    throw new ContractError('E_NOT_CANONICAL', 'domain tag must be a non-empty string');
  }
  const tag = new TextEncoder().encode(domainTag);
  if (tag.length > MAX_TAG_BYTES) throw new ContractError('E_NOT_CANONICAL', `domain tag longer than ${MAX_TAG_BYTES} bytes`);
  const framed = new Uint8Array(4 + tag.length);
  new DataView(framed.buffer).setUint32(0, tag.length);
  framed.set(tag, 4);
  return framed;
}

/** SHA-256( u32be(len(tag)) ‖ tag ‖ canonicalBytes(value) ): 32 bytes. */
export function canonicalHash(domainTag: string, value: unknown): Uint8Array {
  const framed = frameTag(domainTag);
  const body = canonicalBytes(value);
  const h = sha256.create();
  h.update(framed);
  h.update(body);
  return h.digest();
}

/** 32-byte hashes travel as 64 lowercase hex characters (DESIGN §8). */
export const HASH_HEX_RE = /^[0-9a-f]{64}$/;

/** Enough issues to fix the first problems; a hostile document cannot make a message huge. */
const MAX_ISSUES_SHOWN = 5;
const MAX_DESCRIPTION_CHARS = 1000;

/**
 * One line per zod issue, "field: message", for ContractError messages. Takes the issue list
 * only, so this module needs no zod import.
 */
export function describeIssues(issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[]): string {
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((i) => `${fieldName(i.path.map((p) => (typeof p === 'number' ? p : String(p))))}: ${i.message}`);
  if (issues.length > MAX_ISSUES_SHOWN) shown.push(`(${issues.length - MAX_ISSUES_SHOWN} more)`);
  const text = shown.join('; ');
  return text.length > MAX_DESCRIPTION_CHARS ? `${text.slice(0, MAX_DESCRIPTION_CHARS)}…` : text;
}
