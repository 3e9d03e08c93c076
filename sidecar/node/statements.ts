/**
 * The statements parties sign with their identity key during a plan (DESIGN §4 "Epoch switch"),
 * each under its own domain tag so that no signature can be replayed as another kind.
 */
import { transcript } from '../../cggmp/index.ts';

/** A fresh nonce contributed to a session id (plans and presigning). */
export function nonceBytes(subject: Uint8Array, party: number, nonce: Uint8Array): Uint8Array {
  return transcript.encode('vilna-mpc/session-nonce/v1', [subject, party, nonce]);
}

/** A prepared vote: the new share of this plan is sealed and its public transcript hashes to transcriptHash. */
export function voteBytes(planHash: Uint8Array, transcriptHash: Uint8Array, party: number): Uint8Array {
  return transcript.encode('vilna-mpc/prepared-vote/v1', [planHash, transcriptHash, party]);
}

/** The coordinator's abort decision. */
export function abortBytes(planHash: Uint8Array, coordinator: number): Uint8Array {
  return transcript.encode('vilna-mpc/plan-abort/v1', [planHash, coordinator]);
}
