/**
 * Approvals (DESIGN §4 "Plans and approvals", "Signing API"): an approver's Ed25519 signature
 * over a plan hash, and — for keys whose policy requires it — over a signing request.
 *
 * Signed bytes, with frameTag(tag) = u32be(len(tag)) ‖ UTF-8(tag) as in api/canonical.ts:
 *
 *   plan approval:     frameTag("vilna-mpc/approval/v1")         ‖ planHash     (32 bytes)
 *   signing approval:  frameTag("vilna-mpc/signing-approval/v1") ‖ requestHash  (32 bytes)
 *     where requestHash = canonicalHash("vilna-mpc/signing-approval/v1",
 *                           { keyId, derivationPath, messageDigest, requestId, expiresAt })
 *
 * Distinct tags keep one kind of approval from being replayed as the other. Signatures are
 * Ed25519 (RFC 8032, pure, no context); verification is strict RFC 8032 (noble with
 * zip215: false: canonical encodings only), which accepts exactly what OpenSSL accepts for the
 * signatures that honest signers produce. Signing uses node:crypto, because approver keys arrive
 * as PKCS#8 PEM (what `openssl genpkey -algorithm ed25519` writes).
 */
import { createPrivateKey, createPublicKey, sign as osslSign, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { canonicalHash, ContractError, describeIssues, frameTag, HASH_HEX_RE } from './canonical.ts';
import { ED25519_PUBLIC_KEY_RE } from './approver-set.ts';
import { KeyIdSchema, UtcTimestampSchema } from './plan.ts';
import { DerivationPathSchema } from './policy.ts';

/** Tag of the bytes an approver signs for a plan. */
export const APPROVAL_TAG = 'vilna-mpc/approval/v1';
/** Tag of the signing-request hash and of the bytes an approver signs for it. */
export const SIGNING_APPROVAL_TAG = 'vilna-mpc/signing-approval/v1';

/** An Ed25519 signature R ‖ S: 64 bytes as 128 lowercase hex characters (RFC 8032 §5.1.6). */
const SIGNATURE_RE = /^[0-9a-f]{128}$/;
const HASH_BYTES = 32;

const HashHexSchema = z.string().regex(HASH_HEX_RE, 'must be a 32-byte hash as 64 lowercase hex characters');
const ApproverSchema = z.string().regex(ED25519_PUBLIC_KEY_RE, 'must be an Ed25519 public key as 64 lowercase hex characters');
const SignatureSchema = z.string().regex(SIGNATURE_RE, 'must be an Ed25519 signature as 128 lowercase hex characters');

export const ApprovalSchema = z
  .object({
    planHash: HashHexSchema,
    approver: ApproverSchema,
    signature: SignatureSchema,
  })
  .strict();

export type Approval = z.infer<typeof ApprovalSchema>;

/** Validates an approval's shape (not its signature); throws ContractError E_APPROVAL_INVALID. */
export function parseApproval(value: unknown): Approval {
  const r = ApprovalSchema.safeParse(value);
  if (!r.success) throw new ContractError('E_APPROVAL_INVALID', describeIssues(r.error.issues));
  return r.data;
}

function hashBytes(hash: Uint8Array | string, field: string): Uint8Array {
  if (typeof hash === 'string') {
    if (!HASH_HEX_RE.test(hash)) throw new ContractError('E_APPROVAL_INVALID', `${field}: must be 64 lowercase hex characters`);
    return hexToBytes(hash);
  }
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) throw new ContractError('E_APPROVAL_INVALID', `${field}: must be ${HASH_BYTES} bytes`);
  return hash;
}

function taggedMessage(tag: string, hash: Uint8Array): Uint8Array {
  const framed = frameTag(tag);
  const out = new Uint8Array(framed.length + hash.length);
  out.set(framed);
  out.set(hash, framed.length);
  return out;
}

/** The exact bytes an approver signs for a plan hash. */
export function approvalMessage(planHash: Uint8Array | string): Uint8Array {
  return taggedMessage(APPROVAL_TAG, hashBytes(planHash, 'planHash'));
}

/** A private key given as PKCS#8 PEM or a KeyObject, checked to be Ed25519. */
function ed25519PrivateKey(key: string | KeyObject): KeyObject {
  let k: KeyObject;
  try {
    k = typeof key === 'string' ? createPrivateKey({ key, format: 'pem' }) : key;
  } catch {
    // node's message could quote the input; say only what was expected.
    throw new ContractError('E_APPROVER_KEY_INVALID', 'not a PEM private key (expected PKCS#8, as openssl genpkey -algorithm ed25519 writes)');
  }
  if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519') {
    throw new ContractError('E_APPROVER_KEY_INVALID', `expected an Ed25519 private key, got ${k.type} ${k.asymmetricKeyType ?? 'key'}`);
  }
  return k;
}

/** Length of the DER SubjectPublicKeyInfo of an Ed25519 key; the raw key is its last 32 bytes. */
const ED25519_SPKI_BYTES = 44;

