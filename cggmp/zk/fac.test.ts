import { LEVELS, partyKeys } from '../../test/support/keys.ts';
import { proofSuite } from '../../test/support/proof-suite.ts';
import { ringPedersenPublic } from '../ring-pedersen/index.ts';
import { proveFac, verifyFac, type FacProof } from './index.ts';

for (const level of LEVELS) {
  proofSuite<bigint, FacProof>('Π^fac', level, () => {
    const sk = partyKeys(level, 0).paillier;
    const R = ringPedersenPublic(partyKeys(level, 1).ringPedersen);
    return {
      statement: sk.N,
      prove: (ctx, N) => proveFac(level, ctx, R, N, sk.p, sk.q),
      verify: (ctx, N, proof) => verifyFac(level, ctx, R, N, proof),
      otherStatements: () => ({ 'another modulus': partyKeys(level, 1).paillier.N }),
      malformed: (p) => ({
        'P ≥ N̂': { ...p, P: p.P + R.N },
        'T zero': { ...p, T: 0n },
        'Q not coprime to N̂': { ...p, Q: partyKeys(level, 1).ringPedersen.q },
        'v absurdly large': { ...p, v: 1n << 100_000n },
      }),
    };
  });
}
