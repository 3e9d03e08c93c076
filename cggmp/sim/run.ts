/**
 * Runs one protocol session for every party of a simulated group over the in-memory network,
 * each party in its own session with its own identity, and reports each party's outcome.
 * An optional per-party channel wrapper is where an adversary (adversary.ts) sits.
 */
import { randomBytes } from 'node:crypto';
import type { Channel, PartyIndex } from '../protocols/channel.ts';
import { developmentSigner, type Signer } from '../protocols/identity.ts';
import { openSession, type Session } from '../protocols/session.ts';
import type { ProtocolAbort } from '../protocols/abort.ts';
import { memoryNetwork, type MemoryNetwork } from './memory-network.ts';
import { adversarialChannel, type Behaviour } from './adversary.ts';

export interface SimGroup {
  readonly signers: ReadonlyMap<PartyIndex, Signer>;
  readonly identities: ReadonlyMap<PartyIndex, Uint8Array>;
}

export function simGroup(parties: readonly PartyIndex[]): SimGroup {
  const signers = new Map(parties.map((p) => [p, developmentSigner()] as const));
  return { signers, identities: new Map([...signers].map(([p, s]) => [p, s.publicKey] as const)) };
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

export interface RunOptions {
  readonly protocol: string;
  readonly group: SimGroup;
  readonly parties: readonly PartyIndex[];
  readonly sid?: Uint8Array;
  readonly timeoutMs?: number;
  /** Re-checks an abort another party announced (verifyAbortEvidence with a checker's context). */
  readonly verifyAbort?: (announced: ProtocolAbort) => boolean;
  /** Parties whose outcome decides the run (default: all); if one of them aborts, the rest are cut off. */
  readonly awaitParties?: readonly PartyIndex[];
  /** Wraps a party's session (a corrupt party that believes its own lies, adversary.ts). */
  readonly wrapSession?: (party: PartyIndex, session: Session) => Session;
  /** Wraps a party's channel (the adversary's hook); `net` gives raw delivery. */
  readonly wrap?: (party: PartyIndex, channel: Channel, net: MemoryNetwork, sid: Uint8Array) => Channel;
}

export async function runSession<T>(opts: RunOptions, run: (s: Session) => Promise<T>): Promise<Map<PartyIndex, Outcome<T>>> {
  const sid = opts.sid ?? randomBytes(32);
  const parties = [...opts.parties].sort((a, b) => a - b);
  const net = memoryNetwork({ sid, parties, identities: opts.group.identities, timeoutMs: opts.timeoutMs ?? 0 });
  const runs = parties.map(async (p): Promise<[PartyIndex, Outcome<T>]> => {
      const base = net.channel(p);
      const channel = opts.wrap ? opts.wrap(p, base, net, sid) : base;
      const session = openSession({
        protocol: opts.protocol,
        sid,
        self: p,
        parties,
        identities: opts.group.identities,
        signer: opts.group.signers.get(p)!,
        channel,
        ...(opts.verifyAbort ? { verifyAbort: opts.verifyAbort } : {}),
      });
      const wrapped = opts.wrapSession ? opts.wrapSession(p, session) : session;
      try {
        return [p, { ok: true, value: await run(wrapped) }];
      } catch (error) {
        return [p, { ok: false, error }];
      }
  });
  const awaited = new Set(opts.awaitParties ?? parties);
  const first = await Promise.all(runs.filter((_, i) => awaited.has(parties[i]!)));
  // Once an awaited party has aborted, the others are cut off rather than left to time out.
  if (first.some(([, o]) => !o.ok)) net.close();
  return new Map(await Promise.all(runs));
}

/** The `wrap` option that puts party `corrupt` behind an adversarial channel with `behaviour`. */
export function corruptWrap(
  group: SimGroup,
  parties: readonly PartyIndex[],
  corrupt: PartyIndex,
  behaviour: Behaviour,
): NonNullable<RunOptions['wrap']> {
  return (party, channel, net, sid) =>
    party !== corrupt
      ? channel
      : adversarialChannel({ self: party, parties, signer: group.signers.get(party)!, sid, inner: channel, net, behaviour });
}
