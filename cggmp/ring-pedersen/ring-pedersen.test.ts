import { describe, expect, it } from 'vitest';
import { randomShifted, powPublic, revealShifted } from '../arith/index.ts';
import { InvalidInputError } from '../errors.ts';
import { LEVELS, partyKeys } from '../../test/support/keys.ts';
import { commitPublic, commitSecret, ringPedersenParams, ringPedersenPublic } from './index.ts';

for (const level of LEVELS) {
  describe(`ring-Pedersen parameters at ${level.name}`, () => {
    const secret = partyKeys(level, 0).ringPedersen;
    const R = ringPedersenPublic(secret);

    it('has s = t^λ and is independent of the Paillier key', () => {
      expect(powPublic(R.t, secret.lambda, R.N)).toBe(R.s);
      const paillier = partyKeys(level, 0).paillier;
      expect([paillier.p, paillier.q]).not.toContain(secret.p);
      expect([paillier.p, paillier.q]).not.toContain(secret.q);
    });

    it('commits the same with the table (public) and constant-time (secret) paths, for signed exponents', () => {
      const bound = 1n << BigInt(level.modulusBits + level.ell + level.epsilon);
      for (let i = 0; i < 4; i++) {
        const x = randomShifted(bound);
        const y = randomShifted(bound);
        const [xi, yi] = [revealShifted(x), revealShifted(y)];
        const expected = (powPublic(R.s, xi, R.N) * powPublic(R.t, yi, R.N)) % R.N;
        expect(commitPublic(R, xi, yi)).toBe(expected);
        expect(commitSecret(R, x, y)).toBe(expected);
      }
      // Exponents beyond the table fall back to plain exponentiation and stay correct.
      const huge = 1n << BigInt(2 * level.modulusBits);
      expect(commitPublic(R, huge, -huge)).toBe((powPublic(R.s, huge, R.N) * powPublic(R.t, -huge, R.N)) % R.N);
    });

    it('refuses received parameters with s = t, s = 1, s not coprime to N̂, or a short N̂', () => {
      expect(() => ringPedersenParams({ ...R, s: R.t }, level)).toThrow(/s equals t/);
      expect(() => ringPedersenParams({ ...R, s: 1n }, level)).toThrow(InvalidInputError);
      expect(() => ringPedersenParams({ ...R, t: secret.p }, level)).toThrow(InvalidInputError);
      expect(() => ringPedersenParams({ ...R, N: R.N >> 8n }, level)).toThrow(InvalidInputError);
      expect(ringPedersenParams(R, level)).toEqual(R);
    });
  });
}
