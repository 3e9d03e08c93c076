/** Node-to-node control calls over the peer transport's mutual-TLS client. */

export interface PeerRequester {
  request(endpoint: string, path: string, body: unknown, opts?: { timeoutMs?: number; method?: string; retries?: number }): Promise<{ status: number; body: unknown }>;
}

/** A peer answered with an error (its code and message are passed on, nothing else). */
export class PeerCallError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown>;
  override readonly name = 'PeerCallError';
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export async function callPeer<T>(client: PeerRequester, endpoint: string, path: string, body: unknown, opts: { timeoutMs?: number; method?: string; retries?: number } = {}): Promise<T> {
  const res = await client.request(endpoint, path, body, opts);
  if (res.status >= 200 && res.status < 300) return res.body as T;
  const err = (res.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof err?.code === 'string' ? err.code : `E_HTTP_${res.status}`;
  const details = Object.fromEntries(Object.entries((err ?? {}) as Record<string, unknown>).filter(([k]) => k !== 'code' && k !== 'message'));
  // The peer's own code is kept; its words and this node's view of the network (endpoints,
  // paths) are not passed on, since the error may reach an API client.
  throw new PeerCallError(res.status, code, `a peer answered ${res.status} ${code}`, details);
}
