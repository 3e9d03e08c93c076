import { describe, expect, it } from 'vitest';
import { CURVE_ORDER, mulG } from '../curve/index.ts';
import { corruptWrap, runSession, simGroup, type Outcome } from '../sim/run.ts';
import type { Behaviour } from '../sim/adversary.ts';
import { ProtocolAbort } from './abort.ts';
import { ABORT_ROUND, BROADCAST, envelopeSigningBytes, envelopeValue, payloadDigest } from './channel.ts';
import { encodeValue } from '../transcript/index.ts';
import { keygen, KEYGEN_ROUNDS } from './keygen.ts';
import type { KeyShare } from './key-share.ts';
import { lagrangeAtZero } from './polynomial.ts';
import { verifyAbortEvidence } from './evidence.ts';
import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import { developmentSigner } from './identity.ts';
import { openSession } from './session.ts';

async function runKeygen(n: number, t: number, corrupt?: { party: number; behaviour: Behaviour }) {
  const parties = Array.from({ length: n }, (_, i) => i + 1);
  const group = simGroup(parties);
  const wrap = corrupt ? corruptWrap(group, parties, corrupt.party, corrupt.behaviour) : undefined;
  const honest = parties.filter((p) => p !== corrupt?.party);
  const verifyAbort = (a: ProtocolAbort) => verifyAbortEvidence(a, { identities: group.identities, threshold: t });
  const outcomes = await runSession({ protocol: 'keygen', group, parties, timeoutMs: 20_000, awaitParties: honest, verifyAbort, ...(wrap ? { wrap } : {}) }, (s) =>
    keygen(s, { keyId: 'test-key', threshold: t }),
  );
  return { parties, group, outcomes };
}

function shares(outcomes: Map<number, Outcome<KeyShare>>): KeyShare[] {
  return [...outcomes.values()].map((o) => {
    if (!o.ok) throw o.error;
    return o.value;
  });
}

describe('threshold keygen', () => {
  for (const [n, t] of [[2, 2], [3, 2], [5, 3], [4, 4]] as const) {
    it(`${t}-of-${n}: every party agrees on the key, and any t shares interpolate its secret`, async () => {
      const { outcomes } = await runKeygen(n, t);
      const all = shares(outcomes);
      const pub = all[0]!.public;
      for (const s of all) {
        expect(s.public.publicKey.equals(pub.publicKey)).toBe(true);
        expect(Buffer.from(s.public.chainCode).equals(Buffer.from(pub.chainCode))).toBe(true);
        expect(mulG(s.secret.x).equals(pub.publicShares[pub.parties.indexOf(s.secret.index)]!)).toBe(true);
      }
      const subset = all.slice(n - t);
      const xs = subset.map((s) => BigInt(s.secret.index));
      const secret = subset.reduce((acc, s) => (acc + lagrangeAtZero(xs, BigInt(s.secret.index)) * s.secret.x) % CURVE_ORDER, 0n);
      expect(mulG(secret).equals(pub.publicKey)).toBe(true);
      // t - 1 shares interpolate to something else.
      if (t > 2) {
        const fewer = subset.slice(1);
        const xf = fewer.map((s) => BigInt(s.secret.index));
        const wrong = fewer.reduce((acc, s) => (acc + lagrangeAtZero(xf, BigInt(s.secret.index)) * s.secret.x) % CURVE_ORDER, 0n);
        expect(mulG(wrong).equals(pub.publicKey)).toBe(false);
      }
    });
  }

  it('stops before dealing when parties are configured with different thresholds, naming nobody', async () => {
    const parties = [1, 2, 3];
    const group = simGroup(parties);
    const outcomes = await runSession({ protocol: 'keygen', group, parties, timeoutMs: 20_000 }, (s) =>
      keygen(s, { keyId: 'test-key', threshold: s.params.self === 3 ? 3 : 2 }),
    );
    for (const o of outcomes.values()) {
      expect(o.ok).toBe(false);
      const abort = (o as { error: unknown }).error as ProtocolAbort;
      expect(abort.culprits).toEqual([]);
      expect(abort.reason).toBe('unattributed');
    }
  });

  it('refuses party number 0, numbers above 1024 and repeated or unordered numbers before sending anything', async () => {
    // Issue 10 item 3: party 0 is the broadcast address, and f_i(0) is a dealer's whole secret.
    for (const parties of [[0, 1, 2], [1, 2, 1025], [1, 2, 2], [2, 1, 3]]) {
      const sent: unknown[] = [];
      const channel = { broadcast: (_r: number, m: unknown) => void sent.push(m), send: (_r: number, _to: number, m: unknown) => void sent.push(m), collect: () => new Promise<never>(() => undefined) };
      const signer = developmentSigner();
      const identities = new Map(parties.map((p) => [p, signer.publicKey] as const));
      const open = () => openSession({ protocol: 'keygen', sid: randomBytes(32), self: 1, parties, identities, signer, channel });
      expect(open).toThrow(InvalidInputError);
      expect(sent).toEqual([]);
    }
    // Through the simulator as the product runs it: the run fails before any party starts.
    const parties = [0, 1, 2];
    const run = runSession({ protocol: 'keygen', group: simGroup(parties), parties, timeoutMs: 5_000 }, (s) => keygen(s, { keyId: 'k', threshold: 2 }));
    await expect(run).rejects.toThrow(/party numbers must lie in \[1, 1024\]/);
  });

  it('refuses t = 1 and t > n', async () => {
    await expect(runKeygen(3, 1).then((r) => shares(r.outcomes))).rejects.toThrow(/2 ≤ t ≤ n/);
    await expect(runKeygen(3, 4).then((r) => shares(r.outcomes))).rejects.toThrow(/2 ≤ t ≤ n/);
  });
});

