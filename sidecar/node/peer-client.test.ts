/**
 * Calls to co-signers over the real mutual-TLS client (issue 16 item 6): a co-signer that takes
 * the call and never answers fails it at the deadline, one whose connection drops or is refused
 * fails it at once; each is sent once and reported as having given no answer; an error answer
 * and a cancellation are neither.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDevelopmentCa, createPeerClient, issueCertificate, peerServerOptions, type PeerClient, type PeerTls } from '../transport/index.ts';
import { callCoSigner, PeerCallError, PeerUnresponsive, type NoAnswer } from './peer-client.ts';

let serverTls: PeerTls;
let clientTls: PeerTls;
let server: Server | undefined;
let client: PeerClient | undefined;

beforeAll(async () => {
  const ca = await createDevelopmentCa({ commonName: 'co-signer test CA' });
  const s = await issueCertificate(ca, { commonName: 'co-signer', ipAddresses: ['127.0.0.1'], dnsNames: [] });
  const c = await issueCertificate(ca, { commonName: 'assembler', ipAddresses: ['127.0.0.1'], dnsNames: [] });
  serverTls = { caPem: ca.certPem, certPem: s.certPem, keyPem: s.keyPem };
  clientTls = { caPem: ca.certPem, certPem: c.certPem, keyPem: c.keyPem };
});

afterEach(() => {
  client?.close();
  client = undefined;
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** A co-signer that handles every call the given way; counts the calls that reached it. */
async function coSigner(handle: 'silent' | 'drop' | 'refuse-answer' | 'act-then-reset'): Promise<{ endpoint: string; calls: () => number }> {
  let calls = 0;
  server = createServer(peerServerOptions(serverTls), (req, res) => {
    calls++;
    req.resume();
    if (handle === 'act-then-reset') {
      // 1: answered (the connection is kept alive); 2: acted on, then the connection is reset
      // before the answer; 3: the repeat of 2, refused as what it is.
      if (calls === 1) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else if (calls === 2) req.socket.destroy();
      else res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'E_REPLAY', message: 'own nonce is unknown, expired or already used' } }));
      return;
    }
    if (handle === 'drop') setTimeout(() => req.socket.destroy(), 200); // the process died while working on it
    if (handle === 'refuse-answer') res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'E_BINDING_MISMATCH', message: 'no' } }));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { endpoint: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, calls: () => calls };
}

function sink(): { failed: (p: { index: number }, reason: NoAnswer) => void; seen: string[] } {
  const seen: string[] = [];
  return { seen, failed: (p, reason) => void seen.push(`${p.index}:${reason}`) };
}

const call = (endpoint: string, s: ReturnType<typeof sink>, deadlineMs: number, signal?: AbortSignal) => {
  client = createPeerClient(clientTls);
  return callCoSigner(client, s, { index: 2, identityKey: '02'.repeat(33), endpoint }, '/v1/peer/control/sign', { a: 1 }, deadlineMs, signal);
};

async function failure(p: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const t0 = performance.now();
  const error = await p.then(() => undefined, (e: unknown) => e);
  return { error, ms: performance.now() - t0 };
}

describe('calls to co-signers', () => {
  it('fails at the deadline when the co-signer takes the call and never answers, sent once', async () => {
    const c = await coSigner('silent');
    const s = sink();
    const { error, ms } = await failure(call(c.endpoint, s, 400));
    expect(error).toBeInstanceOf(PeerUnresponsive);
    expect(error).toMatchObject({ code: 'E_PEER_TIMEOUT', party: 2, reason: 'timeout' });
    expect((error as Error).message).not.toMatch(/127\.0\.0\.1/);
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(3_000);
    expect(c.calls()).toBe(1);
    expect(s.seen).toEqual(['2:timeout']);
  });

  it('fails at once when the co-signer\'s connection drops mid-call, and does not send it again', async () => {
    const c = await coSigner('drop');
    const s = sink();
    const { error, ms } = await failure(call(c.endpoint, s, 10_000));
    expect(error).toMatchObject({ code: 'E_PEER_UNREACHABLE', reason: 'unreachable' });
    expect(ms).toBeLessThan(3_000);
    expect(c.calls()).toBe(1);
    expect(s.seen).toEqual(['2:unreachable']);
  });

  it('fails at once when the co-signer\'s port is closed', async () => {
    const c = await coSigner('silent');
    server!.close();
    server = undefined;
    const s = sink();
    const { error, ms } = await failure(call(c.endpoint, s, 10_000));
    expect(error).toMatchObject({ code: 'E_PEER_UNREACHABLE', reason: 'unreachable' });
    expect(ms).toBeLessThan(3_000);
    expect(s.seen).toEqual(['2:unreachable']);
  });

  it('counts a replay refusal of the resend after a reset as no answer: the first send arrived and its answer was lost', async () => {
    // Before: the transport resent the call on a new connection (a reset on a kept-alive one looks
    // like a stale socket), the co-signer refused the repeat with 409 E_REPLAY, and that refusal
    // reached the API client as final (the soak, with Toxiproxy resetting connections).
    const c = await coSigner('act-then-reset');
    const s = sink();
    client = createPeerClient(clientTls);
    const peer = { index: 2, identityKey: '02'.repeat(33), endpoint: c.endpoint };
    await callCoSigner(client, s, peer, '/v1/peer/control/presign/start', { a: 1 }, 5_000);
    const { error } = await failure(callCoSigner(client, s, peer, '/v1/peer/control/presign/start', { a: 2 }, 5_000));
    expect(error).toBeInstanceOf(PeerUnresponsive);
    expect(error).toMatchObject({ code: 'E_PEER_UNREACHABLE', party: 2, reason: 'unreachable' });
    expect(c.calls()).toBe(3);
    expect(s.seen).toEqual(['2:unreachable']);
  });

  it('passes an error answer on as the co-signer\'s, and a cancellation as neither: no failover for them', async () => {
    const refusing = await coSigner('refuse-answer');
    const s = sink();
    expect((await failure(call(refusing.endpoint, s, 5_000))).error).toMatchObject({ constructor: PeerCallError, code: 'E_BINDING_MISMATCH', status: 409 });
    client?.close();
    server?.closeAllConnections();
    server?.close();
    const silent = await coSigner('silent');
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 100);
    const { error } = await failure(call(silent.endpoint, s, 5_000, cancel.signal));
    expect(error).not.toBeInstanceOf(PeerUnresponsive);
    expect(s.seen).toEqual([]);
  });
});
