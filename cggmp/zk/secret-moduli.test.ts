/**
 * Issue 10 item 1: a secret modulus (Paillier p, q, p², q²; ring-Pedersen p̂, q̂) reaches the
 * arithmetic only through the contexts built once per key, never as the modulus of a per-call
 * exponentiation (which would build a fresh, unflagged Montgomery context from the secret each
 * time: before the fix, every decryption, CRT exponentiation and Legendre symbol did).
 *
 * The backend is wrapped to record the modulus of every per-call operation while the provers and
 * the Paillier operations of a party run.
 */
import { describe, expect, it, vi } from 'vitest';

const recorded = vi.hoisted(() => ({ moduli: [] as { op: string; m: bigint }[] }));

vi.mock('../arith/select.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../arith/select.ts')>();
  const wrap = (b: ReturnType<typeof real.getBackend>): ReturnType<typeof real.getBackend> => {
    const note = (op: string, m: bigint): void => void recorded.moduli.push({ op, m });
    return Object.freeze({
      ...b,
      modPow: (x: bigint, e: bigint, m: bigint) => (note('modPow', m), b.modPow(x, e, m)),
      modPowSecret: (x: bigint, e: bigint, m: bigint) => (note('modPowSecret', m), b.modPowSecret(x, e, m)),
      modPow2: (a: bigint, x: bigint, c: bigint, y: bigint, m: bigint) => (note('modPow2', m), b.modPow2(a, x, c, y, m)),
      fixedBaseTable: (s: bigint, t: bigint, m: bigint, bits: number) => (note('fixedBaseTable', m), b.fixedBaseTable(s, t, m, bits)),
    });
  };
  let wrapped: ReturnType<typeof real.getBackend> | undefined;
  return { ...real, getBackend: () => (wrapped ??= wrap(real.getBackend())) };
});

const { randomShifted, randomZnStar, revealShifted } = await import('../arith/index.ts');
const { mulG, scalarField } = await import('../curve/index.ts');
const { decrypt, decryptCentredMod, encrypt, encryptCrtShifted, mulPublic, publicPart } = await import('../paillier/index.ts');
const { ringPedersenPublic } = await import('../ring-pedersen/index.ts');
const { proveAffG, proveFac, proveMod, provePrm, verifyAffG } = await import('./index.ts');
const { partyKeys, TEST_LEVEL } = await import('../../test/support/keys.ts');
const { makeContext } = await import('../../test/support/context.ts');

describe('secret moduli (issue 10 item 1)', () => {
  it('never reach a per-call exponentiation: only the per-key constant-time contexts', () => {
    const level = TEST_LEVEL;
    const me = partyKeys(level, 0);
    const other = partyKeys(level, 1);
    const sk = me.paillier;
    const rp = me.ringPedersen;
    const secrets = new Set([sk.p, sk.q, sk.p * sk.p, sk.q * sk.q, rp.p, rp.q, sk.phi, rp.phi]);
    const ctx = makeContext(1);
    const R = ringPedersenPublic(other.ringPedersen);
    recorded.moduli.length = 0;

    // Paillier with the secret key: CRT encryption, decryption, to Z_q.
    const M = randomShifted(1n << 1000n);
    const C = encryptCrtShifted(sk, M);
    expect(decrypt(sk, C)).toBe(revealShifted(M));
    decryptCentredMod(sk, C, scalarField());
    // The provers that use the factorisation (aux-info) and the CRT verifier of Π^aff-g.
    proveMod(level, ctx, sk.N, sk.p, sk.q);
    provePrm(level, ctx, rp);
    proveFac(level, ctx, R, sk.N, sk.p, sk.q);
    const pkj = publicPart(sk);
    const x = randomShifted(1n << BigInt(level.ell));
    const y = randomShifted(1n << BigInt(level.ellPrime));
    const Cj = encrypt(pkj, 5n);
    const [rho, rhoY] = [randomZnStar(pkj.N), randomZnStar(other.paillier.N)];
    const s = {
      Nj: pkj.N,
      Ni: other.paillier.N,
      C: Cj,
      D: (mulPublic(pkj, revealShifted(x), Cj) * encrypt(pkj, revealShifted(y), rho)) % pkj.N2,
      Y: encrypt(publicPart(other.paillier), revealShifted(y), rhoY),
      X: mulG(revealShifted(x)),
    };
    const Rme = ringPedersenPublic(rp);
    verifyAffG(level, ctx, Rme, s, proveAffG(level, ctx, Rme, s, { x, y, rho, rhoY }, other.paillier), sk);

    expect(recorded.moduli.length).toBeGreaterThan(0);
    const leaked = recorded.moduli.filter((c) => secrets.has(c.m)).map((c) => c.op);
    expect(leaked).toEqual([]);
  });
});
