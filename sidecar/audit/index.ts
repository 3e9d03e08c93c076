/** The party's signed, hash-chained audit log and its verifier (DESIGN §4 "Audit log"): the public surface of sidecar/audit. */
export { AuditLog, AUDIT_FILE_NAME, type AuditLogOptions } from './audit-log.ts';
export {
  AUDIT_KINDS,
  canonicalJson,
  headSigningBytes,
  isSecretLikeKey,
  type AuditData,
  type AuditEntry,
  type AuditHead,
  type JsonValue,
  type SignedAuditHead,
} from './entry.ts';
export {
  anchoredWithoutLog,
  verifyAuditBytes,
  verifyAuditLog,
  verifyWithPeers,
  type AuditLogFailure,
  type AuditVerifyResult,
  type MissingLog,
  type MissingLogsResult,
  type PeerCheckFailure,
  type PeerCheckResult,
  type VerifiedAuditLog,
  type VerifyOptions,
} from './verify.ts';
export { MAX_OPEN_GROUPS, OVERFLOW_CALLER, RefusalCounter, REFUSAL_WINDOW_MS, REFUSALS_IN_FULL, type RefusalCounterOptions, type RefusalSink } from './refusals.ts';
export { AuditError, type AuditErrorCode } from './errors.ts';
