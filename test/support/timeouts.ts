/**
 * Time budgets of the tests. They must hold on a loaded two-core machine (CI runs two test files
 * at once, and nothing else is guaranteed quiet): a budget is several times what the step takes
 * on a quiet machine, so a slow run is not a failed run. Speed is measured in `npm run bench`,
 * never by these limits.
 */

/** One test of the unit and integration layers on the native (constant-time) backend. */
export const UNIT_TEST_TIMEOUT_MS = 180_000;

/**
 * One test on the pure-BigInt backend: its modular exponentiation is about 7× slower, and the
 * 128-bit proofs and protocol runs of cggmp/ take minutes there under load.
 */
export const BIGINT_TEST_TIMEOUT_MS = 900_000;

/**
 * A round of the in-memory simulator, where every party of a session shares one thread: a
 * party's message can only arrive after the others' proofs of the same round are done.
 */
export const SIM_ROUND_TIMEOUT_MS = 120_000;

/**
 * The time limits of the e2e steps: each runs whole ceremonies across node processes, and CI runs
 * two such files at once on two cores, so a step can take several times its quiet-machine time.
 */
export const E2E_TEST_TIMEOUT_MS = 300_000;

/**
 * One `vilna-mpc` command run end to end (`simulate` at the 128-bit level, `demo`): about a
 * minute each on a quiet machine, measured up to 140 s under load.
 */
export const CLI_TEST_TIMEOUT_MS = 600_000;