/** The approver public key (64 lowercase hex) of an Ed25519 private key. */
export function approverPublicKeyHex(privateKey: string | KeyObject): string {
  const der = createPublicKey(ed25519PrivateKey(privateKey)).export({ format: 'der', type: 'spki' });
  if (der.length !== ED25519_SPKI_BYTES) throw new ContractError('E_APPROVER_KEY_INVALID', 'unexpected Ed25519 public key encoding');
  return bytesToHex(der.subarray(ED25519_SPKI_BYTES - 32));
}

function signTagged(tag: string, hash: Uint8Array, privateKey: string | KeyObject): { approver: string; signature: string } {
  const key = ed25519PrivateKey(privateKey);
  const signature = osslSign(null, taggedMessage(tag, hash), key);
  return { approver: approverPublicKeyHex(key), signature: bytesToHex(signature) };
}

function verifyTagged(tag: string, hashHex: string, approverHex: string, signatureHex: string): boolean {
  try {
    return ed25519.verify(hexToBytes(signatureHex), taggedMessage(tag, hexToBytes(hashHex)), hexToBytes(approverHex), { zip215: false });
  } catch {
    return false; // a public key or R that does not decode
  }
}

/** Signs a plan hash (bytes or hex) with an approver's Ed25519 private key. */
export function signApproval(planHash: Uint8Array | string, privateKey: string | KeyObject): Approval {
  const hash = hashBytes(planHash, 'planHash');
  return { planHash: bytesToHex(hash), ...signTagged(APPROVAL_TAG, hash, privateKey) };
}

/**
 * True when the approval is well formed and its signature verifies under its own approver key.
 * Whether that key is pinned, and whether the hash is the plan's, is the caller's question.
 */
export function verifyApproval(approval: Approval): boolean {
  const r = ApprovalSchema.safeParse(approval);
  if (!r.success) return false;
  return verifyTagged(APPROVAL_TAG, r.data.planHash, r.data.approver, r.data.signature);
}

/** Request ids are chosen by clients: printable ASCII without spaces, up to 128 characters. */
const REQUEST_ID_RE = /^[\x21-\x7e]{1,128}$/;

/** What a signing approval covers: the request as the signers will see it. */
export const SigningRequestSchema = z
  .object({
    keyId: KeyIdSchema,
    derivationPath: DerivationPathSchema,
    /** The digest the signature will be over (after the request's hash function), hex. */
    messageDigest: HashHexSchema,
    requestId: z.string().regex(REQUEST_ID_RE, 'must be 1–128 printable ASCII characters without spaces'),
    expiresAt: UtcTimestampSchema,
  })
  .strict();

export type SigningRequest = z.infer<typeof SigningRequestSchema>;

export const SigningApprovalSchema = z
  .object({
    requestHash: HashHexSchema,
    approver: ApproverSchema,
    signature: SignatureSchema,
  })
  .strict();

export type SigningApproval = z.infer<typeof SigningApprovalSchema>;

export function parseSigningRequest(value: unknown): SigningRequest {
  const r = SigningRequestSchema.safeParse(value);
  if (!r.success) throw new ContractError('E_SIGNING_REQUEST_INVALID', describeIssues(r.error.issues));
  return r.data;
}

export function parseSigningApproval(value: unknown): SigningApproval {
  const r = SigningApprovalSchema.safeParse(value);
  if (!r.success) throw new ContractError('E_APPROVAL_INVALID', describeIssues(r.error.issues));
  return r.data;
}

/** canonicalHash(SIGNING_APPROVAL_TAG, request) after validating the request. */
export function signingRequestHash(request: SigningRequest): Uint8Array {
  return canonicalHash(SIGNING_APPROVAL_TAG, parseSigningRequest(request));
}

/** The exact bytes an approver signs for a signing request's hash. */
export function signingApprovalMessage(requestHash: Uint8Array | string): Uint8Array {
  return taggedMessage(SIGNING_APPROVAL_TAG, hashBytes(requestHash, 'requestHash'));
}

/** Signs a signing request with an approver's Ed25519 private key. */
export function signSigningApproval(request: SigningRequest, privateKey: string | KeyObject): SigningApproval {
  const hash = signingRequestHash(request);
  return { requestHash: bytesToHex(hash), ...signTagged(SIGNING_APPROVAL_TAG, hash, privateKey) };
}

/**
 * True when the approval is well formed, covers exactly `request`, and its signature verifies
 * under its own approver key. Expiry, the pinned set and the quorum are the signer's policy check.
 */
export function verifySigningApproval(approval: SigningApproval, request: SigningRequest): boolean {
  const a = SigningApprovalSchema.safeParse(approval);
  const req = SigningRequestSchema.safeParse(request);
  if (!a.success || !req.success) return false;
  if (bytesToHex(canonicalHash(SIGNING_APPROVAL_TAG, req.data)) !== a.data.requestHash) return false;
  return verifyTagged(SIGNING_APPROVAL_TAG, a.data.requestHash, a.data.approver, a.data.signature);
}
