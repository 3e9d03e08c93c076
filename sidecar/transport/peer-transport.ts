/**
 * The party node's peer transport (DESIGN §4 "Peer transport"): sessions between nodes over
 * HTTPS with mutual TLS. `router` is mounted by the node on its peer listener (at
 * DEFAULT_BASE_PATH, served with `peerServerOptions`); `openSession` runs the per-session key
 * exchange and returns the session's Channel; `request` is the same mTLS client for the node's
 * own control calls.
 *
 * Every received body is answered either 200 or `{ error: { code, message } }` with the status
 * of its TransportError, in this order of checks: body size (413 E_BODY_TOO_LARGE), TLS client
 * authorised by the CA (403 E_UNKNOWN_SENDER), shape (400 E_MALFORMED), open session
 * (409 E_UNKNOWN_SESSION), then the session's own checks (session-channel.ts).
 */
import type { TLSSocket } from 'node:tls';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { PartyIndex, Signer } from '../../cggmp/protocols/index.ts';
import type { PeerTls } from './certificates.ts';
import { createPeerClient, type PeerClient } from './client.ts';
import { errorBody, TransportError } from './errors.ts';
import { createOutbox, type Outbox } from './outbox.ts';
import { createPeerSession, silentLogger, type PeerSession, type SessionChannel, type TransportLogger } from './session-channel.ts';
import { decodeWire, MAX_PARTY_INDEX, SID_MAX_BYTES, SID_MIN_BYTES, sidHexOf, WIRE_KINDS, type WireKind } from './wire.ts';

/** Where nodes mount the router on their peer listener. */
export const DEFAULT_BASE_PATH = '/v1/peer/transport';
/** Default request body limit: the largest protocol message (aux-info proofs) fits comfortably. */
export const DEFAULT_MAX_BODY_BYTES = 4 << 20;
/** Compressed P-256 identity key. */
const IDENTITY_KEY_BYTES = 33;
/** Longest accepted round timeout: a day. */
const MAX_TIMEOUT_MS = 86_400_000;
/** Session ids remembered after close, so a closed session cannot be opened (and replayed into) again. */
const CLOSED_SIDS_REMEMBERED = 4096;
/** How long a closed session keeps delivering what it had already queued. */
const MAX_LINGER_MS = 30_000;

export interface SessionParty {
  readonly index: PartyIndex;
  /** 33-byte compressed P-256 identity key pinned for the party. */
  readonly identityKey: Uint8Array;
  /** Base URL of its peer listener, e.g. https://127.0.0.1:7443. */
  readonly endpoint: string;
}

export interface SessionSpec {
  readonly sid: Uint8Array;
  /** This node's party number in the session; defaults to the transport's `self`. */
  readonly self?: PartyIndex;
  /** Every participant, this node included. */
  readonly parties: readonly SessionParty[];
  readonly roundTimeoutMs: number;
  /** Time allowed for the key exchange (every peer must open the session by then); default roundTimeoutMs. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Closes the session when aborted during the key exchange (which then fails with
   * E_SESSION_CLOSED instead of waiting for its timeout). Afterwards the caller closes the channel
   * itself (sidecar/node/session-runner.ts does, on the same signal).
   */
  readonly signal?: AbortSignal;
}

export interface PeerTransportOptions {
  /** This node's party number, unless each session names it. */
  readonly self?: PartyIndex;
  /** The node's identity (the HSM key in production). */
  readonly signer: Signer;
  readonly tls: PeerTls;
  readonly maxBodyBytes?: number;
  readonly logger?: TransportLogger;
  /** Sees every body this transport sends ('out') or receives ('in'), as the bytes on the wire. */
  readonly onWire?: (direction: 'out' | 'in', body: Uint8Array) => void;
  /** Where peers mount their router (default DEFAULT_BASE_PATH). */
  readonly basePath?: string;
  /** The mTLS client to send with (default: a new one from `tls`, closed by `close`). */
  readonly client?: PeerClient;
}

