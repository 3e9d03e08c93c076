/**
 * Node-to-node control calls over the peer transport's mutual-TLS client, and the calls an
 * assembling node makes to its co-signers (presign prepare and start, sign): each bounded by a
 * deadline of its own, never retried after it may have been delivered, and a co-signer that gives
 * no answer in time or cannot be reached reported as PeerUnresponsive, which signing answers by
 * failing over to another signer set (signing-service.ts, peer-health.ts).
 */
import { protocols } from '../../cggmp/index.ts';

export interface PeerRequester {
  request(
    endpoint: string,
    path: string,
    body: unknown,
    opts?: { timeoutMs?: number; method?: string; retries?: number; retryUntil?: number; signal?: AbortSignal },
  ): Promise<{ status: number; body: unknown; attempts?: number }>;
}

/** A peer answered with an error (its code and message are passed on, nothing else). */
export class PeerCallError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown>;
  /** How many times the request was sent (transport client.ts): above 1, the refusal may answer a repeat. */
  readonly attempts: number;
  override readonly name = 'PeerCallError';
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}, attempts = 1) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.attempts = attempts;
  }
}

export async function callPeer<T>(
  client: PeerRequester,
  endpoint: string,
  path: string,
  body: unknown,
  opts: { timeoutMs?: number; method?: string; retries?: number; retryUntil?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const res = await client.request(endpoint, path, body, opts);
  if (res.status >= 200 && res.status < 300) return res.body as T;
  const err = (res.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof err?.code === 'string' ? err.code : `E_HTTP_${res.status}`;
  const details = Object.fromEntries(Object.entries((err ?? {}) as Record<string, unknown>).filter(([k]) => k !== 'code' && k !== 'message'));
  // The peer's own code is kept; its words and this node's view of the network (endpoints,
  // paths) are not passed on, since the error may reach an API client.
  throw new PeerCallError(res.status, code, `a peer answered ${res.status} ${code}`, details, res.attempts ?? 1);
}

/**
 * Why a co-signer gave nothing usable: `timeout` — it took the call (or held its connection) and
 * did not answer within the deadline, or its rounds' messages stopped coming; `unreachable` — the
 * connection was refused, reset, dropped or failed its TLS handshake.
 */
export type NoAnswer = 'timeout' | 'unreachable';
export const NO_ANSWER_REASONS: readonly NoAnswer[] = ['timeout', 'unreachable'];

/** A co-signer did not answer a call in time or could not be reached: the attempt can fail over. */
export class PeerUnresponsive extends Error {
  readonly code: 'E_PEER_TIMEOUT' | 'E_PEER_UNREACHABLE';
  readonly party: number;
  readonly identityKey: string;
  readonly reason: NoAnswer;
  override readonly name = 'PeerUnresponsive';
  constructor(party: { readonly index: number; readonly identityKey: string }, reason: NoAnswer, what: string, opts: { cause?: unknown } = {}) {
    // Party numbers and the call's name only: no endpoint, since this may reach an API client.
    super(reason === 'timeout' ? `party ${party.index} did not answer ${what} in time` : `party ${party.index} could not be reached for ${what}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = reason === 'timeout' ? 'E_PEER_TIMEOUT' : 'E_PEER_UNREACHABLE';
    this.party = party.index;
    this.identityKey = party.identityKey;
    this.reason = reason;
  }
}

const codeOf = (e: unknown): unknown => (e as { code?: unknown } | null)?.code;

/**
 * Whether a failed call got no answer at all, and why; undefined when the peer did answer (with
 * an error) or the call was cancelled here. Reads the peer transport's errors (client.ts): its
 * E_PEER_UNREACHABLE keeps the socket-level cause, where E_ATTEMPT_TIMEOUT is its own deadline.
 */
export function noAnswer(e: unknown): NoAnswer | undefined {
  const code = codeOf(e);
  if (code === 'E_PEER_TLS') return 'unreachable';
  if (code !== 'E_PEER_UNREACHABLE') return undefined;
  return codeOf((e as { cause?: unknown }).cause) === 'E_ATTEMPT_TIMEOUT' ? 'timeout' : 'unreachable';
}

/**
 * The parties a local round ended without, when it ended for want of their messages: a
 * RoundTimeout's, or those of the `timeout` abort a protocol session turns it into
 * (cggmp/protocols/session.ts). Undefined for any other end, an abort with a verdict above all.
 */
export function roundMissing(e: unknown): readonly number[] | undefined {
  if (e instanceof protocols.RoundTimeout) return e.missing;
  if (e instanceof protocols.ProtocolAbort && e.reason === 'timeout') {
    const detail = e.evidence?.detail;
    return Array.isArray(detail) ? detail.filter((p): p is number => typeof p === 'number') : [];
  }
  return undefined;
}

/**
 * A local round that ended waiting for co-signers while every call to them was answered: the
 * first co-signer it waited for stopped answering. Reported to `health` as a timeout and returned
 * as PeerUnresponsive (for the failover); undefined when the round ended any other way.
 */
export function silentCoSigner(e: unknown, others: readonly CoSigner[], health: NoAnswerSink, during: string): PeerUnresponsive | undefined {
  const missing = roundMissing(e);
  const peer = others.find((p) => missing?.includes(p.index));
  if (!peer) return undefined;
  health.failed(peer, 'timeout');
  return new PeerUnresponsive(peer, 'timeout', during, { cause: e });
}

/** This node's own verdict on a session: an abort for a reason other than waiting too long. */
export function isVerdict(e: unknown): e is protocols.ProtocolAbort {
  return e instanceof protocols.ProtocolAbort && e.reason !== 'timeout';
}

/**
 * A co-signer that aborted a presign or sign session has announced it over the session, and this
 * node's own round reaches its own verdict (or adopts the announcement) from the same messages:
 * it gets this long before the session is closed under it, so that the verdict is this node's and
 * is counted against the signer set (signer-sets.ts) rather than lost as a timeout.
 */
export const PEER_ABORT_GRACE_MS = 5_000;

/** A co-signer as the assembling node addresses it. */
export interface CoSigner {
  readonly index: number;
  /** Its pinned identity key (hex): what the node's view of its health is keyed by. */
  readonly identityKey: string;
  readonly endpoint: string;
}

/** Where the assembling node records a co-signer that gave no answer (peer-health.ts). */
export interface NoAnswerSink {
  failed(peer: { readonly index: number; readonly identityKey: string }, reason: NoAnswer): void;
}

/**
 * One call to a co-signer within `deadlineMs`, as one attempt: a call that may have reached the
 * peer is never sent again (a presignature is consumed on arrival; a retry could only fail or
 * repeat work), and a refused connection is a verdict, not something to wait out, since another
 * signer set can sign now. Only a request that provably never left (a kept-alive connection the
 * peer had closed as idle) is sent again, within the same deadline. No answer → the sink hears of
 * it and PeerUnresponsive is thrown; an error answer → PeerCallError as from callPeer.
 */
/**
 * Refusals that say "already done": to a call the transport sent again after a connection reset
 * (attempts > 1), they answer the repeat, and the first send arrived and was acted on (a nonce
 * consumed by a presign start, a presignature by a sign round) with its answer lost. The call got
 * no usable answer, as for the reset itself: retryable, and the request fails over. Seen in the
 * soak: a presign start answered 409 E_REPLAY, which reached the API client as final.
 */
const CONSUMED = new Set(['E_REPLAY', 'E_PRESIGNATURE_UNAVAILABLE']);

function lostAnswer(e: unknown): NoAnswer | undefined {
  return e instanceof PeerCallError && e.attempts > 1 && CONSUMED.has(e.code) ? 'unreachable' : undefined;
}

export async function callCoSigner<T>(
  client: PeerRequester,
  sink: NoAnswerSink,
  peer: CoSigner,
  path: string,
  body: unknown,
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await callPeer<T>(client, peer.endpoint, path, body, { timeoutMs: deadlineMs, retryUntil: Date.now() + deadlineMs, retries: 0, ...(signal ? { signal } : {}) });
  } catch (e) {
    const reason = signal?.aborted ? undefined : (noAnswer(e) ?? lostAnswer(e));
    if (reason === undefined) throw e;
    sink.failed(peer, reason);
    throw new PeerUnresponsive(peer, reason, path.slice(path.lastIndexOf('/control/') + '/control/'.length) || path, { cause: e });
  }
}
