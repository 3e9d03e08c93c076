/**
 * The simulator's corrupt behaviours (DESIGN §7 through `simulate --corrupt`): for every named
 * behaviour the run stops at the honest parties' abort and they name exactly the corrupt party.
 * At the test security level; the CLI test runs the same flow at 128 bits.
 */
import { describe, expect, it } from 'vitest';
import { BEHAVIOUR_NAMES } from './behaviours.ts';
import { simulate, SimulationAborted } from './flow.ts';
import { verifyAbortEvidence } from '../protocols/evidence.ts';
import { fixturePrimeSource } from '../../test/support/primes.ts';
import { TEST_LEVEL } from '../../test/support/test-level.ts';

const REQUIRED = ['sch', 'enc-elg', 'aff-g', 'elog', 'mod', 'prm', 'fac', 'vss-share', 'commitment', 'equivocate', 'replay',
  'small-factor-modulus', 'non-blum-modulus', 'out-of-range', 'delta', 'reshare-constant'];

describe('simulate flow', () => {
  it('offers every behaviour DESIGN §7 and the issue name', () => {
    for (const b of REQUIRED) expect(BEHAVIOUR_NAMES).toContain(b);
  });

  it('runs the honest life cycle: same key after refresh and reshare, epochs advance', async () => {
    const r = await simulate({ level: TEST_LEVEL, parties: 3, threshold: 2, primes: fixturePrimeSource() });
    expect(r.rotation).toEqual({ epochBefore: 0, epochAfter: 1, publicKeyUnchanged: true });
    expect(r.reshare).toMatchObject({ parties: [1, 2, 3, 4], threshold: 2, epochBefore: 1, epochAfter: 2, publicKeyUnchanged: true });
    expect(r.signatures.map((s) => s.epoch)).toEqual([0, 1, 1, 2]);
  });

  for (const behaviour of REQUIRED) {
    it(`names the corrupt party for ${behaviour}`, async () => {
      const party = behaviour === 'delta' ? 1 : 2;
      const run = simulate({ level: TEST_LEVEL, parties: 3, threshold: 2, primes: fixturePrimeSource(), corrupt: { party, behaviour } });
      const e = await run.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e, `${behaviour} went undetected`).toBeInstanceOf(SimulationAborted);
      const abort = e as SimulationAborted;
      expect(abort.culprits, abort.message).toEqual([party]);
      // Every honest abort names the party and carries evidence a third party re-checks.
      for (const a of abort.aborts) {
        expect(a.culprits).toEqual([party]);
        expect(verifyAbortEvidence(a, abort.evidenceContext), `${behaviour}: evidence of ${a.reason}`).toBe(true);
      }
    });
  }

  // The griefing of issue 10 item 4: checks whose failure nobody can attribute.
  for (const [behaviour, protocol] of [['chi', 'presign'], ['sign-digest', 'sign']] as const) {
    it(`reports ${behaviour} honestly as an unattributed ${protocol} abort`, async () => {
      const e = await simulate({ level: TEST_LEVEL, parties: 3, threshold: 2, primes: fixturePrimeSource(), corrupt: { party: 2, behaviour } }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e, `${behaviour} went undetected`).toBeInstanceOf(SimulationAborted);
      const abort = e as SimulationAborted;
      expect(abort.culprits).toEqual([]);
      for (const a of abort.aborts) expect(a).toMatchObject({ protocol, culprits: [], reason: 'unattributed' });
    });
  }
});
