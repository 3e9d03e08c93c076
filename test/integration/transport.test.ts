/**
 * The peer transport over real HTTPS with mutual TLS between processes (DESIGN §4 "Peer
 * transport", §6 layer 2): three party nodes, each a child process running
 * fixtures/transport-peer.ts with a development certificate and identity, run sessions of
 * broadcast and encrypted point-to-point rounds. A raw mTLS client then sends what an attacker
 * on the network (holding a certificate from the CA) or a misbehaving peer could: each is refused
 * with its HTTP status and error code, and the session completes afterwards. The bodies each
 * node sent and received are captured, and a secret share sent point-to-point is not among them.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ABORT_ROUND, BROADCAST, developmentSigner, sealEnvelope, type Envelope } from '../../cggmp/protocols/index.ts';
import {
  createDevelopmentCa,
  createPeerClient,
  DEFAULT_BASE_PATH,
  issueCertificate,
  type CertificateAndKey,
  type PeerClient,
  type PeerTls,
} from '../../sidecar/transport/index.ts';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'transport-peer.ts');
/** Small, so the oversized-body case does not move megabytes. */
const MAX_BODY_BYTES = 64 * 1024;
const ROUND_TIMEOUT_MS = 10_000;

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly error?: { name?: string; code?: string; message?: string; round?: number; missing?: number[]; sender?: number };
  readonly [k: string]: unknown;
}

interface Peer {
  readonly index: number;
  readonly endpoint: string;
  readonly identityKey: string;
  /** Bodies this node sent ('out') or received ('in'), in order. */
  readonly wire: { direction: 'out' | 'in'; body: Buffer }[];
  call(cmd: string, args?: Record<string, unknown>): Promise<Reply>;
  stop(): Promise<void>;
}

