/**
 * Who a request comes from, as a stable string that refusals are counted under (audit
 * refusals.ts): on the peer listener the caller's HSM identity key, proven by its TLS binding
 * (a certificate alone never gets as far as a refusal that is counted), on the signing API the
 * configured client name the authentication matched.
 */
import type { TLSSocket } from 'node:tls';
import type { Request, Response } from 'express';
import { peerBindingOf } from './peer-caller.ts';

/** A peer caller proven by its TLS binding: `peer:<identity key hex>` (http/peer-caller.ts). */
export function peerIdentityCaller(identityKey: string): string {
  return `peer:${identityKey}`;
}

/** The authenticated API client: `api-client:<configured name>` (set by authenticate in api.ts). */
export function apiCaller(res: Response): string {
  const name: unknown = res.locals.client;
  return `api-client:${typeof name === 'string' ? name : 'unknown'}`;
}

/**
 * Whoever calls the peer listener, for the refusal throttle (http/refusal-throttle.ts): the
 * proven identity key when the binding verifies, else the client certificate's SHA-256
 * fingerprint (`certificate:<hex>`), so a certificate holder that proves no identity is
 * throttled too.
 */
export function peerListenerCaller(req: Request): string {
  const binding = peerBindingOf(req);
  if (binding.ok) return peerIdentityCaller(binding.identityKey);
  const socket = req.socket as Partial<TLSSocket>;
  const fp = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false)?.fingerprint256 : undefined;
  return `certificate:${typeof fp === 'string' ? fp.replaceAll(':', '').toLowerCase() : 'none'}`;
}
