/**
 * One party's runtime for one protocol session over a Channel: it signs what the party sends,
 * decodes what it receives, keeps every envelope as evidence, runs the echo step that makes
 * broadcast reliable, and turns a failed check on party j's message into a ProtocolAbort that
 * names j with the signed envelopes that prove it.
 */
import { CggmpError } from '../errors.ts';
import { decodeValue, encodeValue, type Decoded, type Encodable } from '../transcript/index.ts';
import { PeerAbortNotice, ProtocolAbort, RoundTimeout, SELF_CONTAINED_CHECKS, type AbortEvidence, type AbortReason } from './abort.ts';
import {
  ABORT_ROUND,
  assertPartyList,
  BROADCAST,
  envelopeValue,
  envelopeSignatureValid,
  envelopeSigningBytes,
  payloadDigest,
  sameBytes,
  sealEnvelope,
  type Channel,
  type CollectOptions,
  type Envelope,
  type PartyIndex,
} from './channel.ts';
import { verifyIdentitySignature, type Signer } from './identity.ts';
import { bytes, exactRecord, list, num, readEnvelope, record } from './fields.ts';
import { InvalidInputError } from '../errors.ts';

export interface SessionParams {
  /** Protocol name, for aborts and logs. */
  readonly protocol: string;
  readonly sid: Uint8Array;
  readonly self: PartyIndex;
  /** Every participant, including self, ascending. */
  readonly parties: readonly PartyIndex[];
  /** Identity public key of every participant. */
  readonly identities: ReadonlyMap<PartyIndex, Uint8Array>;
  readonly signer: Signer;
  readonly channel: Channel;
  /**
   * Re-checks the evidence of an abort another participant announced (evidence.ts with this
   * party's own context). Without it an announced abort is adopted as unattributed.
   */
  readonly verifyAbort?: (announced: ProtocolAbort) => boolean;
}

export interface Received {
  readonly value: Decoded;
  readonly envelope: Envelope;
}

export interface RoundInbox {
  readonly round: number;
  /** Broadcasts of every party, own included. */
  readonly broadcast: ReadonlyMap<PartyIndex, Received>;
  /** Point-to-point messages addressed to self from every other party. */
  readonly p2p: ReadonlyMap<PartyIndex, Received>;
}

export interface Session {
  readonly params: SessionParams;
  readonly others: readonly PartyIndex[];
  /** Sends this round's broadcast and, to each other party, its point-to-point message. */
  send(round: number, broadcast: Encodable, p2p?: (to: PartyIndex) => Encodable): Promise<void>;
  /**
   * Waits for every other party's messages of the round (only the broadcasts with
   * `broadcastOnly`, whose inbox has no p2p entries); undecodable payloads abort naming the sender.
   */
  collect(round: number, opts?: CollectOptions): Promise<RoundInbox>;
  /** Reliable broadcast: every party echoes the signed digests of `inbox`'s broadcasts in `echoRound`. */
  echo(inbox: RoundInbox, echoRound: number): Promise<void>;
  /**
   * Runs a check of party `culprit`'s message; a CggmpError from it becomes a ProtocolAbort naming
   * the culprit, with `evidence` (the signed envelopes the claim rests on).
   */
  blame<T>(round: number, culprit: PartyIndex, evidence: () => AbortEvidence, check: () => T): T;
  abort(args: { round: number; culprits: readonly PartyIndex[]; reason: AbortReason; detail: string; evidence?: AbortEvidence }): never;
  /**
   * Resolves once every abort announcement of this session has been handed to the channel. The
   * announcement is signed first (an HSM signature is asynchronous): a caller that closes the
   * channel on the abort must wait for this, or the others never hear why the session ended.
   */
  announcements(): Promise<void>;
}

