/**
 * Who a request comes from, as a stable string that refusals are counted under (audit
 * refusals.ts): on the peer listener the caller's HSM identity key, proven by its TLS binding
 * (a certificate alone never gets as far as a refusal that is counted), on the signing API the
 * configured client name the authentication matched.
 */
import type { Response } from 'express';

/** A peer caller proven by its TLS binding: `peer:<identity key hex>` (http/peer-caller.ts). */
export function peerIdentityCaller(identityKey: string): string {
  return `peer:${identityKey}`;
}

/** The authenticated API client: `api-client:<configured name>` (set by authenticate in api.ts). */
export function apiCaller(res: Response): string {
  const name: unknown = res.locals.client;
  return `api-client:${typeof name === 'string' ? name : 'unknown'}`;
}
