/**
 * The statements parties sign with their identity key during a plan (DESIGN §4 "Epoch switch"),
 * each under its own domain tag so that no signature can be replayed as another kind.
 */
import { hd, transcript } from '../../cggmp/index.ts';

/** A fresh nonce contributed to a session id (plans and presigning). */
export function nonceBytes(subject: Uint8Array, party: number, nonce: Uint8Array): Uint8Array {
  return transcript.encode('vilna-mpc/session-nonce/v1', [subject, party, nonce]);
}

/** A prepared vote: the new share of this plan is sealed and its public transcript hashes to transcriptHash. */
export function voteBytes(planHash: Uint8Array, transcriptHash: Uint8Array, party: number): Uint8Array {
  return transcript.encode('vilna-mpc/prepared-vote/v1', [planHash, transcriptHash, party]);
}

/**
 * The coordinator's commit decision. Votes alone are public (any party reports its own), so a
 * decision assembled from them must also carry the coordinator's word: otherwise a plan the
 * coordinator aborted after every vote was in could still be committed at some parties.
 */
export function commitBytes(planHash: Uint8Array, transcriptHash: Uint8Array, coordinator: number): Uint8Array {
  return transcript.encode('vilna-mpc/plan-commit/v1', [planHash, transcriptHash, coordinator]);
}

/** The coordinator's abort decision. */
export function abortBytes(planHash: Uint8Array, coordinator: number): Uint8Array {
  return transcript.encode('vilna-mpc/plan-abort/v1', [planHash, coordinator]);
}

/** The message a coordinator has signed under a new epoch before the old one may be retired. */
export function epochTestMessage(keyId: string, epoch: number, planHash: string): string {
  return `vilna-mpc epoch test ${keyId} ${epoch} ${planHash}`;
}
/** Request id prefix of epoch test signatures (exempt from signing policy: see policy-enforcer.ts). */
export const EPOCH_TEST_PREFIX = 'epoch-test:';

/**
 * The derivation path of epoch test signatures, reserved: no client request is ever signed
 * under it. A reshare keeps the public key, so a signature under the key itself could come
 * from the old epoch (any client allowed to sign at "m", or to sign bare digests, could ask for
 * the test message's digest); under this path every honest signer contributes only when its
 * own current epoch and plan are the ones the message names. That makes the signature proof
 * that the new epoch signs, which is what lets a party shred the old one.
 */
export const EPOCH_TEST_PATH = 'm/2147483647';

/** The public key (compressed hex) that epoch test signatures of a key verify under. */
export function epochTestPublicKey(xpub: string): Uint8Array {
  const root = hd.parseXpub(xpub);
  return hd.deriveShift(root.publicKey, root.chainCode, hd.parsePath(EPOCH_TEST_PATH)).publicKey.toBytes(true);
}

/** The coordinator's start of a plan: names it, so that only it can later abort the plan. */
export function startBytes(planHash: Uint8Array, coordinator: number): Uint8Array {
  return transcript.encode('vilna-mpc/plan-start/v1', [planHash, coordinator]);
}
