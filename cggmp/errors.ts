/**
 * Typed errors of the protocol library. Each carries a stable `code` that the API, the CLI and
 * the operator map to answers. Messages name fields and checks, never secret values.
 */

export type ErrorCode =
  | 'E_INVALID_INPUT'
  | 'E_PROOF_INVALID'
  | 'E_ARITH'
  | 'E_BACKEND_UNAVAILABLE'
  | 'E_SECURITY_LEVEL'
  | 'E_PROTOCOL_ABORT'
  | 'E_ROUND_TIMEOUT'
  | 'E_PRESIGNATURE';

export class CggmpError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A value received from another party (or a caller) is outside its domain. */
export class InvalidInputError extends CggmpError {
  readonly field: string;
  constructor(field: string, reason: string) {
    super('E_INVALID_INPUT', `${field}: ${reason}`);
    this.field = field;
  }
}

/** A zero-knowledge proof did not verify; `check` names the failed verification step. */
export class ProofInvalidError extends CggmpError {
  readonly proof: string;
  readonly check: string;
  constructor(proof: string, check: string) {
    super('E_PROOF_INVALID', `${proof}: ${check} failed`);
    this.proof = proof;
    this.check = check;
  }
}

/** An arithmetic precondition failed (e.g. an inverse that does not exist). */
export class ArithError extends CggmpError {
  constructor(message: string) {
    super('E_ARITH', message);
  }
}

/** A parameter set other than the shipped 128-bit level was offered where it is not allowed. */
export class SecurityLevelError extends CggmpError {
  constructor(message: string) {
    super('E_SECURITY_LEVEL', message);
  }
}
