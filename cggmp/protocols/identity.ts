/**
 * Party identities: every protocol message is signed by its sender's identity key (P-256 ECDSA
 * over SHA-256, r‖s; the HSM holds it in production, DESIGN §4). The protocol library only needs
 * something that signs and a way to verify.
 */
import { p256 } from '@noble/curves/nist.js';

export interface Signer {
  /** 33-byte compressed P-256 public key. */
  readonly publicKey: Uint8Array;
  /** 64-byte r‖s signature over SHA-256(message). */
  sign(message: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

export function verifyIdentitySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  try {
    // lowS: false — HSMs do not normalise s, and identity signatures are not malleability-sensitive.
    return p256.verify(signature, message, publicKey, { lowS: false });
  } catch {
    return false;
  }
}

/** An in-memory identity for the simulator and tests (the sidecar uses its HSM key instead). */
export function developmentSigner(): Signer {
  const secretKey = p256.utils.randomSecretKey();
  return {
    publicKey: p256.getPublicKey(secretKey, true),
    sign: (message) => p256.sign(message, secretKey, { lowS: false }),
  };
}
