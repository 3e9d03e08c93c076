/**
 * Typed vault errors with stable codes (STYLE "Errors"), and the mapping from PKCS#11 return
 * values to them. Messages name the operation, the object and the CKR_* value, never a PIN, a
 * key or plaintext.
 */

export type VaultErrorCode =
  /** wrong, malformed or locked user PIN */
  | 'E_HSM_PIN'
  /** no token with the configured label */
  | 'E_HSM_TOKEN'
  /** module missing, device error, token removed, no answer in time: the HSM cannot be used right now */
  | 'E_HSM_UNAVAILABLE'
  /** any other PKCS#11 failure */
  | 'E_HSM_ERROR'
  /** the sealing key a blob names is not in the token (destroyed with its epoch, or never there) */
  | 'E_SEALING_KEY_MISSING'
  /** malformed blob, header mismatch, or authentication failure inside the HSM */
  | 'E_BLOB_INVALID'
  /** a blob (or watermark move) older than the token's epoch watermark */
  | 'E_BLOB_ROLLBACK'
  /** no approver set is pinned in the token yet (the party was not provisioned) */
  | 'E_TRUST_ANCHOR_MISSING'
  /** the approver set differs from the one pinned in the token, or a blob was sealed under another */
  | 'E_TRUST_ANCHOR_MISMATCH';

export class VaultError extends Error {
  override readonly name = 'VaultError';
  readonly code: VaultErrorCode;
  /** The PKCS#11 return value name when the error came from the module (e.g. CKR_PIN_INCORRECT). */
  readonly ckr: string | undefined;
  /** The message without the code prefix. */
  readonly detail: string;

