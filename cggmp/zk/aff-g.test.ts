import { IDENTITY, mulG } from '../curve/index.ts';
import { randomPlusMinus, randomShifted, randomZnStar, revealShifted } from '../arith/index.ts';
import { encrypt, encryptCrt, mulPublic, publicPart } from '../paillier/index.ts';
import { ringPedersenPublic } from '../ring-pedersen/index.ts';
import { LEVELS, partyKeys } from '../../test/support/keys.ts';
import { offCurvePoint, proofSuite } from '../../test/support/proof-suite.ts';
import { proveAffG, verifyAffG, type AffGProof, type AffGStatement } from './index.ts';

for (const level of LEVELS) {
  proofSuite<AffGStatement, AffGProof>('Π^aff-g', level, () => {
    const prover = partyKeys(level, 0);
    const verifier = partyKeys(level, 1);
    const R = ringPedersenPublic(verifier.ringPedersen);
    const pkj = publicPart(verifier.paillier);
    const ski = prover.paillier;
    const xs = randomShifted(1n << BigInt(level.ell));
    const ys = randomShifted(1n << BigInt(level.ellPrime));
    const [x, y] = [revealShifted(xs), revealShifted(ys)];
    const rho = randomZnStar(pkj.N);
    const rhoY = randomZnStar(ski.N);
    const C = encrypt(pkj, randomPlusMinus(1n << 256n));
    const statement: AffGStatement = {
      Nj: pkj.N,
      Ni: ski.N,
      C,
      D: (mulPublic(pkj, x, C) * encrypt(pkj, y, rho)) % pkj.N2,
      Y: encryptCrt(ski, y, rhoY),
      X: mulG(x),
    };
    return {
      statement,
      prove: (ctx, s) => proveAffG(level, ctx, R, s, { x: xs, y: ys, rho, rhoY }, ski),
      verify: (ctx, s, proof) => verifyAffG(level, ctx, R, s, proof, verifier.paillier),
      otherStatements: (s) => ({
        C: { ...s, C: (s.C * s.C) % pkj.N2 },
        D: { ...s, D: (s.D * s.C) % pkj.N2 },
        Y: { ...s, Y: (s.Y * s.Y) % ski.N2 },
        X: { ...s, X: s.X.add(mulG(1n)) },
      }),
      malformed: (p) => ({
        'A ≥ N_j²': { ...p, A: p.A + pkj.N2 },
        'B_y zero': { ...p, By: 0n },
        'B_x off the curve': { ...p, Bx: offCurvePoint() },
        'B_x the identity': { ...p, Bx: IDENTITY },
        'E not coprime to N̂': { ...p, E: verifier.ringPedersen.p },
        'w negative': { ...p, w: -p.w },
        'w_y ≥ N_i': { ...p, wy: p.wy + ski.N },
        'z3 absurdly large': { ...p, z3: -(1n << 100_000n) },
      }),
    };
  });
}
