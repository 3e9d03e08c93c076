/**
 * Time limits of the e2e steps: each runs whole ceremonies across node processes, and CI runs
 * two such files at once on two cores, so a step can take several times its quiet-machine time.
 */
export const E2E_TEST_TIMEOUT_MS = 300_000;
