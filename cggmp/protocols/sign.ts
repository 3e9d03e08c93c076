/**
 * Online signing, spec §"Signing": one round in which each signer releases
 * σ_i = k̃_i·m + r·χ̃_i and everyone combines, checking σ_j·Γ = m·Δ̃_j + r·S̃_j for each signer so
 * a bad partial signature names its sender. The round continues the presigning session (same
 * session id and signers). Each signer hashes the message itself (DESIGN §3: a message, not a
 * digest, unless the presignature was bound to that digest before it was made).
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { fromBytesBE, mod } from '../arith/index.ts';
import { CURVE_ORDER, mulPointPublic, scalarField, type Point } from '../curve/index.ts';
import { CggmpError, InvalidInputError } from '../errors.ts';
import { assertScalar } from '../validate.ts';
import { sameBytes, type PartyIndex } from './channel.ts';
import { bytes, exactRecord, int } from './fields.ts';
import type { Decoded } from '../transcript/index.ts';
import type { Presignature } from './presign.ts';
import type { Session } from './session.ts';

/** The online round continues the presigning session after its rounds 1–6. */
export const SIGN_ROUND = 7;
const q = CURVE_ORDER;

export type MessageHash = 'sha256' | 'sha256d' | 'keccak256';
export const MESSAGE_HASHES: readonly MessageHash[] = ['sha256', 'sha256d', 'keccak256'];

export type SignRequest =
  | { readonly message: Uint8Array; readonly hash: MessageHash }
  /** Only with a presignature bound to exactly this digest before presigning (DESIGN §3). */
  | { readonly digest: Uint8Array };

export interface EcdsaSignature {
  readonly r: bigint;
  /** Low-s. */
  readonly s: bigint;
  /** Bit 0: parity of R.y; bit 1: R.x ≥ q. */
  readonly recoveryId: 0 | 1 | 2 | 3;
  readonly der: Uint8Array;
  readonly digest: Uint8Array;
  readonly publicKey: Point;
  readonly signers: readonly PartyIndex[];
}

export function hashMessage(message: Uint8Array, hash: MessageHash): Uint8Array {
  if (!(message instanceof Uint8Array)) throw new InvalidInputError('message', 'not bytes');
  switch (hash) {
    case 'sha256':
      return sha256(message);
    case 'sha256d':
      return sha256(sha256(message));
    case 'keccak256':
      return keccak_256(message);
    default:
      throw new InvalidInputError('hash', 'must be sha256, sha256d or keccak256');
  }
}

/** m = bits2int(digest) mod q for a 32-byte digest (SEC 1 §4.1.3 with a 256-bit order). */
export function digestScalar(digest: Uint8Array): bigint {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) throw new InvalidInputError('digest', 'expected 32 bytes');
  return mod(fromBytesBE(digest), q);
}

export function readPartial(v: Decoded): { sigma: bigint; digest: Uint8Array } {
  const r = exactRecord(v, 'partial signature', ['sigma', 'digest']);
  const sigma = int(r, 'sigma');
  assertScalar(sigma, q, 'sigma');
  return { sigma, digest: bytes(r, 'digest', 32) };
}

/** combine_partial_signatures' check for one signer: σ_j·Γ = m·Δ̃_j + r·S̃_j. */
export function checkPartial(Gamma: Point, DeltaTilde: Point, STilde: Point, p: { sigma: bigint; digest: Uint8Array }): void {
  const m = digestScalar(p.digest);
  const r = mod(Gamma.x, q);
  if (!mulPointPublic(Gamma, p.sigma).equals(mulPointPublic(DeltaTilde, m).add(mulPointPublic(STilde, r)))) {
    throw new InvalidInputError('sigma', 'σ_j·Γ ≠ m·Δ̃_j + r·S̃_j');
  }
}

// Presignatures that have released a partial signature: a second use would reveal the key.
const spent = new WeakSet<Presignature>();

export class PresignatureError extends CggmpError {
  constructor(message: string) {
    super('E_PRESIGNATURE', message);
  }
}

