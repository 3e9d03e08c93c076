import { describe, expect, it } from 'vitest';
import type { PeerClient, PeerResponse } from './client.ts';
import { createOutbox } from './outbox.ts';

/** A peer client whose requests are answered when the test says so; `started` lists the bodies sent. */
function fakeClient() {
  const started: string[] = [];
  const answers = new Map<string, () => void>();
  const client: PeerClient = {
    request(_endpoint, path, body) {
      const label = `${path.slice(path.lastIndexOf('/') + 1)}:${new TextDecoder().decode(body as Uint8Array)}`;
      started.push(label);
      return new Promise<PeerResponse>((resolve) => answers.set(label, () => resolve({ status: 200, body: undefined, attempts: 1 })));
    },
    close() {},
  };
  const answer = async (label: string): Promise<void> => {
    answers.get(label)!();
    // Let the outbox see the answer and start what it held back.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { client, started, answer };
}

function outbox(client: PeerClient) {
  const o = createOutbox({ client, endpoint: 'https://peer.example', basePath: '/v1/peer/transport', peer: 2, signal: new AbortController().signal, logger: { warn() {}, debug() {} }, log: {} });
  const later = Date.now() + 60_000;
  return { o, add: (kind: 'hello' | 'broadcast' | 'p2p', text: string, barrier?: boolean) => o.enqueue(kind, new TextEncoder().encode(text), later, barrier) };
}

describe('session outbox towards one peer', () => {
  it("sends a round's broadcast and p2p body together, each kind in the order queued", async () => {
    const { client, started, answer } = fakeClient();
    const { o, add } = outbox(client);
    add('broadcast', 'b1');
    add('p2p', 'p1');
    add('broadcast', 'b2');
    add('p2p', 'p2');
    // One round trip for the round, not two: both of round 1 are in flight at once.
    expect(started).toEqual(['broadcast:b1', 'p2p:p1']);
    await answer('p2p:p1');
    expect(started).toEqual(['broadcast:b1', 'p2p:p1', 'p2p:p2']);
    await answer('broadcast:b1');
    expect(started).toEqual(['broadcast:b1', 'p2p:p1', 'p2p:p2', 'broadcast:b2']);
    let idle = false;
    void o.idle().then(() => (idle = true));
    await answer('p2p:p2');
    expect(idle).toBe(false);
    await answer('broadcast:b2');
    expect(idle).toBe(true);
  });

  it('sends a barrier (an abort announcement, the key exchange) after everything before it and before everything after', async () => {
    const { client, started, answer } = fakeClient();
    const { add } = outbox(client);
    add('hello', 'h');
    add('broadcast', 'b1');
    expect(started).toEqual(['hello:h']);
    await answer('hello:h');
    add('p2p', 'p1');
    add('broadcast', 'abort', true);
    add('p2p', 'p2');
    expect(started).toEqual(['hello:h', 'broadcast:b1', 'p2p:p1']);
    await answer('broadcast:b1');
    expect(started).toEqual(['hello:h', 'broadcast:b1', 'p2p:p1']);
    await answer('p2p:p1');
    expect(started).toEqual(['hello:h', 'broadcast:b1', 'p2p:p1', 'broadcast:abort']);
    await answer('broadcast:abort');
    expect(started).toEqual(['hello:h', 'broadcast:b1', 'p2p:p1', 'broadcast:abort', 'p2p:p2']);
  });
});
