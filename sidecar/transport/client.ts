/**
 * The mutual-TLS HTTPS client of the peer transport (DESIGN §4 "Peer transport"): JSON requests
 * to other nodes' peer listeners with this node's certificate, trusting only the configured CA,
 * over kept-alive connections. Each attempt has a timeout; connection failures and answers that
 * say "not yet" (409 E_UNKNOWN_SESSION: the peer has not opened the session yet; 429; 502–504)
 * are retried with jittered exponential backoff, a bounded number of times or until a deadline.
 * The node's control plane uses the same client for its own calls. With `binding` (this node's
 * signed TLS binding, peer-binding.ts) every request carries it, so the receiver knows which
 * party's identity key stands behind this connection's certificate.
 */
import { randomInt } from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { PeerTls } from './certificates.ts';
import { TransportError } from './errors.ts';
import { PEER_BINDING_HEADER } from './peer-binding.ts';

export interface PeerResponse {
  readonly status: number;
  /** Parsed JSON when the answer was JSON, its text otherwise, undefined when empty. */
  readonly body: unknown;
  /**
   * How many times the request was sent, the resend on a new connection after a kept-alive one
   * failed included: above 1, an earlier send may have been delivered and acted on.
   */
  readonly attempts: number;
}

export interface RequestOptions {
  /** Per-attempt timeout. */
  readonly timeoutMs?: number;
  readonly method?: string;
  /** Further attempts after the first one. */
  readonly retries?: number;
  /** Epoch milliseconds after which no further attempt starts. */
  readonly retryUntil?: number;
  /** Aborts waiting between attempts and the attempt in flight. */
  readonly signal?: AbortSignal;
}

export interface PeerClient {
  /**
   * Sends `body` (a Uint8Array is sent as is and must be JSON; anything else is JSON-encoded;
   * undefined sends no body) to `endpoint` + `path` and returns the final answer, after retries.
   * Throws E_PEER_TLS when the TLS handshake fails, E_PEER_UNREACHABLE when no answer came.
   */
  request(endpoint: string, path: string, body: unknown, opts?: RequestOptions): Promise<PeerResponse>;
  /** Closes kept-alive connections. */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRIES = 3;
/** Backoff before attempt k+1: uniform in [d/2, d] with d = min(BASE · 2^(k−1), CAP). */
const BACKOFF_BASE_MS = 25;
const BACKOFF_CAP_MS = 1_000;
/** Answers are small JSON documents; a larger one is refused rather than buffered. */
const MAX_RESPONSE_BYTES = 1 << 20;
/** Kept-alive connections per peer: one delivery queue per session and peer, several sessions. */
const MAX_SOCKETS_PER_PEER = 32;
/**
 * TCP keep-alive on the connection of every request in flight: first probe after this much
 * silence, then one per interval, and the connection is reset after PROBES unanswered ones. A
 * peer whose process dies has its kernel reset the connection at once; a peer whose host or
 * network vanishes (power, partition) sends nothing, and a request held open meanwhile (presign
 * start lasts the whole presignature) would learn of it only at its deadline. With these values a
 * vanished peer is noticed about 1 + 5 × 1 = 6 s after the last byte it acknowledged; Linux's
 * defaults (75 s between 9 probes once Node's agent starts them) would take over 11 minutes.
 * Probes are 1-byte segments, only on connections that are otherwise quiet.
 */
const KEEPALIVE_IDLE_MS = 1_000;
const KEEPALIVE_INTERVAL_MS = 1_000;
const KEEPALIVE_PROBES = 5;
/** Socket-level error codes that say "try again later" rather than "this will never work". */
const RETRYABLE_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'E_ATTEMPT_TIMEOUT', 'E_STALE_SOCKET']);
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
/**
 * A kept-alive connection the server closed as idle while this request was being sent fails with
 * one of these before any answer, and is sent again on a new connection whatever the retry
 * budget (Node's documented race for reused sockets). A reset of a connection that carried the
 * request and lost the answer looks the same, so the resend counts as an attempt: every peer
 * endpoint refuses a repeat of what it already did (E_REPLAY, a consumed presignature), and
 * `attempts` > 1 tells the caller that such a refusal may be its own first send.
 */
const STALE_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE']);

class AttemptTimeout extends Error {
  readonly code = 'E_ATTEMPT_TIMEOUT';
}

