import { LEVELS, partyKeys } from '../../test/support/keys.ts';
import { proofSuite } from '../../test/support/proof-suite.ts';
import { proveMod, verifyMod, type ModProof } from './index.ts';

for (const level of LEVELS) {
  proofSuite<bigint, ModProof>('Π^mod', level, () => {
    const sk = partyKeys(level, 0).paillier;
    const other = partyKeys(level, 1).paillier;
    return {
      statement: sk.N,
      prove: (ctx, N) => proveMod(level, ctx, N, sk.p, sk.q),
      verify: (ctx, N, proof) => verifyMod(level, ctx, N, proof),
      otherStatements: () => ({ 'another modulus': other.N }),
      malformed: (p) => ({
        'w not coprime to N': { ...p, w: sk.p },
        'w negative': { ...p, w: -p.w },
        'x ≥ N': { ...p, rounds: p.rounds.map((r, i) => (i === 3 ? { ...r, x: r.x + sk.N } : r)) },
        'z negative': { ...p, rounds: p.rounds.map((r, i) => (i === 0 ? { ...r, z: -1n } : r)) },
        'a not a bit': { ...p, rounds: p.rounds.map((r, i) => (i === 0 ? { ...r, a: 2 as 0 } : r)) },
        'a round missing': { ...p, rounds: p.rounds.slice(1) },
      }),
    };
  });
}