export function openSession(params: SessionParams): Session {
  const { protocol, sid, self, parties, identities, signer, channel } = params;
  // Every protocol evaluates or sends per party number: 0 (BROADCAST), huge or repeated numbers
  // are refused here, before anything is computed, not only by the API's schema.
  assertPartyList(parties, `${protocol} parties`);
  if (!parties.includes(self)) throw new CggmpError('E_INVALID_INPUT', `${protocol}: party ${self} is not a participant`);
  const others = parties.filter((p) => p !== self);
  const ownBroadcasts = new Map<number, Received>();
  const announcing: Promise<void>[] = [];

  const announce = (a: ProtocolAbort): void => {
    // Best effort: tell the others so that nobody waits for a round that will not complete.
    const value = {
      protocol: a.protocol,
      round: a.round,
      culprits: [...a.culprits],
      reason: a.reason,
      detail: a.detail,
      ...(a.evidence
        ? { evidence: { check: a.evidence.check, envelopes: a.evidence.envelopes.map(envelopeValue), ...(a.evidence.detail !== undefined ? { detail: a.evidence.detail } : {}) } }
        : {}),
    };
    announcing.push(
      Promise.resolve(sealEnvelope(signer, sid, ABORT_ROUND, self, BROADCAST, encodeValue(value)))
        .then((e) => channel.broadcast(ABORT_ROUND, e))
        .catch(() => undefined),
    );
  };

  const abort: Session['abort'] = (args) => {
    const a = new ProtocolAbort({ protocol, ...args });
    announce(a);
    throw a;
  };

  /** Adopts another participant's announced abort: its culprits if its evidence re-checks here. */
  function adopt(notice: Envelope, round: number): never {
    let announced: ProtocolAbort | undefined;
    try {
      announced = readAnnouncedAbort(decodeValue(notice.payload));
    } catch {
      announced = undefined;
    }
    // Adopted only when it is about this very session and rests on the culprit's own signed
    // messages alone (SELF_CONTAINED_CHECKS): otherwise a corrupt party could frame an honest one.
    const verified =
      announced !== undefined &&
      announced.protocol === protocol &&
      announced.evidence !== undefined &&
      SELF_CONTAINED_CHECKS.has(announced.evidence.check) &&
      announced.evidence.envelopes.every((e) => sameBytes(e.sid, sid)) &&
      params.verifyAbort?.(announced) === true;
    throw new ProtocolAbort(
      verified
        ? {
            protocol: announced!.protocol,
            round: announced!.round,
            culprits: announced!.culprits,
            reason: announced!.reason,
            detail: `party ${notice.sender} aborted: ${announced!.detail}`,
            ...(announced!.evidence ? { evidence: announced!.evidence } : {}),
          }
        : { protocol, round, culprits: [], reason: 'unattributed', detail: `party ${notice.sender} aborted; its evidence does not stand on its own here` },
    );
  }

  function decodeFrom(round: number, envelope: Envelope): Decoded {
    try {
      return decodeValue(envelope.payload);
    } catch (e) {
      if (!(e instanceof CggmpError)) throw e;
      return abort({
        round,
        culprits: [envelope.sender],
        reason: 'malformed-message',
        detail: e.message,
        evidence: { check: 'decodable', envelopes: [envelope] },
      });
    }
  }

  return {
    params,
    others,

    async announcements() {
      await Promise.all(announcing);
    },

    async send(round, broadcast, p2p) {
      const payload = encodeValue(broadcast);
      const own = await sealEnvelope(signer, sid, round, self, BROADCAST, payload);
      ownBroadcasts.set(round, { value: decodeValue(payload), envelope: own });
      channel.broadcast(round, own);
      for (const to of others) {
        const e = await sealEnvelope(signer, sid, round, self, to, encodeValue(p2p ? p2p(to) : {}));
        channel.send(round, to, e);
      }
    },

    async collect(round, opts = {}) {
      let got: Map<PartyIndex, { broadcast?: Envelope; p2p?: Envelope }>;
      try {
        got = await channel.collect(round, opts);
      } catch (e) {
        if (e instanceof PeerAbortNotice) adopt(e.envelope, round);
        if (e instanceof RoundTimeout) {
          return abort({ round, culprits: [], reason: 'timeout', detail: e.message, evidence: { check: 'none', envelopes: [], detail: [...e.missing] } });
        }
        throw e;
      }
      const broadcast = new Map<PartyIndex, Received>();
      const p2p = new Map<PartyIndex, Received>();
      const own = ownBroadcasts.get(round);
      if (own) broadcast.set(self, own);
      for (const j of others) {
        const m = got.get(j);
        // The channel checked sender, round, sid and signature; a second look costs little.
        const p2pValid = opts.broadcastOnly || (m?.p2p !== undefined && envelopeSignatureValid(m.p2p, identities));
        if (!m?.broadcast || !p2pValid || !envelopeSignatureValid(m.broadcast, identities)) {
          return abort({ round, culprits: [], reason: 'unattributed', detail: `no valid message from party ${j}` });
        }
        broadcast.set(j, { value: decodeFrom(round, m.broadcast), envelope: m.broadcast });
        if (!opts.broadcastOnly) p2p.set(j, { value: decodeFrom(round, m.p2p!), envelope: m.p2p! });
      }
      return { round, broadcast, p2p };
    },

    async echo(inbox, echoRound) {
      const mine = parties.map((j) => {
        const e = (inbox.broadcast.get(j) as Received).envelope;
        return [j, payloadDigest(e.payload), e.signature] as const;
      });
      await this.send(echoRound, { round: inbox.round, entries: mine.map(([j, d, s]) => [j, d, s]) });
      const echoes = await this.collect(echoRound);
      for (const k of others) {
        const echoed = echoes.broadcast.get(k) as Received;
        const entries = this.blame(echoRound, k, () => ({ check: 'echo-shape', envelopes: [echoed.envelope], detail: inbox.round }), () =>
          readEcho(echoed.value, inbox.round, parties),
        );
        for (const { j, digest, signature } of entries) {
          const key = identities.get(j) as Uint8Array;
          if (!verifyIdentitySignature(key, envelopeSigningBytes(sid, inbox.round, j, BROADCAST, digest), signature)) {
            abort({
              round: echoRound,
              culprits: [k],
              reason: 'echo-forged',
              detail: `party ${k} echoed a signature party ${j} did not make`,
              evidence: { check: 'echo-signatures', envelopes: [echoed.envelope], detail: j },
            });
          }
          const ours = (inbox.broadcast.get(j) as Received).envelope;
          if (!sameBytes(digest, payloadDigest(ours.payload))) {
            abort({
              round: inbox.round,
              culprits: [j],
              reason: 'equivocation',
              detail: `party ${j} sent different round-${inbox.round} broadcasts to different parties`,
              evidence: { check: 'equivocation', envelopes: [ours, echoed.envelope], detail: j },
            });
          }
        }
      }
    },

    blame(round, culprit, evidence, check) {
      try {
        return check();
      } catch (e) {
        if (e instanceof ProtocolAbort || !(e instanceof CggmpError)) throw e;
        return abort({
          round,
          culprits: [culprit],
          reason: e.code === 'E_PROOF_INVALID' ? 'invalid-proof' : 'malformed-message',
          detail: e.message,
          evidence: evidence(),
        });
      }
    },

    abort,
  };
}

