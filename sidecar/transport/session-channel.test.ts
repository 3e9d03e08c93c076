/**
 * The session logic of the peer transport without the network (DESIGN §3 "Channel", §4 "Peer
 * transport"): sessions wired to each other in memory, through the same wire encoding, run the
 * key exchange and the Channel contract of memory-network.ts; the receiver's checks refuse
 * replays, undecryptable and badly signed messages without disturbing the session.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ABORT_ROUND,
  BROADCAST,
  developmentSigner,
  PeerAbortNotice,
  RoundTimeout,
  sealEnvelope,
  type PartyIndex,
  type Signer,
} from '../../cggmp/protocols/index.ts';
import { HandshakeTimeout, type TransportError } from './errors.ts';
import { createPeerSession, MAX_UNCOLLECTED_PER_SENDER, type PeerSession, type SessionChannel } from './session-channel.ts';
import { decodeWire, encodeWire, type WireKind } from './wire.ts';

interface Sent {
  readonly from: PartyIndex;
  readonly to: PartyIndex;
  readonly kind: WireKind;
  readonly body: Uint8Array;
}

function memoryGroup(n: number, opts: { roundTimeoutMs?: number; handshakeTimeoutMs?: number; absent?: PartyIndex[] } = {}) {
  const sid = new Uint8Array(randomBytes(32));
  const indices = Array.from({ length: n }, (_, i) => i + 1);
  const signers = new Map<PartyIndex, Signer>(indices.map((i) => [i, developmentSigner()]));
  const parties = indices.map((index) => ({ index, identityKey: (signers.get(index) as Signer).publicKey }));
  const sessions = new Map<PartyIndex, PeerSession>();
  const sent: Sent[] = [];
  const refusals: { to: PartyIndex; kind: WireKind; code: string }[] = [];

  /** Delivers a body as the network would and returns the receiver's verdict. */
  async function post(to: PartyIndex, kind: WireKind, body: Uint8Array): Promise<string> {
    const session = sessions.get(to);
    if (!session) return 'E_UNKNOWN_SESSION';
    try {
      await session.receive(decodeWire(kind, body));
      return 'ok';
    } catch (e) {
      return (e as TransportError).code;
    }
  }

  for (const self of indices) {
    if (opts.absent?.includes(self)) continue;
    sessions.set(
      self,
      createPeerSession(
        { sid, self, parties, roundTimeoutMs: opts.roundTimeoutMs ?? 5_000, handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 5_000 },
        {
          signer: signers.get(self) as Signer,
          logger: { warn() {}, debug() {} },
          onClose() {},
          // Every session exists before anything is sent, so no retry is needed here.
          deliver(to, kind, body) {
            sent.push({ from: self, to, kind, body });
            setImmediate(() => {
              void post(to, kind, body).then((code) => {
                if (code !== 'ok') refusals.push({ to, kind, code });
              });
            });
          },
        },
      ),
    );
  }

  async function open(): Promise<Map<PartyIndex, SessionChannel>> {
    const channels = await Promise.all([...sessions.entries()].map(async ([p, s]) => [p, await s.handshake()] as const));
    return new Map(channels);
  }

  async function sendRound(from: PartyIndex, channel: SessionChannel, round: number, text: (to: PartyIndex) => string): Promise<void> {
    const signer = signers.get(from) as Signer;
    channel.broadcast(round, await sealEnvelope(signer, sid, round, from, BROADCAST, new TextEncoder().encode(`b${round} from ${from}`)));
    for (const to of indices) if (to !== from) channel.send(round, to, await sealEnvelope(signer, sid, round, from, to, new TextEncoder().encode(text(to))));
  }

  return { sid, indices, signers, sessions, sent, refusals, post, open, sendRound };
}

const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

