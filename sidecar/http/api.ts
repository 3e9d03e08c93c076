/**
 * The signing API (DESIGN §4 "Signing API"): deny by default — a request needs a bearer token
 * whose SHA-256 is configured, or a client certificate from the node's CA whose subject CN is
 * configured. Handlers validate with zod and delegate to the signing service.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import express, { type RequestHandler, type Router } from 'express';
import { KeyIdSchema } from '../../api/index.ts';
import { SignatureRequestSchema } from '../../api/signing.ts';
import type { KeyState, KeyStateStore } from '../node/key-state.ts';
import type { SigningService } from '../node/signing-service.ts';
import { EPOCH_TEST_PATH, EPOCH_TEST_PREFIX } from '../node/statements.ts';
import { hd } from '../../cggmp/index.ts';

/** True when `path` is the epoch test path in any spelling. */
function isReservedPath(path: string): boolean {
  try {
    return hd.formatPath(hd.parsePath(path)) === EPOCH_TEST_PATH;
  } catch {
    return false; // malformed: refused later with its own message
  }
}
import { apiCaller } from './caller.ts';
import type { RefusalThrottle } from './refusal-throttle.ts';
import { handle, HttpError } from './errors.ts';

export interface ApiClients {
  readonly tokens: readonly { readonly name: string; readonly tokenSha256: string }[];
  readonly certificateNames: readonly string[];
}

/** Authenticates the caller; sets res.locals.client to its configured name. */
export function authenticate(clients: ApiClients, denied: () => void): RequestHandler {
  const hashes = clients.tokens.map((c) => ({ name: c.name, hash: Buffer.from(c.tokenSha256, 'hex') }));
  return (req, res, next) => {
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Bearer ')) {
      const presented = createHash('sha256').update(auth.slice('Bearer '.length)).digest();
      // Compare against every entry so the time taken does not say which one matched.
      let name: string | undefined;
      for (const c of hashes) if (timingSafeEqual(presented, c.hash) && name === undefined) name = c.name;
      if (name !== undefined) {
        res.locals.client = name;
        return next();
      }
    }
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      const cn = socket.getPeerCertificate()?.subject?.CN;
      const name = Array.isArray(cn) ? undefined : cn;
      if (name !== undefined && clients.certificateNames.includes(name)) {
        res.locals.client = name;
        return next();
      }
    }
    denied();
    res.status(401).json({ error: { code: 'E_UNAUTHENTICATED', message: 'a configured bearer token or client certificate is required' } });
  };
}

export interface ApiDeps {
  readonly clients: ApiClients;
  readonly keys: KeyStateStore;
  readonly signing: SigningService;
  /** The presignatures of the signer set this node would sign a key with now, by path. */
  readonly readyPresignatures: (state: KeyState) => Record<string, number>;
  /** `live`: the process can serve (HSM answers); `ok`: every key it holds can sign now. */
  readonly health: () => Promise<{ ok: boolean; live: boolean; [k: string]: unknown }>;
  readonly clientDenied: () => void;
  /** Clients that keep being refused are answered 429 for a while (refusal-throttle.ts). */
  readonly throttle: Pick<RefusalThrottle, 'guard'>;
  /** A request answered 429 by the throttle. */
  readonly throttled: (caller: string) => void;
}

function keyIdOf(value: unknown): string {
  const r = KeyIdSchema.safeParse(value);
  if (!r.success) throw new HttpError(400, 'E_MALFORMED', 'key id is malformed');
  return r.data;
}

export function apiRouter(d: ApiDeps): Router {
  const r = express.Router();
  // Health carries no key material: liveness (the status), and per key whether it can sign, with
  // the code of what stops it (public facts an operator needs; no value of any share).
  r.get('/health', handle(async (_req, res) => {
    const h = await d.health();
    res.status(h.live ? 200 : 503).json(h);
  }));
  r.use(authenticate(d.clients, d.clientDenied));
  r.use(d.throttle.guard((_req, res) => apiCaller(res), d.throttled));
  r.get('/keys', handle(async (_req, res) => {
    res.json({ keys: (await d.keys.list()).filter((k) => k.current).map((k) => describeKey(k)) });
  }));
  r.get('/keys/:keyId', handle(async (req, res) => {
    const state = await d.keys.get(keyIdOf(req.params.keyId));
    if (!state?.current) throw new HttpError(404, 'E_UNKNOWN_KEY', 'no such key');
    // How many presignatures wait for a request through this node, by path: whether a path signs warm here.
    res.json({ ...describeKey(state), presignatures: d.readyPresignatures(state) });
  }));
  r.post('/keys/:keyId/signatures', handle(async (req, res) => {
    const keyId = keyIdOf(req.params.keyId);
    const parsed = SignatureRequestSchema.safeParse(req.body);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new HttpError(400, 'E_SIGNING_REQUEST_INVALID', `${i.path.join('.') || 'body'}: ${i.message}`);
    }
    // The epoch test signatures of rotations use their own request ids; clients cannot take them.
    if (parsed.data.requestId.startsWith(EPOCH_TEST_PREFIX)) throw new HttpError(400, 'E_SIGNING_REQUEST_INVALID', `requestId: the prefix ${EPOCH_TEST_PREFIX} is reserved`);
    if (parsed.data.derivationPath !== undefined && isReservedPath(parsed.data.derivationPath)) {
      throw new HttpError(400, 'E_SIGNING_REQUEST_INVALID', `derivationPath: ${EPOCH_TEST_PATH} is reserved for epoch test signatures`);
    }
    res.status(201).json(await d.signing.sign(keyId, parsed.data, apiCaller(res)));
  }));
  return r;
}

function describeKey(k: Awaited<ReturnType<KeyStateStore['get']>> & object) {
  const c = k.current!;
  return {
    keyId: k.keyId,
    publicKey: c.publicKey,
    xpub: c.xpub,
    epoch: c.epoch,
    threshold: c.threshold,
    parties: c.parties.map((p) => ({ index: p.index, identityKey: p.identityKey, endpoint: p.endpoint })),
    ...(k.pending ? { pendingEpoch: k.pending.epoch } : {}),
  };
}