/** Reads an abort announcement back into a ProtocolAbort (its evidence still to be re-checked). */
export function readAnnouncedAbort(value: Decoded): ProtocolAbort {
  const r0 = record(value, 'abort');
  const keys = ['protocol', 'round', 'culprits', 'reason', 'detail'];
  const r = exactRecord(value, 'abort', 'evidence' in r0 ? [...keys, 'evidence'] : keys);
  const culprits = list(r, 'culprits').map((c) => {
    if (typeof c !== 'number') throw new InvalidInputError('culprits', 'not party numbers');
    return c;
  });
  if (typeof r.protocol !== 'string' || typeof r.reason !== 'string' || typeof r.detail !== 'string') throw new InvalidInputError('abort', 'malformed');
  let evidence: AbortEvidence | undefined;
  if ('evidence' in r) {
    const e0 = record(r.evidence, 'evidence');
    const ek = ['check', 'envelopes'];
    const e = exactRecord(r.evidence, 'evidence', 'detail' in e0 ? [...ek, 'detail'] : ek);
    if (typeof e.check !== 'string') throw new InvalidInputError('evidence.check', 'not a string');
    evidence = { check: e.check, envelopes: list(e, 'envelopes').map((x) => readEnvelope(x)), ...(e.detail !== undefined ? { detail: e.detail as Encodable } : {}) };
  }
  return new ProtocolAbort({ protocol: r.protocol, round: num(r, 'round'), culprits, reason: r.reason as AbortReason, detail: r.detail, ...(evidence ? { evidence } : {}) });
}

/** Reads an echo message: the round it echoes and, for every party in order, (party, digest, signature). */
export function readEcho(value: Decoded, round: number, parties: readonly PartyIndex[]): { j: PartyIndex; digest: Uint8Array; signature: Uint8Array }[] {
  const r = exactRecord(value, 'echo', ['round', 'entries']);
  if (num(r, 'round') !== round) throw new InvalidInputError('echo.round', 'wrong round');
  return list(r, 'entries', parties.length).map((entry, idx) => {
    const t = list({ entry }, 'entry', 3);
    const j = parties[idx] as PartyIndex;
    if (t[0] !== j) throw new InvalidInputError('echo.entries', 'out of order');
    return { j, digest: bytes({ d: t[1] as Decoded }, 'd', 32), signature: bytes({ s: t[2] as Decoded }, 's') };
  });
}
