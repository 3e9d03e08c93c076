/**
 * Agreement on a digest that every party computes for itself from public data: the key state a
 * refresh starts from, a reshare's plan, a reshare's result (DESIGN §3 "Refresh", "Reshare").
 * Each party broadcasts its digest, signed. A party whose digest differs from ours is named only
 * while a strict majority of those who announced one agree with us: its signed digest is then the
 * evidence, and a checker recomputes the right digest from its own copy of the public data. When
 * we are not in such a majority our own view may be the wrong one, and the abort names nobody.
 */
import type { AbortEvidence } from './abort.ts';
import { sameBytes, type PartyIndex } from './channel.ts';
import type { Session } from './session.ts';

export function assertAgreement(
  s: Session,
  args: {
    readonly round: number;
    /** What the digest is of, for the abort's detail. */
    readonly what: string;
    /** Our own digest. */
    readonly mine: Uint8Array;
    /** The digest each announcing party signed (our own included when we announced one). */
    readonly announced: ReadonlyMap<PartyIndex, Uint8Array>;
    /** Evidence naming party j: its signed announcement first. */
    readonly evidence: (j: PartyIndex) => AbortEvidence;
  },
): void {
  const differ = [...args.announced]
    .filter(([, d]) => !sameBytes(d, args.mine))
    .map(([j]) => j)
    .sort((a, b) => a - b);
  const first = differ[0];
  if (first === undefined) return;
  const agree = args.announced.size - differ.length;
  if (2 * agree > args.announced.size) {
    s.abort({
      round: args.round,
      culprits: [first],
      reason: 'malformed-message',
      detail: `party ${first}'s digest of ${args.what} differs from the majority's`,
      evidence: args.evidence(first),
    });
  }
  s.abort({ round: args.round, culprits: [], reason: 'unattributed', detail: `no majority agrees on ${args.what}` });
}