async function startPeer(index: number, tls: PeerTls): Promise<Peer> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [FIXTURE], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiting = new Map<number, (r: Reply) => void>();
  const wire: Peer['wire'] = [];
  let nextId = 1;
  let onReady: (r: { port: number; identityKey: string }) => void = () => {};
  const ready = new Promise<{ port: number; identityKey: string }>((resolve, reject) => {
    onReady = resolve;
    child.once('exit', (code) => reject(new Error(`peer ${index} exited (${code}): ${stderr}`)));
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const msg = JSON.parse(line) as Reply & { event?: string; direction?: 'out' | 'in'; body?: string; port?: number; identityKey?: string };
    if (msg.event === 'ready') onReady({ port: msg.port as number, identityKey: msg.identityKey as string });
    else if (msg.event === 'wire') wire.push({ direction: msg.direction as 'out' | 'in', body: Buffer.from(msg.body as string, 'base64') });
    else waiting.get(msg.id)?.(msg);
  });
  child.stdin.write(`${JSON.stringify({ tls, maxBodyBytes: MAX_BODY_BYTES })}\n`);
  const { port, identityKey } = await ready;
  return {
    index,
    endpoint: `https://127.0.0.1:${port}`,
    identityKey,
    wire,
    call(cmd, args = {}) {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        child.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
      });
    },
    async stop() {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

let ca: CertificateAndKey;
let peers: Peer[];
let raw: PeerClient;
let rogueTls: PeerTls;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sidOf = (): string => hex(randomBytes(32));
const payload = (s: string): string => Buffer.from(s).toString('hex');

function peer(i: number): Peer {
  return peers[i - 1] as Peer;
}

function open(p: Peer, sid: string, roundTimeoutMs = ROUND_TIMEOUT_MS): Promise<Reply> {
  const parties = peers.map((q) => ({ index: q.index, identityKey: q.identityKey, endpoint: q.endpoint }));
  return p.call('open', { sid, self: p.index, parties, roundTimeoutMs });
}

async function openAll(sid: string, roundTimeoutMs = ROUND_TIMEOUT_MS): Promise<void> {
  const replies = await Promise.all(peers.map((p) => open(p, sid, roundTimeoutMs)));
  for (const r of replies) expect(r.error).toBeUndefined();
}

/** Party `from` sends its broadcast and a p2p message to every other party for `round`. */
async function sendRound(sid: string, from: Peer, round: number, p2p: (to: number) => string = (to) => `r${round} ${from.index}->${to}`): Promise<void> {
  const others = peers.filter((p) => p !== from).map((p) => p.index);
  const r = await from.call('send', { sid, round, broadcast: payload(`r${round} broadcast of ${from.index}`), p2p: Object.fromEntries(others.map((to) => [to, payload(p2p(to))])) });
  expect(r.ok).toBe(true);
}

type Collected = Record<string, { broadcast?: string; p2p?: string; p2pRecipient?: number }>;

async function runRound(sid: string, round: number): Promise<void> {
  await Promise.all(peers.map((p) => sendRound(sid, p, round)));
  const results = await Promise.all(peers.map((p) => p.call('collect', { sid, round })));
  results.forEach((r, i) => {
    expect(r.error).toBeUndefined();
    const self = i + 1;
    const messages = r['messages'] as Collected;
    expect(Object.keys(messages).map(Number).sort()).toEqual(peers.map((p) => p.index).filter((p) => p !== self));
    for (const [from, m] of Object.entries(messages)) {
      expect(Buffer.from(m.broadcast as string, 'hex').toString()).toBe(`r${round} broadcast of ${from}`);
      expect(Buffer.from(m.p2p as string, 'hex').toString()).toBe(`r${round} ${from}->${self}`);
      expect(m.p2pRecipient).toBe(self);
    }
  });
}

function envelopeJson(e: Envelope): Record<string, unknown> {
  return { sid: hex(e.sid), round: e.round, sender: e.sender, recipient: e.recipient, payload: Buffer.from(e.payload).toString('base64'), signature: Buffer.from(e.signature).toString('base64') };
}

async function post(to: Peer, kind: string, body: unknown): Promise<{ status: number; code: unknown }> {
  const r = await raw.request(to.endpoint, `${DEFAULT_BASE_PATH}/${kind}`, body, { retries: 0, timeoutMs: 10_000 });
  return { status: r.status, code: (r.body as { error?: { code?: unknown } } | undefined)?.error?.code };
}

beforeAll(async () => {
  ca = await createDevelopmentCa({ commonName: 'vilna-mpc test CA' });
  const tlsFor = async (name: string, authority: CertificateAndKey): Promise<PeerTls> => ({
    ...(await issueCertificate(authority, { commonName: name, ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] })),
    caPem: ca.certPem,
  });
  const [t1, t2, t3, rawTls] = await Promise.all([tlsFor('party-1', ca), tlsFor('party-2', ca), tlsFor('party-3', ca), tlsFor('raw-client', ca)]);
  const rogueCa = await createDevelopmentCa({ commonName: 'rogue CA' });
  rogueTls = await tlsFor('rogue', rogueCa);
  raw = createPeerClient(rawTls);
  peers = await Promise.all([startPeer(1, t1), startPeer(2, t2), startPeer(3, t3)]);
});

afterAll(async () => {
  raw?.close();
  await Promise.all((peers ?? []).map((p) => p.stop()));
});

