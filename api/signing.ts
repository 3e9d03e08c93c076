/**
 * The signing API's contract (DESIGN §4 "Signing API"): request and response of
 * `POST /v1/keys/{keyId}/signatures`, and the read endpoints' answers. Shared by the sidecar,
 * the operator and the CLI; validation only.
 */
import { z } from 'zod';
import { SigningApprovalSchema } from './approval.ts';
import { UtcTimestampSchema } from './plan.ts';
import { DerivationPathSchema } from './policy.ts';

/** Largest message accepted for signing (bytes after decoding). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

export const RequestIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'requestId: 1..128 characters of [A-Za-z0-9._:-]');

/**
 * `hash: "none"` is the digest-only path (DESIGN §3): `message` is the 32-byte digest in hex, and
 * presigning starts after the request, bound to that digest. Only if the key's policy allows it.
 */
export const SignatureRequestSchema = z.strictObject({
  requestId: RequestIdSchema,
  message: z.string().max(MAX_MESSAGE_BYTES * 2),
  encoding: z.enum(['hex', 'base64', 'utf8']),
  hash: z.enum(['sha256', 'sha256d', 'keccak256', 'none']),
  derivationPath: DerivationPathSchema.optional(),
  /** Approver signatures over (key, path, digest, requestId, approvalsExpireAt) (api/approval.ts). */
  approvals: z.array(SigningApprovalSchema).max(32).optional(),
  approvalsExpireAt: UtcTimestampSchema.optional(),
}).refine((r) => r.hash !== 'none' || (r.encoding === 'hex' && /^[0-9a-f]{64}$/.test(r.message)), {
  message: 'with hash "none" the message is the 32-byte digest in lowercase hex (encoding "hex")',
  path: ['message'],
}).superRefine((r, ctx) => {
  // A message that does not decode (bad hex or base64, over the size once decoded) is the
  // caller's error: refused here, naming the field, never left to fail later as a 500.
  const problem = messageProblem(r.message, r.encoding);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['message'], message: problem });
});
export type SignatureRequest = z.infer<typeof SignatureRequestSchema>;

export const SignatureResponseSchema = z.strictObject({
  keyId: z.string(),
  requestId: z.string(),
  message: z.string(),
  hash: z.string(),
  digest: z.string(),
  r: z.string(),
  s: z.string(),
  recoveryId: z.number().int().min(0).max(3),
  v: z.number().int(),
  der: z.string(),
  publicKey: z.string(),
  derivationPath: z.string(),
  epoch: z.number().int(),
  signers: z.array(z.number().int()),
});
export type SignatureResponse = z.infer<typeof SignatureResponseSchema>;

/** A request whose message cannot be signed as given; `code` maps to 400. */
export class SigningRequestError extends Error {
  readonly code = 'E_SIGNING_REQUEST_INVALID';
  override readonly name = 'SigningRequestError';
}

/** Why `message` does not decode under `encoding`, or undefined when it does. */
function messageProblem(message: string, encoding: SignatureRequest['encoding']): string | undefined {
  let length: number;
  if (encoding === 'hex') {
    if (!/^([0-9a-fA-F]{2})*$/.test(message)) return 'message is not hex (pairs of 0-9a-f)';
    length = message.length / 2;
  } else if (encoding === 'base64') {
    // Whole groups of the base64 alphabet, padding optional: Buffer would skip stray characters.
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/.test(message)) return 'message is not base64';
    length = Buffer.byteLength(message, 'base64');
  } else length = Buffer.byteLength(message, 'utf8');
  return length > MAX_MESSAGE_BYTES ? `message exceeds ${MAX_MESSAGE_BYTES} bytes once decoded` : undefined;
}

/** Decodes a request's message; throws SigningRequestError on bad hex/base64 or an oversized message. */
export function decodeMessage(message: string, encoding: SignatureRequest['encoding']): Uint8Array {
  const problem = messageProblem(message, encoding);
  if (problem !== undefined) throw new SigningRequestError(problem);
  return new Uint8Array(Buffer.from(message, encoding === 'utf8' ? 'utf8' : encoding));
}
