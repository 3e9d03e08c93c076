/**
 * Prove and verify of every zero-knowledge proof at the 128-bit level (3072-bit moduli, m = 128),
 * on the selected arithmetic backend. Verifier-side fixed-base tables are built in setup (once
 * per party in the protocol), not timed.
 */
import { randomBytes } from 'node:crypto';
import { getBackend, randomBelow, randomPlusMinus, randomShifted, randomZnStar, revealShifted } from '../cggmp/arith/index.ts';
import { CURVE_ORDER, mulG, mulPoint } from '../cggmp/curve/index.ts';
import { encrypt, encryptCrt, mulPublic, publicPart } from '../cggmp/paillier/index.ts';
import { SECURITY_LEVEL_128 as L } from '../cggmp/params.ts';
import { ringPedersenPublic } from '../cggmp/ring-pedersen/index.ts';
import * as zk from '../cggmp/zk/index.ts';
import { partyKeys } from '../test/support/keys.ts';
import type { BenchCase, BenchSuite } from './harness.ts';

const ctx: zk.ProofContext = { sessionId: randomBytes(32), prover: 1, rid: randomBytes(32) };

interface ProofBench {
  readonly name: string;
  /** Builds the statement and returns prove and verify closures over it. */
  make(): { prove: () => unknown; verify: (proof: never) => void };
}

function keys() {
  const prover = partyKeys(L, 0);
  const verifier = partyKeys(L, 1);
  return { prover, verifier, R: ringPedersenPublic(verifier.ringPedersen) };
}

const PROOFS: readonly ProofBench[] = [
  {
    name: 'sch',
    make() {
      const x = randomBelow(CURVE_ORDER);
      const X = mulG(x);
      return { prove: () => zk.proveSch(ctx, X, x), verify: (p: zk.SchProof) => zk.verifySch(ctx, X, p) };
    },
  },
  {
    name: 'elog',
    make() {
      const [y, lambda] = [randomBelow(CURVE_ORDER), randomBelow(CURVE_ORDER)];
      const X = mulG(randomBelow(CURVE_ORDER));
      const H = mulG(randomBelow(CURVE_ORDER));
      const s = { L: mulG(lambda), M: mulG(y).add(mulPoint(X, lambda)), X, Y: mulPoint(H, y), H };
      return { prove: () => zk.proveElog(ctx, s, y, lambda), verify: (p: zk.ElogProof) => zk.verifyElog(ctx, s, p) };
    },
  },
  {
    name: 'enc-elg',
    make() {
      const { prover, R } = keys();
      const sk0 = prover.paillier;
      const xs = randomShifted(1n << BigInt(L.ell));
      const x = revealShifted(xs);
      const rho = randomZnStar(sk0.N);
      const [a, b] = [randomBelow(CURVE_ORDER), randomBelow(CURVE_ORDER)];
      const s = { N0: sk0.N, C: encryptCrt(sk0, x, rho), A: mulG(a), B: mulG(b), X: mulG(a * b + x) };
      return {
        prove: () => zk.proveEncElg(L, ctx, R, s, { x: xs, rho, b }, sk0),
        verify: (p: zk.EncElgProof) => zk.verifyEncElg(L, ctx, R, s, p),
      };
    },
  },
  {
    name: 'aff-g',
    make() {
      const { prover, verifier, R } = keys();
      const pkj = publicPart(verifier.paillier);
      const ski = prover.paillier;
      const [xs, ys] = [randomShifted(1n << BigInt(L.ell)), randomShifted(1n << BigInt(L.ellPrime))];
      const [x, y] = [revealShifted(xs), revealShifted(ys)];
      const [rho, rhoY] = [randomZnStar(pkj.N), randomZnStar(ski.N)];
      const C = encrypt(pkj, randomPlusMinus(1n << 256n));
      const s = {
        Nj: pkj.N,
        Ni: ski.N,
        C,
        D: (mulPublic(pkj, x, C) * encrypt(pkj, y, rho)) % pkj.N2,
        Y: encryptCrt(ski, y, rhoY),
        X: mulG(x),
      };
      return {
        prove: () => zk.proveAffG(L, ctx, R, s, { x: xs, y: ys, rho, rhoY }, ski),
        verify: (p: zk.AffGProof) => zk.verifyAffG(L, ctx, R, s, p, verifier.paillier),
      };
    },
  },
  {
    name: 'mod',
    make() {
      const sk = partyKeys(L, 0).paillier;
      return { prove: () => zk.proveMod(L, ctx, sk.N, sk.p, sk.q), verify: (p: zk.ModProof) => zk.verifyMod(L, ctx, sk.N, p) };
    },
  },
  {
    name: 'prm',
    make() {
      const secret = partyKeys(L, 0).ringPedersen;
      const R = ringPedersenPublic(secret);
      return { prove: () => zk.provePrm(L, ctx, secret), verify: (p: zk.PrmProof) => zk.verifyPrm(L, ctx, R, p) };
    },
  },
  {
    name: 'fac',
    make() {
      const { prover, R } = keys();
      const sk = prover.paillier;
      return {
        prove: () => zk.proveFac(L, ctx, R, sk.N, sk.p, sk.q),
        verify: (p: zk.FacProof) => zk.verifyFac(L, ctx, R, sk.N, p),
      };
    },
  },
];

const SLOW_BUDGET = { minRuns: 3, maxRuns: 20, timeMs: 3_000 };

const cases: BenchCase[] = PROOFS.flatMap((proof) => [
  {
    op: 'zk-prove',
    backend: getBackend().name,
    params: { proof: proof.name, modBits: L.modulusBits },
    budget: SLOW_BUDGET,
    setup() {
      return proof.make().prove;
    },
  },
  {
    op: 'zk-verify',
    backend: getBackend().name,
    params: { proof: proof.name, modBits: L.modulusBits },
    budget: SLOW_BUDGET,
    setup() {
      const { prove, verify } = proof.make();
      const p = prove() as never;
      verify(p); // builds the verifier's tables and checks the proof is honest before timing
      return () => verify(p);
    },
  },
]);

export default cases satisfies BenchSuite;
