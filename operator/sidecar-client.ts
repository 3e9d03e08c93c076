/**
 * The operator's calls to party nodes (DESIGN §5 "drives the sidecars over mTLS"): the peer
 * control endpoints, with a client certificate from the parties' CA. Every answer is parsed with
 * zod before use: a node is another trust domain, and a malformed answer must become a clear
 * condition, never a value copied into status. The operator carries plans and reads public facts;
 * it never sees shard material.
 */
import { Agent, request } from 'node:https';
import { z } from 'zod';
import { PlanSchema, type Approval, type Plan } from '../api/index.ts';

export interface PeerTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

const REQUEST_TIMEOUT_MS = 20_000;
const MAX_ANSWER_BYTES = 1 << 20;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const NodeStatusSchema = z.object({
  identityKey: z.string().regex(/^0[23][0-9a-f]{64}$/),
  approvers: hex64.nullable(),
  hsm: z.object({ state: z.enum(['Healthy', 'Unavailable']), message: z.string().max(256).optional() }),
  keys: z
    .array(z.object({ keyId: z.string().max(64), epoch: z.number().int().min(0), threshold: z.number().int().min(1), publicKey: z.string().regex(/^0[23][0-9a-f]{64}$/), index: z.number().int().min(1).optional() }))
    .max(10_000),
});
export type NodeStatus = z.infer<typeof NodeStatusSchema>;

const ErrorInfoSchema = z.object({ code: z.string().max(64), message: z.string().max(4096), culprits: z.array(z.number().int().min(1).max(1024)).max(64).optional() }).loose();

export const CeremonyStatusSchema = z.object({
  planHash: hex64,
  keyId: z.string().max(64),
  protocol: z.string().max(16),
  phase: z.enum(['preparing', 'running', 'committing', 'verifying', 'retiring', 'done', 'aborted']),
  step: z.enum(['keygen', 'refresh', 'reshare', 'aux-info']).optional(),
  result: z.object({ publicKey: z.string().regex(/^0[23][0-9a-f]{64}$/), xpub: z.string().max(200), epoch: z.number().int().min(0) }).optional(),
  error: ErrorInfoSchema.optional(),
  timingsMs: z.record(z.string().max(32), z.number().min(0)).default({}),
  notRetired: z.array(z.number().int().min(1).max(1024)).max(64).optional(),
});
export type CeremonyStatus = z.infer<typeof CeremonyStatusSchema>;

/** A node answered with an error (status ≥ 400) or garbage; `code` is the node's error code when it gave one. */
export class SidecarError extends Error {
  override readonly name = 'SidecarError';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class SidecarClient {
  readonly #agent: Agent;

  constructor(tls: PeerTls) {
    this.#agent = new Agent({ ca: tls.caPem, cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.3', keepAlive: true, maxSockets: 8 });
  }

  close(): void {
    this.#agent.destroy();
  }

  async status(endpoint: string): Promise<NodeStatus> {
    return parseAnswer(NodeStatusSchema, await this.#call(endpoint, 'GET', '/v1/peer/control/status'), 'node status');
  }

  /** Hands a plan to `endpoint` to coordinate; the node checks plan and approvals itself. Idempotent. */
  async startCeremony(endpoint: string, plan: Plan, approvals: readonly Approval[]): Promise<CeremonyStatus> {
    PlanSchema.parse(plan);
    return parseAnswer(CeremonyStatusSchema, await this.#call(endpoint, 'POST', '/v1/peer/control/ceremonies', { plan, approvals }), 'ceremony status');
  }

  /** The coordinator's view of a plan; undefined when it does not know it (e.g. it restarted before recording it). */
  async ceremony(endpoint: string, planHash: string): Promise<CeremonyStatus | undefined> {
    try {
      return parseAnswer(CeremonyStatusSchema, await this.#call(endpoint, 'GET', `/v1/peer/control/ceremonies/${hex64.parse(planHash)}`), 'ceremony status');
    } catch (e) {
      if (e instanceof SidecarError && e.status === 404) return undefined;
      throw e;
    }
  }

  #call(endpoint: string, method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, endpoint);
    if (url.protocol !== 'https:') return Promise.reject(new SidecarError(0, 'E_ENDPOINT', `endpoint ${endpoint} is not https`));
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.#agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) return void req.destroy(new SidecarError(0, 'E_ANSWER_TOO_LARGE', `${url.host} answered more than ${MAX_ANSWER_BYTES} bytes`));
            chunks.push(c);
          });
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              return reject(new SidecarError(res.statusCode ?? 0, 'E_MALFORMED_ANSWER', `${url.host} ${method} ${url.pathname}: answer is not JSON`));
            }
            const status = res.statusCode ?? 0;
            if (status >= 400) {
              const err = (parsed as { error?: { code?: unknown; message?: unknown } }).error;
              const code = typeof err?.code === 'string' ? err.code.slice(0, 64) : 'E_HTTP';
              const message = typeof err?.message === 'string' ? err.message.slice(0, 1024) : `HTTP ${status}`;
              return reject(new SidecarError(status, code, `${url.host} ${method} ${url.pathname}: ${code}: ${message}`));
            }
            resolve(parsed);
          });
        },
      );
      req.on('timeout', () => req.destroy(new SidecarError(0, 'E_TIMEOUT', `${url.host} ${method} ${url.pathname}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', (e) => reject(e instanceof SidecarError ? e : new SidecarError(0, 'E_UNREACHABLE', `${url.host} ${method} ${url.pathname}: ${(e as Error).message}`)));
      if (payload) req.write(payload);
      req.end();
    });
  }
}

function parseAnswer<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new SidecarError(0, 'E_MALFORMED_ANSWER', `${what}: ${i.path.join('.') || 'body'}: ${i.message}`);
  }
  return r.data;
}
