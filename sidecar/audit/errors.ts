/**
 * Typed audit-log errors with stable codes (STYLE "Errors"). Messages name the file, the entry
 * and the check that failed; they never quote entry data.
 */

export type AuditErrorCode =
  /** data or kind the log refuses to record (not plain JSON, too large, a secret-looking key) */
  | 'E_AUDIT_DATA'
  /** the existing log fails verification, so appending would extend a broken chain */
  | 'E_AUDIT_CORRUPT'
  /** the log belongs to another party or another identity key */
  | 'E_AUDIT_IDENTITY'
  /** the log is already open in this process */
  | 'E_AUDIT_BUSY'
  /** the log was closed, or an earlier write failed and its state on disk is unknown */
  | 'E_AUDIT_UNAVAILABLE'
  /** no audit log where one was named (e.g. `audit verify DIR` on a directory without one) */
  | 'E_AUDIT_NOT_FOUND'
  /** a peer's signed head is malformed, from the wrong party, or its signature does not verify */
  | 'E_AUDIT_PEER_HEAD';

export class AuditError extends Error {
  override readonly name = 'AuditError';
  readonly code: AuditErrorCode;

  constructor(code: AuditErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(`${code}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
  }
}
