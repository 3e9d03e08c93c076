import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['cggmp/**/*.test.ts', 'api/**/*.test.ts', 'sidecar/**/*.test.ts', 'operator/**/*.test.ts', 'hsm-sim/**/*.test.ts', 'cli/**/*.test.ts', 'test/**/*.test.ts'],
    // Proof tests at the 128-bit level do seconds of modular arithmetic each.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