async function expectCulprit(behaviour: Behaviour, reason: string, corrupt = 2): Promise<void> {
  const { outcomes, group } = await runKeygen(3, 2, { party: corrupt, behaviour });
  for (const [p, o] of outcomes) {
    if (p === corrupt) continue;
    expect(o.ok, `party ${p} should abort`).toBe(false);
    const e = (o as { error: unknown }).error;
    expect(e).toBeInstanceOf(ProtocolAbort);
    const abort = e as ProtocolAbort;
    expect(abort.culprits).toEqual([corrupt]);
    expect(abort.reason).toBe(reason);
    expect(verifyAbortEvidence(abort, { identities: group.identities, threshold: 2 })).toBe(true);
  }
}

describe('keygen under a corrupt party', () => {
  it('names a party whose decommitment does not open its commitment', () =>
    expectCulprit(
      (m) => (m.round === KEYGEN_ROUNDS.decommit && m.recipient === 0 ? { value: { ...(m.value as object), u: new Uint8Array(32) } as never } : undefined),
      'commitment-mismatch',
    ));

  it('names a party that deals a wrong VSS share', () =>
    expectCulprit(
      (m) => (m.round === KEYGEN_ROUNDS.decommit && m.recipient !== 0 ? { value: { sigma: ((m.value as { sigma: bigint }).sigma + 1n) % CURVE_ORDER } } : undefined),
      'vss-share',
    ));

  it('names a party with an invalid Schnorr proof', () =>
    expectCulprit(
      (m) => (m.round === KEYGEN_ROUNDS.prove && m.recipient === 0 ? { value: { z: ((m.value as { z: bigint }).z + 1n) % CURVE_ORDER } } : undefined),
      'invalid-proof',
    ));

  it('names a party that equivocates on its commitment', () =>
    expectCulprit(
      (m) =>
        m.round === KEYGEN_ROUNDS.commit && m.recipient === 0
          ? { perRecipient: (to) => (to === 1 ? (m.value as never) : { ...(m.value as object), V: new Uint8Array(32).fill(to) } as never) }
          : undefined,
      'equivocation',
    ));

  it('names a party that deals a wrong share to one party only: the others adopt the announced, re-checked abort', () =>
    expectCulprit(
      (m) => (m.round === KEYGEN_ROUNDS.decommit && m.recipient === 1 ? { value: { sigma: ((m.value as { sigma: bigint }).sigma + 1n) % CURVE_ORDER } } : undefined),
      'vss-share',
    ));

  it('names a party that sends a malformed message', () =>
    expectCulprit((m) => (m.round === KEYGEN_ROUNDS.commit && m.recipient === 0 ? { value: { V: 'not bytes' } } : undefined), 'malformed-message'));
});

describe('announced aborts cannot frame an honest party', () => {
  it('adopts an announcement whose evidence leans on others’ broadcasts only as unattributed', async () => {
    const parties = [1, 2, 3];
    const group = simGroup(parties);
    const signer = group.signers.get(3)!;
    const verifyAbort = (a: ProtocolAbort) => verifyAbortEvidence(a, { identities: group.identities, threshold: 2 });
    const outcomes = await runSession(
      {
        protocol: 'keygen',
        group,
        parties,
        timeoutMs: 20_000,
        awaitParties: [1, 2],
        verifyAbort,
        wrap: corruptWrap(group, parties, 3, (m) => {
          if (m.round !== KEYGEN_ROUNDS.prove || m.recipient !== 0) return undefined;
          // Party 3 withholds its proof and claims party 1's was bad, citing its own round-4 message.
          const claim = encodeValue({
            protocol: 'keygen',
            round: KEYGEN_ROUNDS.prove,
            culprits: [1],
            reason: 'invalid-proof',
            detail: 'forged',
            evidence: { check: 'keygen-sch', envelopes: [envelopeValue(m.envelope)] },
          });
          const sid = m.envelope.sid;
          const notice = { sid, round: ABORT_ROUND, sender: 3, recipient: BROADCAST, payload: claim, signature: signer.sign(envelopeSigningBytes(sid, ABORT_ROUND, 3, BROADCAST, payloadDigest(claim))) as Uint8Array };
          return { raw: [1, 2].map((to) => ({ to, envelope: notice })) };
        }),
      },
      (s) => keygen(s, { keyId: 'k', threshold: 2 }),
    );
    for (const p of [1, 2]) {
      const abort = (outcomes.get(p) as { error: unknown }).error as ProtocolAbort;
      expect(abort).toBeInstanceOf(ProtocolAbort);
      expect(abort.culprits).toEqual([]);
      expect(abort.reason).toBe('unattributed');
    }
  });
});
