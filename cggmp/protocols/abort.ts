/**
 * Identifiable abort (DESIGN §3): a failed check throws ProtocolAbort naming the 1-based parties
 * whose signed message failed, with evidence that any other party re-checks without trusting
 * the accuser (evidence.ts). A failure that cannot be attributed names nobody and says
 * `unattributed`; a timeout alone never blames.
 */
import { CggmpError } from '../errors.ts';
import type { Encodable } from '../transcript/index.ts';
import type { Envelope, PartyIndex } from './channel.ts';

export type AbortReason =
  | 'invalid-proof'
  | 'malformed-message'
  | 'commitment-mismatch'
  | 'vss-share'
  | 'equivocation'
  | 'echo-forged'
  | 'reshare-constant'
  | 'delta-share'
  | 'timeout'
  | 'unattributed';

/**
 * Checks whose claim rests only on the culprit's own signed messages and on the checker's own
 * state. The others (e.g. a Schnorr proof checked against public shares computed from everyone's
 * broadcasts) also read broadcasts of other parties from the evidence, and a corrupt accuser can
 * sign a second version of its own: until those inputs are anchored to the accused's echo, such
 * evidence convinces only a checker that trusts the accuser, and an announced abort resting on it
 * is adopted as unattributed, never with its culprit (session.ts).
 */
export const SELF_CONTAINED_CHECKS: ReadonlySet<string> = new Set([
  'decodable',
  'echo-shape',
  'echo-signatures',
  'equivocation',
  'keygen-commit-shape',
  'keygen-decommit-shape',
  'keygen-share-shape',
  'keygen-commitment',
  'keygen-vss-share',
  'aux-commit-shape',
  'aux-opening',
  'aux-commitment',
  'aux-prm',
  'presign-r1-shape',
  'presign-enc-elg',
  'presign-elog',
  'sign-partial',
  'refresh-commit-shape',
  'refresh-decommit-shape',
  'refresh-share-shape',
  'refresh-commitment',
  'refresh-zero-constant',
  'refresh-vss-share',
  'reshare-commit-shape',
  'reshare-deal-shape',
  'reshare-share-shape',
  'reshare-confirm-shape',
  'reshare-commitment',
  'reshare-constant',
  'reshare-vss-share',
]);

export interface AbortEvidence {
  /** Name of the re-runnable check (see evidence.ts). */
  readonly check: string;
  /** Signed envelopes the claim rests on: the culprit's, and those that fix the public inputs. */
  readonly envelopes: readonly Envelope[];
  /** Public details of the claim (e.g. the index of the entry that failed). */
  readonly detail?: Encodable;
}

export class ProtocolAbort extends CggmpError {
  readonly protocol: string;
  readonly round: number;
  readonly culprits: readonly PartyIndex[];
  readonly reason: AbortReason;
  readonly evidence: AbortEvidence | undefined;
  /** What failed, for logs: names fields and checks, never values. */
  readonly detail: string;

  constructor(args: {
    protocol: string;
    round: number;
    culprits: readonly PartyIndex[];
    reason: AbortReason;
    evidence?: AbortEvidence;
    detail: string;
  }) {
    const who = args.culprits.length ? `party ${args.culprits.join(', ')}` : 'unattributed';
    super('E_PROTOCOL_ABORT', `${args.protocol} round ${args.round}: ${args.reason} (${who}): ${args.detail}`);
    this.protocol = args.protocol;
    this.round = args.round;
    this.culprits = Object.freeze([...args.culprits]);
    this.reason = args.reason;
    this.evidence = args.evidence;
    this.detail = args.detail;
  }
}

/**
 * Raised by a Channel's collect when another participant announced an abort (an envelope of
 * ABORT_ROUND): the session then checks the announced evidence itself (session.ts).
 */
export class PeerAbortNotice extends CggmpError {
  readonly envelope: Envelope;
  constructor(envelope: Envelope) {
    super('E_PROTOCOL_ABORT', `party ${envelope.sender} announced an abort`);
    this.envelope = envelope;
  }
}

/** Raised by a Channel whose round did not complete in time: never a reason to blame anyone. */
export class RoundTimeout extends CggmpError {
  readonly round: number;
  readonly missing: readonly PartyIndex[];
  constructor(round: number, missing: readonly PartyIndex[]) {
    super('E_ROUND_TIMEOUT', `round ${round}: no valid message from party ${missing.join(', ')} in time`);
    this.round = round;
    this.missing = missing;
  }
}
