/**
 * The envelope checks every receiver applies (DESIGN §7: message for another session, round or
 * recipient; unsigned or wrongly signed; replayed): such envelopes are rejected and never reach
 * the protocol, which completes on the genuine messages; delayed and reordered messages change
 * nothing; an undecodable payload names its (signing) sender.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BROADCAST, envelopeSigningBytes, payloadDigest, type Envelope } from '../protocols/channel.ts';
import { developmentSigner } from '../protocols/identity.ts';
import { ProtocolAbort } from '../protocols/abort.ts';
import { keygen, KEYGEN_ROUNDS } from '../protocols/keygen.ts';
import { verifyAbortEvidence } from '../protocols/evidence.ts';
import { adversarialChannel, type Behaviour } from './adversary.ts';
import type { MemoryNetwork } from './memory-network.ts';
import { runSession, simGroup } from './run.ts';

const parties = [1, 2, 3];

async function keygenWith(behaviour: (net: MemoryNetwork, sid: Uint8Array) => Behaviour) {
  const group = simGroup(parties);
  let network: MemoryNetwork | undefined;
  const outcomes = await runSession(
    {
      protocol: 'keygen',
      group,
      parties,
      timeoutMs: 20_000,
      awaitParties: [1, 3],
      wrap: (p, channel, net, sid) => {
        network = net;
        return p !== 2 ? channel : adversarialChannel({ self: 2, parties, signer: group.signers.get(2)!, sid, inner: channel, net, behaviour: behaviour(net, sid) });
      },
    },
    (s) => keygen(s, { keyId: 'k', threshold: 2 }),
  );
  return { outcomes, group, rejected: network!.rejected };
}

describe('transport-level rejection in the simulator', () => {
  it('rejects envelopes for another session, round or recipient, unsigned, wrongly signed or replayed; the protocol completes', async () => {
    const stranger = developmentSigner();
    const injected: Envelope[] = [];
    const { outcomes, rejected } = await keygenWith((_net, sid) => (m) => {
      if (m.round !== KEYGEN_ROUNDS.commit || m.recipient !== BROADCAST) return undefined;
      const e = m.envelope;
      const bad: Envelope[] = [
        { ...e, sid: randomBytes(32) }, // another session (signature no longer matches either)
        { ...e, round: 3 }, // another round
        { ...e, recipient: 3 }, // a broadcast re-addressed
        { ...e, signature: new Uint8Array(64) }, // unsigned
      ];
      // Signed by a key that is not party 2's.
      const forged = { ...e, signature: stranger.sign(envelopeSigningBytes(sid, e.round, 2, BROADCAST, payloadDigest(e.payload))) as Uint8Array };
      bad.push(forged);
      injected.push(...bad);
      return { raw: [...bad.map((envelope) => ({ to: 1, envelope })), { to: 1, envelope: e }, { to: 3, envelope: e }, { to: 1, envelope: e }] };
    });
    for (const p of parties) expect(outcomes.get(p)!.ok, `party ${p}`).toBe(true);
    // Every bad envelope and the replayed duplicate were refused by party 1.
    const refused = rejected.filter((r) => r.to === 1).map((r) => r.envelope);
    for (const e of injected) expect(refused).toContain(e);
    expect(refused.length).toBe(injected.length + 1);
  });

  it('completes when a party’s messages are delayed and overtaken by later ones', async () => {
    const { outcomes } = await keygenWith(() => (m) => (m.round === KEYGEN_ROUNDS.decommit && m.recipient !== BROADCAST ? { delayMs: 50 } : undefined));
    for (const p of parties) expect(outcomes.get(p)!.ok).toBe(true);
  });

  it('names the sender of a signed payload that does not decode (malformed message)', async () => {
    const garbage = new TextEncoder().encode('{"V": "not the canonical encoding"}');
    const { outcomes, group } = await keygenWith(() => (m) => (m.round === KEYGEN_ROUNDS.commit && m.recipient === BROADCAST ? { payload: garbage } : undefined));
    for (const p of [1, 3]) {
      const abort = (outcomes.get(p) as { error: unknown }).error as ProtocolAbort;
      expect(abort).toBeInstanceOf(ProtocolAbort);
      expect(abort.culprits).toEqual([2]);
      expect(abort.reason).toBe('malformed-message');
      expect(verifyAbortEvidence(abort, { identities: group.identities, threshold: 2 })).toBe(true);
    }
  });
});
