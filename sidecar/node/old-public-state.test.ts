/**
 * A reshare newcomer's view of the old epoch: dealers' answers count only as their own signed
 * statements for this plan. An answer rewritten on the way (signature kept, re-signed by
 * someone else, or replayed from another plan) blames nobody and is never used; a dealer that
 * signs a false state is named, with a statement anyone can re-check; signed answers that
 * disagree name nobody.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { curve, protocols } from '../../cggmp/index.ts';
import { tamperPublicState } from '../../test/support/tamper-public-state.ts';
import { agreeOnOldPublic, encodeOldPublic, oldPublicStatement, signOldPublic, type DealerAnswer } from './old-public-state.ts';
import type { PlanView } from './plan-view.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const KEY = 'treasury';
const PLAN = 'ab'.repeat(32);

/** A 2-of-3 key on holders 1, 2, 3 from f(x) = 7 + 5x; the reshare deals from 1 and 3. */
const f = (x: bigint): bigint => 7n + 5n * x;
const pub = {
  keyId: KEY,
  epoch: 4,
  threshold: 2,
  parties: [1, 2, 3],
  publicKey: curve.mulG(f(0n)),
  publicShares: [1n, 2n, 3n].map((x) => curve.mulG(f(x))),
  chainCode: new Uint8Array(32).fill(9),
} as unknown as protocols.KeySharePublic;

const signers = new Map<number, protocols.Signer>();
let previous: NonNullable<PlanView['previous']>;

beforeAll(() => {
  for (const i of [1, 2, 3]) signers.set(i, protocols.developmentSigner());
  previous = {
    epoch: 4,
    threshold: 2,
    parties: [1, 2, 3].map((i) => ({ index: i, name: `party-${i}`, identityKey: hex(signers.get(i)!.publicKey), endpoint: `https://127.0.0.1:${7000 + i}` })),
    dealers: [1, 3],
  };
});

const ctx = () => ({ keyId: KEY, planHash: PLAN, previous });
const answerOf = async (dealer: number, raw?: unknown): Promise<DealerAnswer> => ({
  dealer,
  identityKey: hex(signers.get(dealer)!.publicKey),
  raw: raw ?? (await signOldPublic(pub, PLAN, signers.get(dealer)!)),
});
const honest = () => Promise.all([answerOf(1), answerOf(3)]);

function refusal(fn: () => unknown): { code?: string; culprits?: readonly number[]; evidence?: readonly { dealer: number; statement: unknown }[] } | 'accepted' {
  try {
    fn();
    return 'accepted';
  } catch (e) {
    return e as never;
  }
}

describe('a newcomer\'s view of the old public state', () => {
  it('takes the state every dealer signed for this plan', async () => {
    const state = agreeOnOldPublic(await honest(), ctx());
    expect(encodeOldPublic(state)).toBe(encodeOldPublic(pub));
  });

  it('never uses, and blames nobody for, answers a network attacker rewrote so that they still look sound', async () => {
    const tampered = await Promise.all([1, 3].map(async (d) => answerOf(d, tamperPublicState((await answerOf(d)).raw, [1, 3]))));
    // The false state passes every other check (it interpolates to the key): signed by the dealers, it would be taken.
    const resigned = await Promise.all(tampered.map(async (t) => {
      const statement = { ...(t.raw as Record<string, unknown>) };
      delete statement.signature;
      return { ...t, raw: { ...statement, signature: hex(await signers.get(t.dealer)!.sign(oldPublicStatement(statement as never))) } };
    }));
    expect(encodeOldPublic(agreeOnOldPublic(resigned, ctx()))).not.toBe(encodeOldPublic(pub));
    const r = refusal(() => agreeOnOldPublic(tampered, ctx()));
    expect(r).toMatchObject({ code: 'E_RESHARE_STATE_UNVERIFIED' });
    expect(r !== 'accepted' && r.culprits).toBeUndefined();
    // One rewritten answer among honest ones: still nobody named.
    const [a1, a3] = await honest();
    const mixed = refusal(() => agreeOnOldPublic([a1!, { ...a3!, raw: tamperPublicState(a3!.raw, [1, 3]) }], ctx()));
    expect(mixed).toMatchObject({ code: 'E_RESHARE_STATE_UNVERIFIED' });
    expect(mixed !== 'accepted' && mixed.culprits).toBeUndefined();
  });

  it('blames nobody for an unsigned answer, one re-signed by another key, or one signed for another plan', async () => {
    const unsigned = { ...((await answerOf(3)).raw as Record<string, unknown>) };
    delete unsigned.signature;
    const resigned = await signOldPublic(pub, PLAN, protocols.developmentSigner());
    const otherPlan = await signOldPublic(pub, 'cd'.repeat(32), signers.get(3)!);
    const asked = { ...otherPlan, planHash: PLAN };
    const first = await answerOf(1);
    for (const raw of [unsigned, resigned, otherPlan, asked, 'not an answer', null]) {
      const r = refusal(() => agreeOnOldPublic([first, { dealer: 3, identityKey: hex(signers.get(3)!.publicKey), raw }], ctx()));
      expect(r, JSON.stringify(raw)).toMatchObject({ code: 'E_RESHARE_STATE_UNVERIFIED' });
      expect(r !== 'accepted' && r.culprits).toBeUndefined();
    }
  });

  it('names a dealer that signed a false state, with its statement as evidence anyone can re-check', async () => {
    const falseShares = { ...pub, publicShares: [pub.publicShares[0]!, pub.publicShares[1]!, curve.mulG(99n)] } as protocols.KeySharePublic;
    const falseThreshold = { ...pub, threshold: 3 } as protocols.KeySharePublic;
    for (const lie of [falseShares, falseThreshold]) {
      const answers = [await answerOf(1), await answerOf(3, await signOldPublic(lie, PLAN, signers.get(3)!))];
      const r = refusal(() => agreeOnOldPublic(answers, ctx()));
      expect(r).toMatchObject({ code: 'E_RESHARE_STATE_INVALID', culprits: [3] });
      const evidence = r !== 'accepted' ? r.evidence! : [];
      expect(evidence.map((e) => e.dealer)).toEqual([3]);
      const { signature, ...statement } = evidence[0]!.statement as Record<string, unknown> & { signature: string };
      expect(protocols.verifyIdentitySignature(signers.get(3)!.publicKey, oldPublicStatement(statement as never), new Uint8Array(Buffer.from(signature, 'hex')))).toBe(true);
    }
  });

  it('names nobody when dealers sign different states that are each sound', async () => {
    // Another 2-of-3 key that also interpolates over the dealers: one of the two dealers lies, which one is not knowable here.
    const g = (x: bigint): bigint => 11n + 2n * x;
    const other = { ...pub, publicKey: curve.mulG(g(0n)), publicShares: [1n, 2n, 3n].map((x) => curve.mulG(g(x))) } as protocols.KeySharePublic;
    const answers = [await answerOf(1), await answerOf(3, await signOldPublic(other, PLAN, signers.get(3)!))];
    const r = refusal(() => agreeOnOldPublic(answers, ctx()));
    expect(r).toMatchObject({ code: 'E_RESHARE_STATE_MISMATCH' });
    expect(r !== 'accepted' && r.culprits).toBeUndefined();
    expect(r !== 'accepted' && r.evidence!.map((e) => e.dealer)).toEqual([1, 3]);
  });
});