describe('peer transport between processes over mutual TLS', () => {
  it('runs the key exchange and three rounds of broadcast and encrypted p2p messages between three nodes', async () => {
    const sid = sidOf();
    await openAll(sid);
    for (const round of [1, 2, 3]) await runRound(sid, round);
    const rejected = await Promise.all(peers.map((p) => p.call('rejected', { sid })));
    expect(rejected.map((r) => r['rejected'])).toEqual([0, 0, 0]);
  });

  it('keeps retrying the key exchange towards a node that opens the session later, which then joins', async () => {
    const sid = sidOf();
    const from = peer(3).wire.length;
    const early = Promise.all([open(peer(1), sid), open(peer(2), sid)]);
    await new Promise((resolve) => setTimeout(resolve, 700));
    // Party 3 has received (and answered 409 E_UNKNOWN_SESSION to) hellos of this session already.
    const hellosBefore = peer(3)
      .wire.slice(from)
      .filter((w) => w.direction === 'in' && w.body.includes(`"sid":"${sid}"`) && w.body.includes('"mlkemPub"'));
    expect(hellosBefore.length).toBeGreaterThan(0);
    expect((await open(peer(3), sid)).error).toBeUndefined();
    for (const r of await early) expect(r.error).toBeUndefined();
    await runRound(sid, 1);
  });

  it('refuses forged, foreign, oversized, malformed, replayed and unauthenticated messages with their codes, and the session completes', async () => {
    const sid = sidOf();
    const sidBytes = Buffer.from(sid, 'hex');
    await openAll(sid);
    const p1 = peer(1);

    // Signed by an identity key the session does not pin for party 2.
    const forged = await sealEnvelope(developmentSigner(), sidBytes, 1, 2, BROADCAST, new Uint8Array([1]));
    expect(await post(p1, 'broadcast', { sid, sender: 2, seq: 1, envelope: envelopeJson(forged) })).toEqual({ status: 400, code: 'E_ENVELOPE_REJECTED' });
    // Unsigned.
    expect(await post(p1, 'broadcast', { sid, sender: 2, seq: 1, envelope: { ...envelopeJson(forged), signature: '' } })).toEqual({ status: 400, code: 'E_ENVELOPE_REJECTED' });
    // Genuinely signed by party 2, but for another session.
    const sealed = await peer(2).call('seal', { sid: sidOf(), round: 1, sender: 2, recipient: BROADCAST, payload: payload('elsewhere') });
    expect(await post(p1, 'broadcast', { sid, sender: 2, seq: 1, envelope: sealed['envelope'] })).toEqual({ status: 400, code: 'E_ENVELOPE_REJECTED' });
    // A session this node does not have.
    const foreignSid = sidOf();
    const foreign = await sealEnvelope(developmentSigner(), Buffer.from(foreignSid, 'hex'), 1, 2, BROADCAST, new Uint8Array([1]));
    expect(await post(p1, 'broadcast', { sid: foreignSid, sender: 2, seq: 1, envelope: envelopeJson(foreign) })).toEqual({ status: 409, code: 'E_UNKNOWN_SESSION' });
    // A sender that is not in the session.
    expect(await post(p1, 'broadcast', { sid, sender: 9, seq: 1, envelope: envelopeJson(forged) })).toEqual({ status: 403, code: 'E_UNKNOWN_SENDER' });
    // Larger than the node's body limit.
    const huge = Buffer.from(JSON.stringify({ sid, sender: 2, seq: 1, envelope: { ...envelopeJson(forged), payload: Buffer.alloc(MAX_BODY_BYTES).toString('base64') } }));
    expect(await post(p1, 'broadcast', huge)).toEqual({ status: 413, code: 'E_BODY_TOO_LARGE' });
    // Not JSON; JSON with an extra key.
    expect(await post(p1, 'broadcast', Buffer.from('{"sid":'))).toEqual({ status: 400, code: 'E_MALFORMED' });
    expect(await post(p1, 'broadcast', { sid, sender: 2, seq: 1, envelope: envelopeJson(forged), extra: true })).toEqual({ status: 400, code: 'E_MALFORMED' });
    // A p2p body the raw client cannot have encrypted under the pair's key.
    expect(await post(p1, 'p2p', { sid, sender: 2, recipient: 1, seq: 1, ciphertext: randomBytes(64).toString('base64') })).toEqual({ status: 400, code: 'E_DECRYPT' });

    // A client certificate from another CA, and none at all: the TLS handshake is refused.
    // (Bodies that the session would count as refused, had they reached it: the final count shows they did not.)
    const unknownSender = { sid, sender: 9, seq: 1, envelope: envelopeJson(forged) };
    const rogue = createPeerClient(rogueTls);
    await expect(rogue.request(p1.endpoint, `${DEFAULT_BASE_PATH}/broadcast`, unknownSender, { retries: 0, timeoutMs: 5_000 })).rejects.toMatchObject({
      code: expect.stringMatching(/^E_PEER_(TLS|UNREACHABLE)$/),
    });
    rogue.close();
    const noCert = await new Promise<string>((resolve) => {
      const req = httpsRequest(`${p1.endpoint}${DEFAULT_BASE_PATH}/broadcast`, { method: 'POST', ca: ca.certPem }, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      req.end(JSON.stringify(unknownSender));
    });
    expect(noCert).toMatch(/^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET)$/);

    // The session is undisturbed: a round completes.
    await runRound(sid, 1);

    // Party 2's genuine bodies of round 1, sent again: replays.
    const sent = peer(2).wire.filter((w) => w.direction === 'out').map((w) => JSON.parse(w.body.toString()) as Record<string, unknown>);
    const p2p = sent.find((b) => b['sid'] === sid && b['recipient'] === 1 && 'ciphertext' in b);
    const broadcast = sent.find((b) => b['sid'] === sid && 'envelope' in b);
    expect(await post(p1, 'p2p', p2p)).toEqual({ status: 409, code: 'E_REPLAY' });
    expect(await post(p1, 'broadcast', broadcast)).toEqual({ status: 409, code: 'E_REPLAY' });

    await runRound(sid, 2);
    // forged, unsigned, other session, unknown sender, undecryptable, two replays.
    expect((await p1.call('rejected', { sid }))['rejected']).toBe(7);
  });

  it('never puts a share sent point-to-point on the wire, in raw bytes, hex or base64', async () => {
    const sid = sidOf();
    const share = randomBytes(32);
    const from = peers.map((p) => p.wire.length);
    await openAll(sid);
    const [p1, p2, p3] = [peer(1), peer(2), peer(3)];
    await Promise.all([
      p1.call('send', { sid, round: 1, broadcast: payload('b1'), p2p: { 2: hex(Buffer.concat([Buffer.from('share:'), share])), 3: payload('nothing') } }),
      sendRound(sid, p2, 1),
      sendRound(sid, p3, 1),
    ]);
    const got = await p2.call('collect', { sid, round: 1 });
    expect((got['messages'] as Collected)['1']?.p2p).toBe(hex(Buffer.concat([Buffer.from('share:'), share])));
    await Promise.all([p1.call('collect', { sid, round: 1 }), p3.call('collect', { sid, round: 1 })]);

    const captured = peers.flatMap((p, i) => p.wire.slice(from[i]).map((w) => w.body));
    expect(captured.some((b) => b.toString().includes('"ciphertext"'))).toBe(true);
    const forms: Buffer[] = [share, Buffer.from(hex(share)), Buffer.from(hex(share).toUpperCase())];
    // Base64 of the share at each of the three byte alignments it can have inside a longer value.
    for (const shift of [0, 1, 2]) {
      const encoded = Buffer.concat([Buffer.alloc(shift), share]).toString('base64');
      forms.push(Buffer.from(encoded.slice(4, -4)), Buffer.from(encoded.slice(4, -4).replaceAll('+', '-').replaceAll('/', '_')));
    }
    const leaks = (body: Buffer): boolean => forms.some((form) => body.includes(form));
    // The detector finds the share in what the envelope would look like if it travelled in the clear.
    expect(leaks(Buffer.from(JSON.stringify({ payload: Buffer.concat([Buffer.from('share:'), share]).toString('base64') })))).toBe(true);
    expect(leaks(Buffer.from(JSON.stringify({ payload: Buffer.concat([Buffer.from('share'), share]).toString('base64') })))).toBe(true);
    expect(captured.filter(leaks)).toEqual([]);
  });

  it('fails a collect with RoundTimeout naming the party that never sent', async () => {
    const sid = sidOf();
    await openAll(sid, 1_500);
    await Promise.all([sendRound(sid, peer(1), 1), sendRound(sid, peer(2), 1)]);
    const results = await Promise.all([peer(1).call('collect', { sid, round: 1 }), peer(2).call('collect', { sid, round: 1 })]);
    for (const r of results) expect(r.error).toMatchObject({ name: 'RoundTimeout', code: 'E_ROUND_TIMEOUT', round: 1, missing: [3] });
  });

  it('fails pending and later collects with PeerAbortNotice after an ABORT_ROUND broadcast', async () => {
    const sid = sidOf();
    await openAll(sid);
    const pending = Promise.all([peer(1).call('collect', { sid, round: 1 }), peer(2).call('collect', { sid, round: 1 })]);
    const announced = await peer(3).call('send', { sid, round: ABORT_ROUND, broadcast: payload('abort: evidence') });
    expect(announced.ok).toBe(true);
    for (const r of await pending) expect(r.error).toMatchObject({ name: 'PeerAbortNotice', sender: 3, round: ABORT_ROUND });
    const later = await peer(1).call('collect', { sid, round: 2 });
    expect(later.error).toMatchObject({ name: 'PeerAbortNotice', sender: 3 });
  });
});
