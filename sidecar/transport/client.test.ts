/**
 * The peer client over kept-alive connections: a request that meets a connection the server has
 * just closed as idle is sent again on a new one even without a retry budget, because it never
 * reached the server; a reset on a fresh connection is a real failure and is not repeated.
 */
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDevelopmentCa, issueCertificate, peerServerOptions, type PeerTls } from './certificates.ts';
import { createPeerClient } from './client.ts';

let serverTls: PeerTls;
let clientTls: PeerTls;
let server: Server | undefined;

beforeAll(async () => {
  const ca = await createDevelopmentCa({ commonName: 'client test CA' });
  const s = await issueCertificate(ca, { commonName: 'server', ipAddresses: ['127.0.0.1'], dnsNames: [] });
  const c = await issueCertificate(ca, { commonName: 'client', ipAddresses: ['127.0.0.1'], dnsNames: [] });
  serverTls = { caPem: ca.certPem, certPem: s.certPem, keyPem: s.keyPem };
  clientTls = { caPem: ca.certPem, certPem: c.certPem, keyPem: c.keyPem };
});

afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/**
 * A server that answers each connection's first request and resets the connection on the second
 * one, as a server does that closed an idle kept-alive connection while the request was on its way.
 * With `resetFirst` it resets every connection's first request instead.
 */
async function startServer(opts: { resetFirst?: boolean } = {}): Promise<{ url: string; connections: () => number; answered: () => number }> {
  let connections = 0;
  let answered = 0;
  const seen = new WeakMap<Socket, number>();
  server = createServer(peerServerOptions(serverTls), (req, res) => {
    const n = (seen.get(req.socket) ?? 0) + 1;
    seen.set(req.socket, n);
    if (opts.resetFirst || n > 1) {
      req.socket.destroy();
      return;
    }
    answered++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n: answered }));
  });
  server.keepAliveTimeout = 60_000;
  server.on('secureConnection', () => connections++);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `https://127.0.0.1:${port}`, connections: () => connections, answered: () => answered };
}

describe('peer client on kept-alive connections', () => {
  it('sends a request again on a new connection when the reused one was closed, with no retry budget', async () => {
    const s = await startServer();
    const client = createPeerClient(clientTls);
    try {
      const first = await client.request(s.url, '/x', { a: 1 }, { retries: 0 });
      expect(first).toMatchObject({ status: 200, body: { n: 1 }, attempts: 1 });
      const second = await client.request(s.url, '/x', { a: 2 }, { retries: 0 });
      // Sent twice: the reset may have come after the server acted on the first send.
      expect(second).toMatchObject({ status: 200, body: { n: 2 }, attempts: 2 });
      expect(s.connections()).toBe(2);
    } finally {
      client.close();
    }
  });

  it('does not repeat a request whose fresh connection was reset: that is a real failure', async () => {
    const s = await startServer({ resetFirst: true });
    const client = createPeerClient(clientTls);
    try {
      await expect(client.request(s.url, '/x', { a: 1 }, { retries: 0 })).rejects.toMatchObject({ code: 'E_PEER_UNREACHABLE' });
      expect(s.connections()).toBe(1);
      expect(s.answered()).toBe(0);
    } finally {
      client.close();
    }
  });
});