/** issue_partial_signature: consumes the presignature before σ_i exists. */
export function issuePartialSignature(presig: Presignature, request: SignRequest): { sigma: bigint; digest: Uint8Array } {
  const digest = requestDigest(presig, request);
  if (spent.has(presig)) throw new PresignatureError('presignature already used');
  spent.add(presig);
  const m = digestScalar(digest);
  const r = mod(presig.Gamma.x, q);
  // σ_i = k̃_i·m + r·χ̃_i mod q, reduced by Montgomery (the secret never meets a BigInt division).
  return { sigma: scalarField().mulAdd(presig.kTilde * m, r, presig.chiTilde), digest };
}

function requestDigest(presig: Presignature, request: SignRequest): Uint8Array {
  const bound = presig.binding.boundDigest;
  if ('digest' in request) {
    if (!bound || !sameBytes(bound, request.digest)) {
      throw new PresignatureError('a digest can only be signed with a presignature bound to it before presigning');
    }
    return request.digest;
  }
  if (bound) throw new PresignatureError('this presignature is bound to a digest');
  return hashMessage(request.message, request.hash);
}

export async function sign(s: Session, presig: Presignature, request: SignRequest): Promise<EcdsaSignature> {
  const { self, parties } = s.params;
  const signers = presig.binding.signers;
  if (presig.self !== self || signers.length !== parties.length || signers.some((p, i) => p !== parties[i]) || !sameBytes(s.params.sid, presig.binding.sid)) {
    throw new PresignatureError('presignature belongs to another session or signer set');
  }
  const { sigma, digest } = issuePartialSignature(presig, request);
  // The digest travels with σ_i: signers that were asked to sign different messages stop here.
  await s.send(SIGN_ROUND, { sigma, digest });
  // The round's point-to-point messages are empty: the broadcasts (σ_j with the digest) are the round.
  const inbox = await s.collect(SIGN_ROUND, { broadcastOnly: true });
  const r = mod(presig.Gamma.x, q);
  const partials = signers.map((j) => {
    const msg = inbox.broadcast.get(j)!;
    const partial = s.blame(SIGN_ROUND, j, () => ({ check: 'sign-partial', envelopes: [msg.envelope] }), () => readPartial(msg.value));
    if (!sameBytes(partial.digest, digest)) {
      s.abort({ round: SIGN_ROUND, culprits: [], reason: 'unattributed', detail: `party ${j} signs a different digest` });
    }
    return partial;
  });
  const total = partials.reduce((acc, p) => (acc + p.sigma) % q, 0n);
  // Fast path: the sum satisfies σ·Γ = m·ΣΔ̃_j + r·ΣS̃_j exactly when the signature verifies; only
  // when it does not are the partials checked one by one, to name the signer that broke it.
  const sig = combinedSignature(presig, r, total, digest, signers);
  if (sig) return sig;
  signers.forEach((j, at) => {
    const msg = inbox.broadcast.get(j)!;
    s.blame(SIGN_ROUND, j, () => ({ check: 'sign-partial', envelopes: [msg.envelope] }), () =>
      checkPartial(presig.Gamma, presig.DeltaTilde[at]!, presig.STilde[at]!, partials[at]!),
    );
  });
  throw new PresignatureError('combined signature does not verify although every partial checks');
}

/** The low-s signature from the summed partials, or undefined when it does not verify. */
function combinedSignature(presig: Presignature, r: bigint, s0: bigint, digest: Uint8Array, signers: readonly PartyIndex[]): EcdsaSignature | undefined {
  let recoveryId = ((presig.Gamma.y & 1n) === 1n ? 1 : 0) | (presig.Gamma.x >= q ? 2 : 0);
  let s = s0;
  if (s > q / 2n) {
    s = q - s;
    recoveryId ^= 1;
  }
  const sig = new secp256k1.Signature(r, s);
  // Never return a signature that does not verify.
  if (r === 0n || s === 0n || !secp256k1.verify(sig.toBytes('compact'), digest, presig.binding.publicKey.toBytes(true), { prehash: false })) {
    return undefined;
  }
  return { r, s, recoveryId: recoveryId as 0 | 1 | 2 | 3, der: sig.toBytes('der'), digest, publicKey: presig.binding.publicKey, signers };
}
