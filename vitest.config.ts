import { defineConfig } from 'vitest/config';
import { BIGINT_TEST_TIMEOUT_MS, UNIT_TEST_TIMEOUT_MS } from './test/support/timeouts.ts';

export default defineConfig({
  test: {
    include: ['cggmp/**/*.test.ts', 'api/**/*.test.ts', 'sidecar/**/*.test.ts', 'operator/**/*.test.ts', 'hsm-sim/**/*.test.ts', 'cli/**/*.test.ts', 'bench/**/*.test.ts', 'test/**/*.test.ts'],
    // Proof tests at the 128-bit level do seconds of modular arithmetic each (minutes on BigInt).
    testTimeout: process.env.VILNA_MPC_ARITH === 'js' ? BIGINT_TEST_TIMEOUT_MS : UNIT_TEST_TIMEOUT_MS,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
