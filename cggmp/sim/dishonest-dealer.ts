/**
 * Dishonest dealers for the rotation entries of the malicious-party catalogue (DESIGN §7, "a
 * reshare dealer whose constant term is wrong"): session tampers (adversary.ts, corruptSession)
 * that replace a corrupt dealer's whole deal — its round-1 commitment, the opening and every
 * sub-share — by a self-consistent deal of a polynomial with a chosen constant term. The dealer
 * believes its own replaced broadcast, so its echo vouches for it; the commitment opens and every
 * sub-share matches its commitments: only the constant-term check can catch it. (A channel-level
 * adversary cannot do this: the dealer's own code would see the others echo a commitment it did
 * not send, and stop.)
 */
import { randomBytes } from 'node:crypto';
import { BROADCAST, type PartyIndex } from '../protocols/channel.ts';
import { commitPolynomial, evaluate, randomPolynomial } from '../protocols/polynomial.ts';
import { REFRESH_ROUNDS, refreshCommitment, type RefreshState } from '../protocols/refresh.ts';
import { RESHARE_ROUNDS, reshareCommitment, type ResharePlan } from '../protocols/reshare.ts';
import type { Encodable } from '../transcript/index.ts';
import { commitSch } from '../zk/index.ts';
import type { SessionTamper } from './adversary.ts';

const KAPPA_BYTES = 32;

type Rec = { readonly [key: string]: Encodable };

export interface CorruptDealer {
  readonly sid: Uint8Array;
  readonly party: PartyIndex;
}

/** A refresh dealer that deals f(0) = `constant` (an honest one deals 0) with the key's t coefficients. */
export function refreshDealOfConstant(c: CorruptDealer, key: Pick<RefreshState, 'threshold'>, constant: bigint): SessionTamper {
  const R = REFRESH_ROUNDS;
  const f = randomPolynomial(key.threshold, constant);
  const d = { rid: randomBytes(KAPPA_BYTES), S: commitPolynomial(f), A: commitSch().commitment.A, u: randomBytes(KAPPA_BYTES) };
  return (round, to, value) => {
    if (round === R.commit && to === BROADCAST) return { ...(value as Rec), V: refreshCommitment(c.sid, c.party, d) };
    if (round !== R.decommit) return undefined;
    return to === BROADCAST ? { rid: d.rid, S: d.S, A: d.A, u: d.u } : { delta: evaluate(f, BigInt(to)) };
  };
}

/** A reshare dealer that deals f(0) = `constant` (an honest one deals λ_i·x_i) with t_new coefficients. */
export function reshareDealOfConstant(c: CorruptDealer, plan: Pick<ResharePlan, 'newThreshold' | 'newParties'>, constant: bigint): SessionTamper {
  const R = RESHARE_ROUNDS;
  const f = randomPolynomial(plan.newThreshold, constant);
  const d = { S: commitPolynomial(f), u: randomBytes(KAPPA_BYTES) };
  return (round, to, value) => {
    if (round === R.commit && to === BROADCAST) return { ...(value as Rec), V: reshareCommitment(c.sid, c.party, d) };
    if (round !== R.deal) return undefined;
    if (to === BROADCAST) return { S: d.S, u: d.u };
    return plan.newParties.includes(to) ? { sigma: evaluate(f, BigInt(to)) } : undefined;
  };
}
