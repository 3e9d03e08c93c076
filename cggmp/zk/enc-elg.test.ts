import { CURVE_ORDER, IDENTITY, mulG } from '../curve/index.ts';
import { randomBelow, randomShifted, randomZnStar, revealShifted } from '../arith/index.ts';
import { encryptCrt } from '../paillier/index.ts';
import { ringPedersenPublic } from '../ring-pedersen/index.ts';
import { LEVELS, partyKeys } from '../../test/support/keys.ts';
import { offCurvePoint, proofSuite } from '../../test/support/proof-suite.ts';
import { proveEncElg, verifyEncElg, type EncElgProof, type EncElgStatement } from './index.ts';

for (const level of LEVELS) {
  proofSuite<EncElgStatement, EncElgProof>('Π^enc-elg', level, () => {
    const prover = partyKeys(level, 0);
    const R = ringPedersenPublic(partyKeys(level, 1).ringPedersen);
    const sk0 = prover.paillier;
    const xs = randomShifted(1n << BigInt(level.ell));
    const x = revealShifted(xs);
    const rho = randomZnStar(sk0.N);
    const a = randomBelow(CURVE_ORDER);
    const b = randomBelow(CURVE_ORDER);
    const statement: EncElgStatement = {
      N0: sk0.N,
      C: encryptCrt(sk0, x, rho),
      A: mulG(a),
      B: mulG(b),
      X: mulG(a * b + x),
    };
    return {
      statement,
      prove: (ctx, s) => proveEncElg(level, ctx, R, s, { x: xs, rho, b }, sk0),
      verify: (ctx, s, proof) => verifyEncElg(level, ctx, R, s, proof),
      otherStatements: (s) => ({
        C: { ...s, C: (s.C * s.C) % (s.N0 * s.N0) },
        A: { ...s, A: s.A.add(mulG(1n)) },
        B: { ...s, B: s.B.add(mulG(1n)) },
        X: { ...s, X: s.X.add(mulG(1n)) },
        N0: { ...s, N0: partyKeys(level, 1).paillier.N },
      }),
      malformed: (p) => ({
        'S ≥ N̂': { ...p, S: p.S + R.N },
        'T negative': { ...p, T: -p.T },
        'D zero': { ...p, D: 0n },
        'D not coprime to N0': { ...p, D: sk0.p },
        'z2 ≥ N0': { ...p, z2: p.z2 + sk0.N },
        'z1 absurdly large': { ...p, z1: 1n << 100_000n },
        'w negative': { ...p, w: -1n },
        'Y off the curve': { ...p, Y: offCurvePoint() },
        'Z the identity': { ...p, Z: IDENTITY },
      }),
    };
  });
}