  constructor(code: VaultErrorCode, message: string, opts: { ckr?: string; cause?: unknown } = {}) {
    super(`${code}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.ckr = opts.ckr;
    this.detail = message;
  }
}

/** Every code, for checking codes that crossed a process boundary. */
export const VAULT_ERROR_CODES: ReadonlySet<string> = new Set<VaultErrorCode>([
  'E_HSM_PIN', 'E_HSM_TOKEN', 'E_HSM_UNAVAILABLE', 'E_HSM_ERROR', 'E_SEALING_KEY_MISSING', 'E_BLOB_INVALID', 'E_BLOB_ROLLBACK',
  'E_TRUST_ANCHOR_MISSING', 'E_TRUST_ANCHOR_MISMATCH',
]);

/** Codes whose messages come from the module and so need the vault operation named in front. */
const HSM_CODES: ReadonlySet<VaultErrorCode> = new Set<VaultErrorCode>(['E_HSM_PIN', 'E_HSM_TOKEN', 'E_HSM_UNAVAILABLE', 'E_HSM_ERROR']);

/** Names the vault operation in front of a module-level message ("seal k1.shard: …: CKR_…"). */
export function withOperation(e: unknown, operation: string): VaultError {
  const err = e instanceof VaultError ? e : toVaultError(e, operation);
  if (!HSM_CODES.has(err.code) || err.detail.startsWith(operation)) return err;
  return new VaultError(err.code, `${operation}: ${err.detail}`, { ...(err.ckr === undefined ? {} : { ckr: err.ckr }), cause: err });
}

/** True when the error came back from the PKCS#11 module (it carries a CKR_ value). */
export function isModuleError(e: unknown): boolean {
  return e instanceof VaultError ? e.ckr !== undefined : ckrOf(e) !== undefined;
}

/** PKCS#11 return values the vault distinguishes (PKCS#11 v2.40 §11.1 / pkcs11t.h). */
const CKR_NAMES: ReadonlyMap<number, string> = new Map([
  [0x02, 'CKR_HOST_MEMORY'],
  [0x05, 'CKR_GENERAL_ERROR'],
  [0x06, 'CKR_FUNCTION_FAILED'],
  [0x11, 'CKR_ATTRIBUTE_SENSITIVE'],
  [0x30, 'CKR_DEVICE_ERROR'],
  [0x31, 'CKR_DEVICE_MEMORY'],
  [0x32, 'CKR_DEVICE_REMOVED'],
  [0x40, 'CKR_ENCRYPTED_DATA_INVALID'],
  [0x41, 'CKR_ENCRYPTED_DATA_LEN_RANGE'],
  [0x60, 'CKR_KEY_HANDLE_INVALID'],
  [0x82, 'CKR_OBJECT_HANDLE_INVALID'],
  [0x90, 'CKR_OPERATION_ACTIVE'],
  [0xa0, 'CKR_PIN_INCORRECT'],
  [0xa1, 'CKR_PIN_INVALID'],
  [0xa2, 'CKR_PIN_LEN_RANGE'],
  [0xa3, 'CKR_PIN_EXPIRED'],
  [0xa4, 'CKR_PIN_LOCKED'],
  [0xb0, 'CKR_SESSION_CLOSED'],
  [0xb3, 'CKR_SESSION_HANDLE_INVALID'],
  [0xc0, 'CKR_SIGNATURE_INVALID'],
  [0xe0, 'CKR_TOKEN_NOT_PRESENT'],
  [0xe1, 'CKR_TOKEN_NOT_RECOGNIZED'],
  [0xe2, 'CKR_TOKEN_WRITE_PROTECTED'],
  [0x100, 'CKR_USER_ALREADY_LOGGED_IN'],
  [0x101, 'CKR_USER_NOT_LOGGED_IN'],
  [0x190, 'CKR_CRYPTOKI_NOT_INITIALIZED'],
]);

const PIN_ERRORS = new Set(['CKR_PIN_INCORRECT', 'CKR_PIN_INVALID', 'CKR_PIN_LEN_RANGE', 'CKR_PIN_EXPIRED', 'CKR_PIN_LOCKED']);
const UNAVAILABLE_ERRORS = new Set([
  'CKR_HOST_MEMORY',
  'CKR_GENERAL_ERROR',
  'CKR_DEVICE_ERROR',
  'CKR_DEVICE_MEMORY',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_SESSION_CLOSED',
  'CKR_SESSION_HANDLE_INVALID',
  // Login state lost (token re-inserted, sessions closed under us): the pool logs in again.
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
]);

/** The CKR_* name of a pkcs11js error (its numeric `code`, else a CKR_ name in its message). */
export function ckrOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'number') return CKR_NAMES.get(code) ?? `CKR_0x${code.toString(16)}`;
  const message = (e as { message?: unknown }).message;
  if (typeof message === 'string') return /\bCKR_[A-Z_]+/.exec(message)?.[0];
  return undefined;
}

/** True for failures of the device rather than of the request: a caller may retry later. */
export function isUnavailable(e: unknown): boolean {
  if (e instanceof VaultError) return e.code === 'E_HSM_UNAVAILABLE';
  const ckr = ckrOf(e);
  return ckr !== undefined && UNAVAILABLE_ERRORS.has(ckr);
}

/** Wraps a module error as a VaultError; `fallback` is the code for request-specific failures. */
export function toVaultError(e: unknown, operation: string, fallback: VaultErrorCode = 'E_HSM_ERROR'): VaultError {
  if (e instanceof VaultError) return e;
  const ckr = ckrOf(e);
  if (ckr !== undefined && PIN_ERRORS.has(ckr)) return new VaultError('E_HSM_PIN', `${operation}: the token refused the PIN (${ckr})`, { ckr });
  if (ckr !== undefined && UNAVAILABLE_ERRORS.has(ckr)) return new VaultError('E_HSM_UNAVAILABLE', `${operation}: HSM unavailable (${ckr})`, { ckr });
  const ckrPart = ckr === undefined ? 'failed' : `failed (${ckr})`;
  return ckr === undefined ? new VaultError(fallback, `${operation} ${ckrPart}`) : new VaultError(fallback, `${operation} ${ckrPart}`, { ckr });
}