export interface PeerTransport {
  /** Mount at the base path on the peer listener (an HTTPS server with peerServerOptions). */
  readonly router: Router;
  /** Runs the session's key exchange with every peer; resolves with its Channel. */
  openSession(spec: SessionSpec): Promise<SessionChannel>;
  /** The mutual-TLS client (see client.ts). */
  readonly request: PeerClient['request'];
  /** Closes every session and the client's connections. */
  close(): void;
}

interface OpenSession {
  readonly session: PeerSession;
  readonly abort: AbortController;
}

function specError(message: string): TransportError {
  return new TransportError('E_SESSION_SPEC', message);
}

function validTimeout(ms: number, name: string): number {
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_TIMEOUT_MS) throw specError(`${name} must be an integer in 1..${MAX_TIMEOUT_MS}`);
  return ms;
}

function validateSpec(spec: SessionSpec, defaultSelf: PartyIndex | undefined, signer: Signer): { self: PartyIndex; handshakeTimeoutMs: number } {
  if (!(spec.sid instanceof Uint8Array) || spec.sid.length < SID_MIN_BYTES || spec.sid.length > SID_MAX_BYTES) {
    throw specError(`sid must be ${SID_MIN_BYTES}..${SID_MAX_BYTES} bytes`);
  }
  const self = spec.self ?? defaultSelf;
  if (self === undefined) throw specError('no party number for this node: set `self` on the transport or the session');
  if (spec.parties.length < 2) throw specError('a session needs at least two parties');
  const seen = new Set<PartyIndex>();
  for (const p of spec.parties) {
    if (!Number.isInteger(p.index) || p.index < 1 || p.index > MAX_PARTY_INDEX) throw specError(`party index must be an integer in 1..${MAX_PARTY_INDEX}`);
    if (seen.has(p.index)) throw specError(`party ${p.index} is listed twice`);
    seen.add(p.index);
    if (!(p.identityKey instanceof Uint8Array) || p.identityKey.length !== IDENTITY_KEY_BYTES) throw specError(`party ${p.index}: identityKey must be ${IDENTITY_KEY_BYTES} bytes`);
    if (p.index !== self) {
      let url: URL;
      try {
        url = new URL(p.endpoint);
      } catch {
        throw specError(`party ${p.index}: endpoint is not a URL`);
      }
      if (url.protocol !== 'https:') throw specError(`party ${p.index}: endpoint must be https`);
    }
  }
  const own = spec.parties.find((p) => p.index === self);
  if (!own) throw specError(`party ${self} (this node) is not a participant`);
  if (Buffer.compare(own.identityKey, signer.publicKey) !== 0) throw specError(`the identity key pinned for party ${self} is not this node's`);
  validTimeout(spec.roundTimeoutMs, 'roundTimeoutMs');
  return { self, handshakeTimeoutMs: validTimeout(spec.handshakeTimeoutMs ?? spec.roundTimeoutMs, 'handshakeTimeoutMs') };
}

function answer(res: Response, e: TransportError): void {
  res.status(e.status).json(errorBody(e));
}

