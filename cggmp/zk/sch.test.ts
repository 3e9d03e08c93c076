import { IDENTITY, mulG } from '../curve/index.ts';
import { randomBelow } from '../arith/index.ts';
import { CURVE_ORDER } from '../curve/index.ts';
import { LEVELS } from '../../test/support/keys.ts';
import { offCurvePoint, proofSuite } from '../../test/support/proof-suite.ts';
import { proveSch, verifySch, type SchProof } from './index.ts';
import type { Point } from '../curve/index.ts';

for (const level of LEVELS) {
  proofSuite<Point, SchProof>('Π^sch', level, () => {
    const x = randomBelow(CURVE_ORDER);
    return {
      statement: mulG(x),
      prove: (ctx, X) => proveSch(ctx, X, x),
      verify: (ctx, X, proof) => verifySch(ctx, X, proof),
      otherStatements: (X) => ({ 'X + G': X.add(mulG(1n)) }),
      malformed: (p) => ({
        'A off the curve': { ...p, A: offCurvePoint() },
        'A the identity': { ...p, A: IDENTITY },
        'z negative': { ...p, z: -1n },
        'z ≥ q': { ...p, z: p.z + CURVE_ORDER },
        'z absurdly large': { ...p, z: 1n << 100_000n },
      }),
    };
  });
}
