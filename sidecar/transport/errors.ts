/**
 * Typed errors of the peer transport (DESIGN §4 "Peer transport", STYLE "Errors"): a stable
 * `code` per refusal, the HTTP status a receiving node answers with, and nothing secret in the
 * message (field names and party numbers only, never keys, payloads or plaintext).
 */
import type { PartyIndex } from '../../cggmp/protocols/index.ts';

export type TransportErrorCode =
  /** request body larger than the transport's maxBodyBytes */
  | 'E_BODY_TOO_LARGE'
  /** body is not JSON or does not have exactly the expected fields and sizes */
  | 'E_MALFORMED'
  /** no open session with that id on the receiving node (not opened yet, or closed) */
  | 'E_UNKNOWN_SESSION'
  /** the sender is not a party of the session, or the TLS client is not authorised */
  | 'E_UNKNOWN_SENDER'
  /** the same message (or a non-increasing sequence number) arrived again */
  | 'E_REPLAY'
  /** the point-to-point ciphertext does not authenticate under the pairwise key */
  | 'E_DECRYPT'
  /** the signed envelope fails the channel's check (signature, session, round, recipient) */
  | 'E_ENVELOPE_REJECTED'
  /** a key-exchange message (hello, KEM ciphertext) is badly signed, misaddressed or invalid */
  | 'E_HANDSHAKE_REJECTED'
  /** too many messages of rounds not collected yet */
  | 'E_BACKLOG_FULL'
  /** the key exchange did not complete in time */
  | 'E_HANDSHAKE_TIMEOUT'
  /** the session specification handed to openSession is invalid */
  | 'E_SESSION_SPEC'
  /** a local caller passed an invalid argument (certificate names, validity) */
  | 'E_INVALID_ARGUMENT'
  /** a session with this id is open, or was open on this node before */
  | 'E_SESSION_EXISTS'
  /** the session was closed while an operation waited on it */
  | 'E_SESSION_CLOSED'
  /** a peer could not be reached (connection refused, reset, timed out) within the retries */
  | 'E_PEER_UNREACHABLE'
  /** the TLS handshake with a peer failed (certificate not trusted, name mismatch, refused) */
  | 'E_PEER_TLS'
  /** an unexpected failure inside the receiving node */
  | 'E_INTERNAL';

/** HTTP status a receiving node answers each refusal with. */
const HTTP_STATUS: Readonly<Record<TransportErrorCode, number>> = {
  E_BODY_TOO_LARGE: 413,
  E_MALFORMED: 400,
  E_UNKNOWN_SESSION: 409,
  E_UNKNOWN_SENDER: 403,
  E_REPLAY: 409,
  E_DECRYPT: 400,
  E_ENVELOPE_REJECTED: 400,
  E_HANDSHAKE_REJECTED: 400,
  E_BACKLOG_FULL: 429,
  E_HANDSHAKE_TIMEOUT: 504,
  E_SESSION_SPEC: 400,
  E_INVALID_ARGUMENT: 400,
  E_SESSION_EXISTS: 409,
  E_SESSION_CLOSED: 409,
  E_PEER_UNREACHABLE: 502,
  E_PEER_TLS: 502,
  E_INTERNAL: 500,
};

export class TransportError extends Error {
  override readonly name: string = 'TransportError';
  readonly code: TransportErrorCode;

  constructor(code: TransportErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(`${code}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
  }

  /** The status a receiving node answers this refusal with. */
  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

/** The key exchange of a session did not complete: `missing` are the peers it still lacked. */
export class HandshakeTimeout extends TransportError {
  override readonly name = 'HandshakeTimeout';
  readonly missing: readonly PartyIndex[];

  constructor(missing: readonly PartyIndex[]) {
    super('E_HANDSHAKE_TIMEOUT', `key exchange incomplete with party ${missing.join(', ')}`);
    this.missing = Object.freeze([...missing]);
  }
}

/** The `{ error: { code, message } }` body a receiving node answers a refusal with. */
export function errorBody(e: TransportError): { error: { code: TransportErrorCode; message: string } } {
  return { error: { code: e.code, message: e.message } };
}