export function createPeerTransport(opts: PeerTransportOptions): PeerTransport {
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1024) throw new TransportError('E_INVALID_ARGUMENT', 'maxBodyBytes must be an integer ≥ 1024');
  const logger = opts.logger ?? silentLogger;
  const basePath = (opts.basePath ?? DEFAULT_BASE_PATH).replace(/\/$/, '');
  const ownsClient = opts.client === undefined;
  const client = opts.client ?? createPeerClient(opts.tls);
  const sessions = new Map<string, OpenSession>();
  const closedSids = new Set<string>();
  const lingering = new Set<AbortController>();

  function forget(sidHex: string): void {
    sessions.delete(sidHex);
    closedSids.add(sidHex);
    if (closedSids.size > CLOSED_SIDS_REMEMBERED) closedSids.delete(closedSids.values().next().value as string);
  }

  async function openSession(spec: SessionSpec): Promise<SessionChannel> {
    const { self, handshakeTimeoutMs } = validateSpec(spec, opts.self, opts.signer);
    const sidHex = sidHexOf(spec.sid);
    if (sessions.has(sidHex) || closedSids.has(sidHex)) throw new TransportError('E_SESSION_EXISTS', 'a session with this id is or was open on this node');
    if (spec.signal?.aborted) throw new TransportError('E_SESSION_CLOSED', 'cancelled before the session opened');
    const abort = new AbortController();
    const log = { party: self, sid: sidHex };
    const outboxes = new Map<PartyIndex, Outbox>();
    for (const p of spec.parties) {
      if (p.index === self) continue;
      outboxes.set(p.index, createOutbox({ client, endpoint: p.endpoint, basePath, peer: p.index, signal: abort.signal, logger, log, onWire: opts.onWire }));
    }
    const session = createPeerSession(
      {
        sid: new Uint8Array(spec.sid),
        self,
        parties: spec.parties.map((p) => ({ index: p.index, identityKey: new Uint8Array(p.identityKey) })),
        roundTimeoutMs: spec.roundTimeoutMs,
        handshakeTimeoutMs,
      },
      {
        signer: opts.signer,
        logger,
        deliver: (peer, kind, body, deadline, barrier) => outboxes.get(peer)?.enqueue(kind, body, deadline, barrier),
        onClose: () => {
          forget(sidHex);
          // Messages already queued (the last round's, an abort announcement) are still owed to
          // the peers, which may be waiting for them: deliver them, then stop (bounded).
          lingering.add(abort);
          const stop = (): void => {
            clearTimeout(linger);
            lingering.delete(abort);
            abort.abort();
          };
          const linger = setTimeout(stop, Math.min(spec.roundTimeoutMs, MAX_LINGER_MS));
          void Promise.all([...outboxes.values()].map((o) => o.idle())).then(stop);
        },
      },
    );
    const cancel = (): void => session.close();
    spec.signal?.addEventListener('abort', cancel, { once: true });
    sessions.set(sidHex, { session, abort });
    try {
      return await session.handshake();
    } finally {
      spec.signal?.removeEventListener('abort', cancel);
    }
  }

  const router = express.Router();

  // Only a client certificate the CA issued gets this far on a listener with peerServerOptions;
  // checked again here so the router refuses to serve on a listener configured otherwise.
  router.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.socket as Partial<TLSSocket>).authorized !== true) return answer(res, new TransportError('E_UNKNOWN_SENDER', 'no client certificate from the peer CA'));
    next();
  });

  router.post(
    '/:kind',
    express.raw({ type: () => true, limit: maxBodyBytes, inflate: false }),
    async (req: Request, res: Response) => {
      const kind = req.params['kind'] as WireKind;
      if (!WIRE_KINDS.includes(kind)) return answer(res, new TransportError('E_MALFORMED', 'unknown message kind'));
      const body: Uint8Array = Buffer.isBuffer(req.body) ? req.body : new Uint8Array(0);
      opts.onWire?.('in', body);
      try {
        const message = decodeWire(kind, body);
        const open = sessions.get(sidHexOf(message.message.sid));
        if (!open) throw new TransportError('E_UNKNOWN_SESSION', 'no open session with this id');
        await open.session.receive(message);
        res.status(200).json({ ok: true });
      } catch (e) {
        if (e instanceof TransportError) {
          logger.debug({ kind, code: e.code }, 'refused a peer message');
          return answer(res, e);
        }
        logger.warn({ kind, error: e instanceof Error ? e.name : 'unknown' }, 'peer message handling failed');
        answer(res, new TransportError('E_INTERNAL', 'internal error'));
      }
    },
  );

  // Body-parser failures: the size limit, and bodies that could not be read.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const type = (err as { type?: unknown } | null)?.type;
    if (type === 'entity.too.large') return answer(res, new TransportError('E_BODY_TOO_LARGE', `body larger than ${maxBodyBytes} bytes`));
    answer(res, new TransportError('E_MALFORMED', 'body could not be read'));
  });

  return {
    router,
    openSession,
    request: (endpoint, path, body, requestOpts) => client.request(endpoint, path, body, requestOpts),
    close() {
      for (const { session } of [...sessions.values()]) session.close();
      for (const a of [...lingering]) a.abort();
      if (ownsClient) client.close();
    },
  };
}
