/**
 * The identity behind a peer control request: its TLS binding header checked against the client
 * certificate presented on the request's own TLS connection (sidecar/transport/peer-binding.ts).
 * A kept-alive connection carries many requests with the same certificate and, from an honest
 * node, the same header, so the outcome is remembered per connection and header value.
 */
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';
import { PEER_BINDING_HEADER, verifyPeerBinding, type BindingResult } from '../transport/index.ts';
import { PeerRefused } from '../node/peer-authorizer.ts';

const checked = new WeakMap<object, { readonly header: unknown; readonly result: BindingResult }>();

function presentedCertificate(socket: Partial<TLSSocket>): Uint8Array | undefined {
  // The peer listener requires a CA-issued client certificate; anything else has none to offer.
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const raw = socket.getPeerCertificate(false)?.raw;
  return raw instanceof Uint8Array && raw.length > 0 ? raw : undefined;
}

/** The caller's binding, verified against this connection's client certificate. */
export function peerBindingOf(req: Request): BindingResult {
  const header = req.headers[PEER_BINDING_HEADER];
  const socket = req.socket;
  const known = checked.get(socket);
  if (known && known.header === header) return known.result;
  const result = verifyPeerBinding(header, presentedCertificate(socket as Partial<TLSSocket>));
  checked.set(socket, { header, result });
  return result;
}

/** The caller's identity key (hex); throws PeerRefused when it proved none. */
export function peerIdentityOf(req: Request): string {
  const r = peerBindingOf(req);
  if (r.ok) return r.identityKey;
  throw r.problem === 'missing'
    ? new PeerRefused('binding_missing', 'this call is for parties only: no TLS binding was sent')
    : new PeerRefused('binding_invalid', 'the TLS binding does not verify for the certificate of this connection');
}
