/**
 * DESIGN §7 for presigning and signing: one signer deviates through the adversarial channel (or,
 * for a δ share it then stands by, a corrupt session); every honest signer that aborts names it,
 * and the evidence re-checks.
 */
import { describe, expect, it } from 'vitest';
import { SIM_ROUND_TIMEOUT_MS } from '../../test/support/timeouts.ts';
import { CURVE_ORDER } from '../curve/index.ts';
import { corruptSession, type Behaviour, type SessionTamper } from '../sim/adversary.ts';
import { corruptWrap, runSession } from '../sim/run.ts';
import type { Encodable } from '../transcript/index.ts';
import { ProtocolAbort } from './abort.ts';
import { verifyAbortEvidence } from './evidence.ts';
import { presign, PRESIGN_ROUNDS } from './presign.ts';
import { sign, SIGN_ROUND } from './sign.ts';
import { simKey, unwrap } from '../../test/support/ceremony.ts';
import { TEST_LEVEL } from '../../test/support/test-level.ts';

type Rec = Record<string, Encodable>;
const bump = (v: Encodable): bigint => (v as bigint) + 1n;

describe('presign and sign under a corrupt signer (2-of-3 and 3-of-3 signers)', async () => {
  const key = await simKey(TEST_LEVEL, 3, 3);
  const signers = [1, 2, 3];
  const corrupt = 2;
  const honest = signers.filter((p) => p !== corrupt);
  const snapshot = JSON.stringify([...key.shares].map(([p, s]) => [p, s.secret.x.toString()]));

  async function expectNamed(opts: { behaviour?: Behaviour; tamper?: SessionTamper }, reason: string) {
    const outcomes = await runSession(
      {
        protocol: 'presign',
        group: key.group,
        parties: signers,
        timeoutMs: SIM_ROUND_TIMEOUT_MS,
        awaitParties: honest,
        ...(opts.behaviour ? { wrap: corruptWrap(key.group, signers, corrupt, opts.behaviour) } : {}),
        ...(opts.tamper ? { wrapSession: (p: number, s: Parameters<typeof corruptSession>[0]) => (p === corrupt ? corruptSession(s, opts.tamper!) : s) } : {}),
      },
      (s) => presign(s, { level: TEST_LEVEL, share: key.shares.get(s.params.self)! }),
    );
    for (const p of honest) {
      const o = outcomes.get(p)!;
      expect(o.ok, `party ${p} should abort`).toBe(false);
      const abort = (o as { error: unknown }).error as ProtocolAbort;
      expect(abort).toBeInstanceOf(ProtocolAbort);
      expect(abort.culprits, abort.message).toEqual([corrupt]);
      expect(abort.reason).toBe(reason);
      expect(verifyAbortEvidence(abort, { identities: key.group.identities, level: TEST_LEVEL, key: key.shares.get(p)!.public })).toBe(true);
    }
    expect(JSON.stringify([...key.shares].map(([p, s]) => [p, s.secret.x.toString()]))).toBe(snapshot);
  }

  it('names a signer with a tampered Π^enc-elg', () =>
    expectNamed(
      { behaviour: (m) => (m.round === PRESIGN_ROUNDS.commit && m.recipient !== 0 ? { value: { ...(m.value as Rec), psi0: { ...((m.value as Rec).psi0 as Rec), z1: bump(((m.value as Rec).psi0 as Rec).z1!) } } } : undefined) },
      'invalid-proof',
    ));

  it('names a signer with a tampered Π^aff-g', () =>
    expectNamed(
      { behaviour: (m) => (m.round === PRESIGN_ROUNDS.mta && m.recipient !== 0 ? { value: { ...(m.value as Rec), psiHat: { ...((m.value as Rec).psiHat as Rec), z2: bump(((m.value as Rec).psiHat as Rec).z2!) } } } : undefined) },
      'invalid-proof',
    ));

  it('names a signer with a tampered Π^elog', () =>
    expectNamed(
      // A lie the signer stands by (round 4 is echoed: a channel-level change would show as equivocation).
      { tamper: (round, to, v) => (round === PRESIGN_ROUNDS.reveal && to === 0 ? { ...(v as Rec), psi: { ...((v as Rec).psi as Rec), u: bump(((v as Rec).psi as Rec).u!) % CURVE_ORDER } } : undefined) },
      'invalid-proof',
    ));

  it('names a signer that equivocates on its round-1 broadcast', () =>
    expectNamed(
      { behaviour: (m) => (m.round === PRESIGN_ROUNDS.commit && m.recipient === 0 ? { perRecipient: (to) => (to === 1 ? (m.value as Encodable) : { ...(m.value as Rec), K: bump((m.value as Rec).K!) }) } : undefined) },
      'equivocation',
    ));

  it('identifies a signer whose δ share is wrong (the δ check fails, openings name it)', () =>
    expectNamed({ tamper: (round, to, v) => (round === PRESIGN_ROUNDS.reveal && to === 0 ? { ...(v as Rec), delta: (bump((v as Rec).delta!) % CURVE_ORDER) } : undefined) }, 'delta-share'));

  it('names a signer whose partial signature is wrong', async () => {
    const presigs = unwrap(await runSession({ protocol: 'presign', group: key.group, parties: signers }, (s) => presign(s, { level: TEST_LEVEL, share: key.shares.get(s.params.self)! })));
    const sid = presigs.get(1)!.binding.sid;
    const outcomes = await runSession(
      {
        protocol: 'sign',
        group: key.group,
        parties: signers,
        sid,
        awaitParties: honest,
        wrap: corruptWrap(key.group, signers, corrupt, (m) => (m.round === SIGN_ROUND && m.recipient === 0 ? { value: { ...(m.value as Rec), sigma: bump((m.value as Rec).sigma!) % CURVE_ORDER } } : undefined)),
      },
      (s) => sign(s, presigs.get(s.params.self)!, { message: new TextEncoder().encode('x'), hash: 'sha256' }),
    );
    for (const p of honest) {
      const abort = (outcomes.get(p) as { error: unknown }).error as ProtocolAbort;
      expect(abort.culprits).toEqual([corrupt]);
      expect(verifyAbortEvidence(abort, { identities: key.group.identities, level: TEST_LEVEL, key: key.shares.get(p)!.public, presignature: presigs.get(p)! })).toBe(true);
    }
  });
});
