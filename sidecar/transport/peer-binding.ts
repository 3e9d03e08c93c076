/**
 * The binding of a node's TLS key to its HSM identity key (DESIGN §4 "Peer transport"): a
 * certificate from the peer CA says only "some node"; the identity key is what plans and key
 * states name. At start a node signs, with its identity key, the SHA-256 of its own TLS
 * certificate's SubjectPublicKeyInfo under a domain tag, and sends that signature with every
 * peer request (header PEER_BINDING_HEADER). A receiver checks it against the SPKI of the client
 * certificate presented on that very TLS connection, so a binding copied onto another
 * connection (another certificate) does not verify: whoever presents it must hold both the
 * identity key's signature and the TLS private key.
 *
 * A binding is a public statement (useless without the TLS private key), so it carries no
 * expiry of its own: the certificate's validity, checked by TLS, bounds it.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { verifyIdentitySignature, type Signer } from '../../cggmp/protocols/index.ts';
import { encode } from '../../cggmp/transcript/index.ts';

/** The request header carrying `<identityKey hex>.<signature hex>`. */
export const PEER_BINDING_HEADER = 'x-vilna-peer-binding';
/** Domain tag: no other identity-key signature can be taken for a binding, nor a binding for one. */
const BINDING_TAG = 'vilna-mpc/peer-tls-binding/v1';

/** Compressed P-256 identity key (66 hex) and the r‖s signature (128 hex). */
const BindingHeaderSchema = z.string().regex(/^0[23][0-9a-f]{64}\.[0-9a-f]{128}$/);

const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** SHA-256 of a certificate's DER SubjectPublicKeyInfo (what the binding names). */
export function spkiSha256(certificate: string | Uint8Array): Uint8Array {
  const cert = new X509Certificate(typeof certificate === 'string' ? certificate : Buffer.from(certificate));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return new Uint8Array(createHash('sha256').update(spki).digest());
}

/** The bytes the identity key signs. */
export function peerBindingBytes(identityKey: Uint8Array, spkiHash: Uint8Array): Uint8Array {
  return encode(BINDING_TAG, [identityKey, spkiHash]);
}

/** This node's binding header value for its own certificate (signed once, at start). */
export async function createPeerBinding(signer: Signer, certPem: string): Promise<string> {
  const signature = await signer.sign(peerBindingBytes(signer.publicKey, spkiSha256(certPem)));
  return `${hex(signer.publicKey)}.${hex(signature)}`;
}

/** Why a caller has no identity: it sent no binding, or one that does not verify for its certificate. */
export type BindingProblem = 'missing' | 'invalid';

export type BindingResult = { readonly ok: true; readonly identityKey: string } | { readonly ok: false; readonly problem: BindingProblem };

/**
 * Checks a received header value against the DER certificate the client presented on the TLS
 * connection. Returns the caller's identity key (hex) only when the signature verifies over
 * that certificate's SPKI.
 */
export function verifyPeerBinding(header: unknown, peerCertificateDer: Uint8Array | undefined): BindingResult {
  if (header === undefined) return { ok: false, problem: 'missing' };
  const parsed = BindingHeaderSchema.safeParse(header);
  if (!parsed.success || peerCertificateDer === undefined || peerCertificateDer.length === 0) return { ok: false, problem: 'invalid' };
  const [identityKey, signature] = parsed.data.split('.') as [string, string];
  let spki: Uint8Array;
  try {
    spki = spkiSha256(peerCertificateDer);
  } catch {
    return { ok: false, problem: 'invalid' };
  }
  const key = unhex(identityKey);
  return verifyIdentitySignature(key, peerBindingBytes(key, spki), unhex(signature)) ? { ok: true, identityKey } : { ok: false, problem: 'invalid' };
}
