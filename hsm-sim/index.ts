/** SoftHSM provisioning for local runs and tests (DESIGN §2 `hsm-sim/`). */
export { provisionToken, findSoftHsmModule, ProvisionError, SOFTHSM_MODULE_PATHS, type ProvisionOptions, type ProvisionedToken } from './provision.ts';
