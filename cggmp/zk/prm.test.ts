import { LEVELS, partyKeys } from '../../test/support/keys.ts';
import { proofSuite } from '../../test/support/proof-suite.ts';
import { ringPedersenPublic, type RingPedersenParams } from '../ring-pedersen/index.ts';
import { provePrm, verifyPrm, type PrmProof } from './index.ts';

for (const level of LEVELS) {
  proofSuite<RingPedersenParams, PrmProof>('Π^prm', level, () => {
    const secret = partyKeys(level, 0).ringPedersen;
    const R = ringPedersenPublic(secret);
    return {
      statement: R,
      prove: (ctx) => provePrm(level, ctx, secret),
      verify: (ctx, params, proof) => verifyPrm(level, ctx, params, proof),
      otherStatements: (r) => ({
        s: { ...r, s: (r.s * r.t) % r.N },
        t: { ...r, t: (r.t * r.t) % r.N },
        N: ringPedersenPublic(partyKeys(level, 1).ringPedersen),
      }),
      malformed: (p) => ({
        'A[0] not coprime to N': { ...p, A: [secret.p, ...p.A.slice(1)] },
        'z[5] ≥ N': { ...p, z: p.z.map((z, i) => (i === 5 ? z + R.N : z)) },
        'z[0] negative': { ...p, z: [-1n, ...p.z.slice(1)] },
        'one commitment missing': { ...p, A: p.A.slice(1) },
      }),
    };
  });
}
