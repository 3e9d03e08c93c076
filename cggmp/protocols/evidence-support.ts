/** Small readers shared by the evidence checks (evidence.ts, evidence-presign.ts, evidence-rotation.ts). */
import { CggmpError } from '../errors.ts';
import { decodeValue, type Decoded } from '../transcript/index.ts';
import type { AbortEvidence } from './abort.ts';
import { BROADCAST, type Envelope, type PartyIndex } from './channel.ts';

/** True when `fn` fails with a protocol-level error, as the accuser claims it did. */
export function fails(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (e instanceof CggmpError) return true;
    throw e;
  }
}

export const decode = (e: Envelope): Decoded => decodeValue(e.payload);

export function env(ev: AbortEvidence, i: number): Envelope {
  const e = ev.envelopes[i];
  if (!e) throw new Error('evidence: envelope missing');
  return e;
}

export const isRound = (e: Envelope, round: number, broadcast: boolean): boolean => e.round === round && (e.recipient === BROADCAST) === broadcast;

/** The session's participants as the checker knows them: the identity map's parties. */
export const participants = (ctx: { readonly identities: ReadonlyMap<PartyIndex, Uint8Array> }): PartyIndex[] =>
  [...ctx.identities.keys()].sort((a, b) => a - b);

export function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`evidence: ${what} needed`);
  return v;
}
