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

/** The message a coordinator has signed under a new epoch before the old one may be retired. */
export function epochTestMessage(keyId: string, epoch: number, planHash: string): string {
  return `vilna-mpc epoch test ${keyId} ${epoch} ${planHash}`;
}
/** Request id prefix of epoch test signatures (exempt from signing policy: see policy-enforcer.ts). */
export const EPOCH_TEST_PREFIX = 'epoch-test:';

/** The coordinator's start of a plan: names it, so that only it can later abort the plan. */
export function startBytes(planHash: Uint8Array, coordinator: number): Uint8Array {
  return transcript.encode('vilna-mpc/plan-start/v1', [planHash, coordinator]);
}