describe('session channel over an in-memory wire', () => {
  it('runs the key exchange and delivers broadcast and encrypted point-to-point messages of several rounds', async () => {
    const g = memoryGroup(3);
    const channels = await g.open();
    for (const round of [1, 2]) {
      await Promise.all([...channels].map(([p, c]) => g.sendRound(p, c, round, (to) => `p2p r${round} ${p}->${to}`)));
      for (const [p, c] of channels) {
        const got = await c.collect(round);
        expect([...got.keys()].sort()).toEqual(g.indices.filter((q) => q !== p));
        for (const [q, m] of got) {
          expect(text(m.broadcast?.payload)).toBe(`b${round} from ${q}`);
          expect(text(m.p2p?.payload)).toBe(`p2p r${round} ${q}->${p}`);
        }
      }
    }
    expect(g.refusals).toEqual([]);
    // The point-to-point bodies on the wire carry ciphertext, not the signed envelope.
    const p2p = g.sent.filter((s) => s.kind === 'p2p');
    expect(p2p.length).toBe(12);
    for (const s of p2p) expect(Buffer.from(s.body).includes(Buffer.from('p2p r'))).toBe(false);
  });

  it('completes a broadcast-only round on the broadcasts alone, and still takes the late point-to-point bodies', async () => {
    const g = memoryGroup(2, { roundTimeoutMs: 2_000 });
    const channels = await g.open();
    const [c1, c2] = [channels.get(1) as SessionChannel, channels.get(2) as SessionChannel];
    const signer = g.signers.get(1) as Signer;
    c1.broadcast(1, await sealEnvelope(signer, g.sid, 1, 1, BROADCAST, new TextEncoder().encode('b1 from 1')));
    const got = await c2.collect(1, { broadcastOnly: true });
    expect(text(got.get(1)?.broadcast?.payload)).toBe('b1 from 1');
    expect(got.get(1)?.p2p).toBeUndefined();
    // Without the flag the same round waits for the point-to-point body, which may still come.
    const waiting = c2.collect(1);
    c1.send(1, 2, await sealEnvelope(signer, g.sid, 1, 1, 2, new TextEncoder().encode('{}')));
    expect(text((await waiting).get(1)?.p2p?.payload)).toBe('{}');
    // A broadcast-only round with a broadcast missing still times out, naming who is missing.
    await expect(c2.collect(2, { broadcastOnly: true })).rejects.toMatchObject({ missing: [1] });
    expect(g.refusals).toEqual([]);
  });

  it('refuses replayed, undecryptable, misattributed and badly signed messages, and still completes the round', async () => {
    const g = memoryGroup(2);
    const channels = await g.open();
    const [c1, c2] = [channels.get(1) as SessionChannel, channels.get(2) as SessionChannel];
    await g.sendRound(1, c1, 1, () => 'first');
    await c2.collect(1).catch(() => undefined);
    const p2p = g.sent.find((s) => s.from === 1 && s.kind === 'p2p') as Sent;
    const broadcast = g.sent.find((s) => s.from === 1 && s.kind === 'broadcast') as Sent;

    expect(await g.post(2, 'p2p', p2p.body)).toBe('E_REPLAY');
    expect(await g.post(2, 'broadcast', broadcast.body)).toBe('E_REPLAY');

    const json = JSON.parse(Buffer.from(p2p.body).toString()) as { seq: number; ciphertext: string };
    const ct = Buffer.from(json.ciphertext, 'base64');
    ct[3] = (ct[3] as number) ^ 1;
    const flipped = new TextEncoder().encode(JSON.stringify({ ...json, seq: json.seq + 1, ciphertext: ct.toString('base64') }));
    expect(await g.post(2, 'p2p', flipped)).toBe('E_DECRYPT');

    const stranger = developmentSigner();
    const forged = await sealEnvelope(stranger, g.sid, 2, 1, BROADCAST, new Uint8Array([1]));
    expect(await g.post(2, 'broadcast', encodeWire({ kind: 'broadcast', message: { sid: g.sid, sender: 1, seq: 2, envelope: forged } }))).toBe('E_ENVELOPE_REJECTED');
    const unsigned = { ...forged, signature: new Uint8Array(0) };
    expect(await g.post(2, 'broadcast', encodeWire({ kind: 'broadcast', message: { sid: g.sid, sender: 1, seq: 2, envelope: unsigned } }))).toBe('E_ENVELOPE_REJECTED');
    // Party 2's own envelope presented as party 1's body.
    const own = await sealEnvelope(g.signers.get(2) as Signer, g.sid, 2, 2, BROADCAST, new Uint8Array([2]));
    expect(await g.post(2, 'broadcast', encodeWire({ kind: 'broadcast', message: { sid: g.sid, sender: 1, seq: 2, envelope: own } }))).toBe('E_ENVELOPE_REJECTED');
    // A second, validly signed broadcast of the same round: the first one won.
    const second = await sealEnvelope(g.signers.get(1) as Signer, g.sid, 1, 1, BROADCAST, new Uint8Array([9]));
    expect(await g.post(2, 'broadcast', encodeWire({ kind: 'broadcast', message: { sid: g.sid, sender: 1, seq: 7, envelope: second } }))).toBe('E_REPLAY');
    expect(await g.post(2, 'broadcast', encodeWire({ kind: 'broadcast', message: { sid: g.sid, sender: 9, seq: 8, envelope: second } }))).toBe('E_UNKNOWN_SENDER');
    expect(c2.rejected).toBe(8);

    // The refused messages left nothing behind: round 2 completes with the genuine ones (seq 2 included).
    await g.sendRound(1, c1, 2, () => 'second');
    await g.sendRound(2, c2, 2, () => 'second');
    const got = await c2.collect(2);
    expect(text(got.get(1)?.p2p?.payload)).toBe('second');
    expect(text(got.get(1)?.broadcast?.payload)).toBe('b2 from 1');
  });

  it('keeps a broadcast forwarded under a large seq from turning the sender\'s later broadcasts into replays', async () => {
    const g = memoryGroup(3);
    const channels = await g.open();
    await g.sendRound(1, channels.get(1) as SessionChannel, 1, () => 'x');
    const genuine = decodeWire('broadcast', (g.sent.find((s) => s.from === 1 && s.kind === 'broadcast') as Sent).body);
    if (genuine.kind !== 'broadcast') throw new Error('unreachable');
    const round2 = await sealEnvelope(g.signers.get(1) as Signer, g.sid, 2, 1, BROADCAST, new Uint8Array([2]));
    // Party 3 relays party 1's genuine round-2 broadcast to party 2 under seq 1000 …
    expect(await g.post(2, 'broadcast', encodeWire({ kind: 'broadcast', message: { sid: g.sid, sender: 1, seq: 1000, envelope: round2 } }))).toBe('ok');
    // … and party 1's own round-3 broadcast under its next seq (2) is still accepted.
    const round3 = await sealEnvelope(g.signers.get(1) as Signer, g.sid, 3, 1, BROADCAST, new Uint8Array([3]));
    expect(await g.post(2, 'broadcast', encodeWire({ kind: 'broadcast', message: { sid: g.sid, sender: 1, seq: 2, envelope: round3 } }))).toBe('ok');
  });

  it('fails a collect with RoundTimeout naming the party that never sent', async () => {
    const g = memoryGroup(3, { roundTimeoutMs: 300 });
    const channels = await g.open();
    await g.sendRound(1, channels.get(1) as SessionChannel, 1, () => 'x');
    await g.sendRound(2, channels.get(2) as SessionChannel, 1, () => 'x');
    const err = await (channels.get(1) as SessionChannel).collect(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoundTimeout);
    expect((err as RoundTimeout).missing).toEqual([3]);
  });

  it('fails pending and later collects with PeerAbortNotice once an abort announcement arrives', async () => {
    const g = memoryGroup(3, { roundTimeoutMs: 5_000 });
    const channels = await g.open();
    const pending = (channels.get(1) as SessionChannel).collect(1).catch((e: unknown) => e);
    const abort = await sealEnvelope(g.signers.get(3) as Signer, g.sid, ABORT_ROUND, 3, BROADCAST, new TextEncoder().encode('abort'));
    (channels.get(3) as SessionChannel).broadcast(ABORT_ROUND, abort);
    const err = await pending;
    expect(err).toBeInstanceOf(PeerAbortNotice);
    expect((err as PeerAbortNotice).envelope.sender).toBe(3);
    await expect((channels.get(1) as SessionChannel).collect(2)).rejects.toBeInstanceOf(PeerAbortNotice);
    await expect((channels.get(2) as SessionChannel).collect(7)).rejects.toBeInstanceOf(PeerAbortNotice);
  });

  it('fails pending collects as timeouts when the session closes, and refuses messages afterwards', async () => {
    const g = memoryGroup(2);
    const channels = await g.open();
    const c1 = channels.get(1) as SessionChannel;
    const pending = c1.collect(1).catch((e: unknown) => e);
    c1.close();
    expect(await pending).toBeInstanceOf(RoundTimeout);
    const e = await sealEnvelope(g.signers.get(2) as Signer, g.sid, 1, 2, BROADCAST, new Uint8Array([1]));
    expect(await g.post(1, 'broadcast', encodeWire({ kind: 'broadcast', message: { sid: g.sid, sender: 2, seq: 1, envelope: e } }))).toBe('E_UNKNOWN_SESSION');
  });

  it('bounds the messages kept for rounds not collected yet', async () => {
    const g = memoryGroup(2);
    await g.open();
    const signer = g.signers.get(2) as Signer;
    const codes: string[] = [];
    for (let round = 1; round <= MAX_UNCOLLECTED_PER_SENDER + 1; round++) {
      const e = await sealEnvelope(signer, g.sid, round, 2, BROADCAST, new Uint8Array([round]));
      codes.push(await g.post(1, 'broadcast', encodeWire({ kind: 'broadcast', message: { sid: g.sid, sender: 2, seq: round, envelope: e } })));
    }
    expect(codes.slice(0, MAX_UNCOLLECTED_PER_SENDER).every((c) => c === 'ok')).toBe(true);
    expect(codes.at(-1)).toBe('E_BACKLOG_FULL');
  });

  it('fails the key exchange with HandshakeTimeout naming a peer that never opened the session', async () => {
    const g = memoryGroup(3, { handshakeTimeoutMs: 300, absent: [3] });
    const results = await Promise.all([...g.sessions.values()].map((s) => s.handshake().catch((e: unknown) => e)));
    for (const r of results) {
      expect(r).toBeInstanceOf(HandshakeTimeout);
      expect((r as HandshakeTimeout).missing).toContain(3);
    }
  });
});

describe('closing a session during its key exchange', () => {
  it('fails the handshake with E_SESSION_CLOSED when closed while the hello is still being signed, with no unhandled rejection', async () => {
    const sid = new Uint8Array(randomBytes(32));
    const own = developmentSigner();
    // An HSM takes its time: the hello's signature is still pending when the session closes.
    const slow: Signer = { publicKey: own.publicKey, sign: (m) => new Promise((r) => setTimeout(() => r(own.sign(m)), 50)) };
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const session = createPeerSession(
        { sid, self: 1, parties: [{ index: 1, identityKey: own.publicKey }, { index: 2, identityKey: developmentSigner().publicKey }], roundTimeoutMs: 5_000, handshakeTimeoutMs: 5_000 },
        { signer: slow, logger: { warn() {}, debug() {} }, onClose() {}, deliver() {} },
      );
      // Awaited at once, as the transport does.
      const outcome = session.handshake().then(() => 'open', (e: unknown) => e);
      await new Promise((r) => setTimeout(r, 10));
      session.close();
      expect(await outcome).toMatchObject({ code: 'E_SESSION_CLOSED' });
      // Give a stray rejection the turns it takes to be reported.
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
