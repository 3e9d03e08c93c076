import { CURVE_ORDER, IDENTITY, mulG, mulPoint } from '../curve/index.ts';
import { randomBelow } from '../arith/index.ts';
import { LEVELS } from '../../test/support/keys.ts';
import { offCurvePoint, proofSuite } from '../../test/support/proof-suite.ts';
import { proveElog, verifyElog, type ElogProof, type ElogStatement } from './index.ts';

for (const level of LEVELS) {
  proofSuite<ElogStatement, ElogProof>('Π^elog', level, () => {
    const y = randomBelow(CURVE_ORDER);
    const lambda = randomBelow(CURVE_ORDER);
    const X = mulG(randomBelow(CURVE_ORDER));
    const H = mulG(randomBelow(CURVE_ORDER));
    const statement: ElogStatement = { L: mulG(lambda), M: mulG(y).add(mulPoint(X, lambda)), X, Y: mulPoint(H, y), H };
    return {
      statement,
      prove: (ctx, s) => proveElog(ctx, s, y, lambda),
      verify: (ctx, s, proof) => verifyElog(ctx, s, proof),
      otherStatements: (s) => ({
        L: { ...s, L: s.L.add(mulG(1n)) },
        M: { ...s, M: s.M.add(mulG(1n)) },
        X: { ...s, X: s.X.add(mulG(1n)) },
        Y: { ...s, Y: s.Y.add(mulG(1n)) },
        H: { ...s, H: s.H.add(mulG(1n)) },
      }),
      malformed: (p) => ({
        'N off the curve': { ...p, N: offCurvePoint() },
        'B the identity': { ...p, B: IDENTITY },
        'u negative': { ...p, u: -5n },
        'z ≥ q': { ...p, z: CURVE_ORDER },
      }),
    };
  });
}
