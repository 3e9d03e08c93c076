/** Regressions for the independent review of the proofs against the spec. */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { CURVE_ORDER, mulG, mulPoint } from '../curve/index.ts';
import { ArithError, InvalidInputError } from '../errors.ts';
import { encode } from '../transcript/index.ts';
import { partyKeys, TEST_LEVEL } from '../../test/support/keys.ts';
import { makeContext } from '../../test/support/context.ts';
import { ringPedersenPublic } from '../ring-pedersen/index.ts';
import { commitSch, proveElog, proveMod, provePrm, proveSch, respondSch, verifyElog, verifyMod, verifyPrm, verifySch, proveAffG } from './index.ts';

const ctx = makeContext(1);

describe('review regressions', () => {
  it('proves Π^sch and Π^elog for the residues of negative secrets, and refuses a negative secret', () => {
    const residue = (v: bigint): bigint => ((v % CURVE_ORDER) + CURVE_ORDER) % CURVE_ORDER;
    const x = residue(-12345678901234567890n);
    verifySch(ctx, mulG(x), proveSch(ctx, mulG(x), x));
    const y = residue(-(CURVE_ORDER / 3n));
    const lambda = residue(-7n);
    const X = mulG(99n);
    const H = mulG(1234n);
    const s = { L: mulG(lambda), M: mulG(y).add(mulPoint(X, lambda)), X, Y: mulPoint(H, y), H };
    verifyElog(ctx, s, proveElog(ctx, s, y, lambda));
    // A signed secret would take other paths than its residue: the provers refuse it outright.
    expect(() => proveSch(ctx, mulG(-5n), -5n)).toThrow(ArithError);
    expect(() => proveElog(ctx, s, -y, lambda)).toThrow(ArithError);
  });

  it('refuses a Schnorr nonce answering a second challenge', () => {
    const x = 5n;
    const { commitment, nonce } = commitSch();
    respondSch(ctx, mulG(x), commitment, nonce, x);
    expect(() => respondSch({ ...ctx, rid: randomBytes(32) }, mulG(x), commitment, nonce, x)).toThrow(ArithError);
  });

  it('refuses arrays with holes and missing proofs with a typed error', () => {
    const sk = partyKeys(TEST_LEVEL, 0).paillier;
    const mod = proveMod(TEST_LEVEL, ctx, sk.N, sk.p, sk.q);
    expect(() => verifyMod(TEST_LEVEL, ctx, sk.N, { w: mod.w, rounds: new Array(TEST_LEVEL.m) })).toThrow(InvalidInputError);
    const rp = partyKeys(TEST_LEVEL, 0).ringPedersen;
    const prm = provePrm(TEST_LEVEL, ctx, rp);
    expect(() => verifyPrm(TEST_LEVEL, ctx, ringPedersenPublic(rp), { A: prm.A, z: new Array(TEST_LEVEL.m) })).toThrow(InvalidInputError);
    expect(() => verifySch(ctx, mulG(3n), null as never)).toThrow(InvalidInputError);
    expect(() => verifyMod(TEST_LEVEL, ctx, sk.N, { ...mod, rounds: mod.rounds.map((r, i) => (i === 2 ? (null as never) : r)) })).toThrow(
      InvalidInputError,
    );
  });

  it('refuses a secret outside ±2^ℓ in the range provers (callers pass centred scalars)', () => {
    const prover = partyKeys(TEST_LEVEL, 0);
    const R = ringPedersenPublic(partyKeys(TEST_LEVEL, 1).ringPedersen);
    const N = partyKeys(TEST_LEVEL, 1).paillier.N;
    const statement = { Nj: N, Ni: prover.paillier.N, C: 1n, D: 1n, Y: 1n, X: mulG(1n) };
    const zero = { value: 0n, offset: 0n };
    expect(() => proveAffG(TEST_LEVEL, ctx, R, statement, { x: { value: 2n * CURVE_ORDER, offset: CURVE_ORDER }, y: zero, rho: 1n, rhoY: 1n })).toThrow(InvalidInputError);
    expect(() => proveAffG(TEST_LEVEL, ctx, R, statement, { x: { value: 3n, offset: 1n }, y: zero, rho: 1n, rhoY: 1n })).toThrow(InvalidInputError);
  });

  it('keeps the encoding injective: lone surrogates and non-plain objects are refused', () => {
    expect(() => encode('t', ['\uD800'])).toThrow(InvalidInputError);
    expect(() => encode('t', [new Map() as never])).toThrow(InvalidInputError);
    expect(() => encode('t', [new Uint16Array(2) as never])).toThrow(InvalidInputError);
  });
});
