/**
 * Errors as HTTP answers: `{ error: { code, message, …details } }` with a status chosen by the
 * stable code (STYLE "Errors"). Messages are the errors' own, which never hold secrets; an
 * unexpected error answers 500 with no detail at all.
 */
import type { ErrorRequestHandler, Response } from 'express';
import { describeError } from '../node/plan-participant.ts';
import { PolicyDenied } from '../node/signing-service.ts';

const STATUS: ReadonlyMap<string, number> = new Map([
  ...['E_PLAN_INVALID', 'E_MALFORMED', 'E_INVALID_INPUT', 'E_AUDIT_PEER_HEAD', 'E_AUDIT_DATA', 'E_SIGNING_REQUEST_INVALID', 'E_BINDING_MISMATCH', 'E_SIGNERS_INVALID', 'E_POLICY_INVALID', 'E_UNSUPPORTED'].map((c) => [c, 400] as const),
  ['E_UNAUTHENTICATED', 401],
  ...['E_POLICY_DENIED', 'E_PLAN_UNAPPROVED', 'E_APPROVAL_INVALID', 'E_IDENTITY_MISMATCH', 'E_PLAN_EXPIRED', 'E_TRUST_ANCHOR_MISMATCH', 'E_FORBIDDEN', 'E_BAD_SIGNATURE', 'E_PEER_BINDING_INVALID', 'E_PEER_NOT_A_PARTY'].map((c) => [c, 403] as const),
  ...['E_UNKNOWN_KEY', 'E_UNKNOWN_PLAN', 'E_NOT_FOUND'].map((c) => [c, 404] as const),
  ['E_BODY_TOO_LARGE', 413],
  ...['E_REQUEST_CONFLICT', 'E_EPOCH_PENDING', 'E_KEY_BUSY', 'E_EPOCH_MISMATCH', 'E_EPOCH_DISCONTINUITY', 'E_PRESIGNATURE_UNAVAILABLE', 'E_REPLAY', 'E_DECISION_INVALID', 'E_BUSY', 'E_RESHARE_STATE_MISMATCH', 'E_RESHARE_STATE_UNVERIFIED', 'E_RESHARE_STATE_INVALID'].map((c) => [c, 409] as const),
  ['E_PROTOCOL_ABORT', 502],
  ...['E_SIGNERS_UNAVAILABLE', 'E_HSM_UNAVAILABLE', 'E_HSM_PIN', 'E_HSM_TOKEN', 'E_HSM_ERROR', 'E_SEALING_KEY_MISSING', 'E_BLOB_INVALID', 'E_BLOB_ROLLBACK', 'E_BLOB_MISSING', 'E_STATE_CORRUPT'].map((c) => [c, 503] as const),
  ...['E_ROUND_TIMEOUT', 'E_PEER_UNREACHABLE', 'E_PEER_TIMEOUT', 'E_PEER_TLS', 'E_HANDSHAKE_TIMEOUT'].map((c) => [c, 504] as const),
]);

export class HttpError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function sendError(res: Response, e: unknown): void {
  if (e instanceof HttpError) {
    res.status(e.status).json({ error: { code: e.code, message: e.message } });
    return;
  }
  if (e instanceof PolicyDenied) {
    res.status(403).json({ error: { code: e.code, message: e.message, rule: e.rule, ...(e.party !== undefined ? { party: e.party } : {}) } });
    return;
  }
  const info = describeError(e);
  const status = STATUS.get(info.code);
  if (status === undefined) {
    res.status(500).json({ error: { code: 'E_INTERNAL', message: 'internal error' } });
    return;
  }
  res.status(status).json({ error: info });
}

/** Express's last handler: body-parser failures (size, JSON) become clear 4xx answers. */
export const errorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
  const type = (err as { type?: unknown }).type;
  if (type === 'entity.too.large') return void res.status(413).json({ error: { code: 'E_BODY_TOO_LARGE', message: 'request body too large' } });
  if (type === 'entity.parse.failed') return void res.status(400).json({ error: { code: 'E_MALFORMED', message: 'request body is not valid JSON' } });
  sendError(res, err);
};

/** Wraps an async handler so that its errors reach sendError. */
export function handle(fn: (req: import('express').Request, res: Response) => Promise<void>): import('express').RequestHandler {
  return (req, res) => {
    fn(req, res).catch((e: unknown) => sendError(res, e));
  };
}
