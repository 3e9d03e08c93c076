/**
 * Typed refusals of the trust layer (DESIGN §4 "Trust anchors", "Plans and approvals"; STYLE
 * "Errors"): stable codes the API, CLI and operator status map to answers. Messages name the
 * field, rule or approver key (public values), never a secret.
 */

export type TrustErrorCode =
  /** the plan fails its schema or an invariant (the message names the field and rule) */
  | 'E_PLAN_INVALID'
  /** the plan's expiresAt is not after this party's clock */
  | 'E_PLAN_EXPIRED'
  /** fewer distinct valid approvals than the pinned quorum */
  | 'E_PLAN_UNAPPROVED'
  /** a malformed or forged approval, one for another plan, or one from an approver not pinned */
  | 'E_APPROVAL_INVALID'
  /** an identity key differs from the one this party holds for that party, or this party is not in the plan */
  | 'E_IDENTITY_MISMATCH'
  /** the plan's epoch does not follow from the key this party holds */
  | 'E_EPOCH_DISCONTINUITY'
  /** the configured approver set is not the one pinned in the HSM token */
  | 'E_TRUST_ANCHOR_MISMATCH';

export class TrustError extends Error {
  override readonly name = 'TrustError';
  readonly code: TrustErrorCode;

  constructor(code: TrustErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(`${code}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
  }
}
