/** SoftHSM provisioning for local runs and tests (DESIGN §2 `hsm-sim/`). */
export { provisionToken, findSoftHsmModule, ProvisionError, SOFTHSM_MODULE_PATHS, type ProvisionOptions, type ProvisionedToken } from './provision.ts';
/** PKCS#11 fault injection at the module boundary (DESIGN §6 layer 2). */
export { faultModule, FaultControl, FaultBuildError, type FaultEnv, type FaultFunction, type BuildOptions } from './faults.ts';
