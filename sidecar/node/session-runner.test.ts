import { describe, expect, it } from 'vitest';
import { protocols } from '../../cggmp/index.ts';
import { SessionRunner, type SessionTransport } from './session-runner.ts';

/** A transport whose channel records what happens to it, in order. */
function recordingTransport(events: string[]): SessionTransport {
  return {
    openSession: () =>
      Promise.resolve({
        broadcast: (round: number) => void events.push(`broadcast ${round}`),
        send: (round: number, to: number) => void events.push(`send ${round} to ${to}`),
        collect: () => new Promise<never>(() => undefined),
        close: () => void events.push('close'),
      }),
  };
}

/** An identity signer that answers later, as the HSM does. */
function slowSigner(): protocols.Signer {
  const inner = protocols.developmentSigner();
  return { publicKey: inner.publicKey, sign: (m) => new Promise((r) => setTimeout(() => r(inner.sign(m) as Uint8Array), 50)) };
}

describe('session runner', () => {
  it('sends the abort announcement before it closes the channel of an aborted session', async () => {
    // Before: the channel closed synchronously on the throw, and the announcement, signed 50 ms
    // later, went to a closed channel: the others waited for their round timeout.
    const events: string[] = [];
    const signer = slowSigner();
    const runner = new SessionRunner(recordingTransport(events), signer, 10_000);
    const parties = [1, 2].map((index) => ({ index, identityKey: signer.publicKey, endpoint: `https://127.0.0.1:${index}` }));
    const run = runner.run({ protocol: 'keygen', sid: new Uint8Array(32).fill(1), self: 1, parties }, (s) =>
      s.abort({ round: 1, culprits: [2], reason: 'invalid-proof', detail: 'test' }),
    );
    await expect(run).rejects.toBeInstanceOf(protocols.ProtocolAbort);
    expect(events).toEqual([`broadcast ${protocols.ABORT_ROUND}`, 'close']);
  });
});
