import { describe, expect, it } from 'vitest';
import { SecurityLevelError } from './errors.ts';
import { assertProductionLevel, SECURITY_LEVEL_128 } from './params.ts';
import { TEST_LEVEL } from '../test/support/test-level.ts';

describe('security levels', () => {
  it('accepts only the 128-bit level as a production level', () => {
    expect(() => assertProductionLevel(SECURITY_LEVEL_128)).not.toThrow();
    expect(() => assertProductionLevel(TEST_LEVEL)).toThrow(SecurityLevelError);
    expect(() => assertProductionLevel({ ...SECURITY_LEVEL_128, name: '128-bit', m: 80 })).toThrow(SecurityLevelError);
  });

  it('keeps the parameter relations of the spec (ℓ ≥ λ, ε ≥ 8 + log Q, ℓ\' ≥ 2λ + ε + s for s = 128)', () => {
    for (const L of [SECURITY_LEVEL_128, TEST_LEVEL]) {
      expect(L.ell).toBeGreaterThanOrEqual(256);
      expect(L.epsilon).toBeGreaterThanOrEqual(8 + L.m);
      expect(L.ellPrime + L.epsilon).toBeLessThan(L.modulusBits - 1);
    }
    const L = SECURITY_LEVEL_128;
    expect(L.ellPrime).toBeGreaterThanOrEqual(2 * 256 + L.epsilon + 128);
    expect(L.modulusBits).toBe(3072);
  });
});