/** An attempt on a reused connection that the server had already closed. */
class StaleSocket extends Error {
  readonly code = 'E_STALE_SOCKET';
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** TLS failures (untrusted certificate, name mismatch, alert from the peer) do not heal by retrying. */
function isTlsError(code: string): boolean {
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.includes('CERT') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
}

function retryableAnswer(status: number, body: unknown): boolean {
  if (RETRYABLE_STATUS.has(status)) return true;
  return status === 409 && (body as { error?: { code?: unknown } } | undefined)?.error?.code === 'E_UNKNOWN_SESSION';
}

function backoffMs(attempt: number): number {
  const d = Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_CAP_MS);
  return Math.floor(d / 2) + randomInt(Math.ceil(d / 2) + 1);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TransportError('E_SESSION_CLOSED', 'request cancelled'));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new TransportError('E_SESSION_CLOSED', 'request cancelled'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function targetUrl(endpoint: string, path: string): URL {
  let base: URL;
  try {
    base = new URL(endpoint);
  } catch {
    throw new TransportError('E_INVALID_ARGUMENT', 'endpoint is not a URL');
  }
  if (base.protocol !== 'https:') throw new TransportError('E_INVALID_ARGUMENT', 'endpoint must be https');
  if (!path.startsWith('/')) throw new TransportError('E_INVALID_ARGUMENT', 'path must start with "/"');
  return new URL(base.pathname.replace(/\/$/, '') + path, base.origin);
}

function readAnswer(res: IncomingMessage): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) {
        res.destroy();
        reject(new TransportError('E_MALFORMED', `answer larger than ${MAX_RESPONSE_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text.length === 0 ? undefined : text;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
      }
      resolve({ status: res.statusCode ?? 0, body });
    });
  });
}

export interface PeerClientOptions {
  /** This node's binding header value (createPeerBinding), sent with every request. */
  readonly binding?: string;
}

export function createPeerClient(tls: PeerTls, clientOpts: PeerClientOptions = {}): PeerClient {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: MAX_SOCKETS_PER_PEER,
    key: tls.keyPem,
    cert: tls.certPem,
    ca: tls.caPem,
    minVersion: 'TLSv1.3',
  });

  function attempt(url: URL, method: string, payload: Buffer | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (clientOpts.binding !== undefined) headers[PEER_BINDING_HEADER] = clientOpts.binding;
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      let answered = false;
      const req = httpsRequest(url, { method, agent, headers, ...(signal ? { signal } : {}) }, (res) => {
        answered = true;
        readAnswer(res).then(resolve, reject);
      });
      // Set again for every request: the agent resets keep-alive to its own defaults whenever a
      // connection goes back to its pool.
      req.on('socket', (socket) => socket.setKeepAlive(true, KEEPALIVE_IDLE_MS, KEEPALIVE_INTERVAL_MS, KEEPALIVE_PROBES));
      const timer = setTimeout(() => req.destroy(new AttemptTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', (e) => {
        clearTimeout(timer);
        const stale = req.reusedSocket && !answered && STALE_SOCKET_ERRORS.has(errorCode(e));
        reject(stale ? new StaleSocket(`${errorCode(e)} on a kept-alive connection`, { cause: e }) : e);
      });
      req.end(payload);
    });
  }

  async function request(endpoint: string, path: string, body: unknown, opts: RequestOptions = {}): Promise<PeerResponse> {
    const url = targetUrl(endpoint, path);
    const method = opts.method ?? (body === undefined ? 'GET' : 'POST');
    const payload = body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : Buffer.from(JSON.stringify(body), 'utf8');
    const retries = opts.retries ?? DEFAULT_RETRIES;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const where = `${method} ${url.origin}${url.pathname}`;
    let staleRetried = false;
    let sent = 0;
    for (let n = 1; ; n++) {
      if (opts.signal?.aborted) throw new TransportError('E_SESSION_CLOSED', `${where}: cancelled`);
      const remaining = opts.retryUntil === undefined ? timeoutMs : Math.max(1, Math.min(timeoutMs, opts.retryUntil - Date.now()));
      const delay = backoffMs(n);
      const lastAttempt = n > retries || (opts.retryUntil !== undefined && Date.now() + delay >= opts.retryUntil);
      try {
        sent++;
        const answer = await attempt(url, method, payload, remaining, opts.signal);
        if (lastAttempt || !retryableAnswer(answer.status, answer.body)) return { ...answer, attempts: sent };
      } catch (e) {
        if (opts.signal?.aborted) throw new TransportError('E_SESSION_CLOSED', `${where}: cancelled`);
        if (e instanceof TransportError) throw e;
        if (e instanceof StaleSocket && !staleRetried) {
          staleRetried = true; // once: a second one would be a real failure
          n--;
          continue;
        }
        const code = errorCode(e);
        if (isTlsError(code)) throw new TransportError('E_PEER_TLS', `${where}: TLS handshake failed (${code})`, { cause: e });
        if (!RETRYABLE_ERRORS.has(code) || lastAttempt) throw new TransportError('E_PEER_UNREACHABLE', `${where}: no answer after ${n} attempt(s) (${code})`, { cause: e });
      }
      await sleep(delay, opts.signal);
    }
  }

  return {
    request,
    close() {
      agent.destroy();
    },
  };
}
