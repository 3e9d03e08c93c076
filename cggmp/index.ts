/**
 * vilna-mpc's protocol library: pure CGGMP (2024 revision) building blocks. No network, disk,
 * clock or globals beyond the CSPRNG and the one-time arithmetic backend choice.
 */
export * from './errors.ts';
export { SECURITY_LEVEL_128, assertProductionLevel, challengeSpace, primeBits, type SecurityLevel } from './params.ts';
export * as arith from './arith/index.ts';
export * as curve from './curve/index.ts';
export * as transcript from './transcript/index.ts';
export * as paillier from './paillier/index.ts';
export * as ringPedersen from './ring-pedersen/index.ts';
export * as zk from './zk/index.ts';
export * as hd from './hd/index.ts';
export * as protocols from './protocols/index.ts';
export * as parallel from './parallel/index.ts';
