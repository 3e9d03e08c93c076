/** The party's HSM vault (DESIGN §4 "HSM vault"): the public surface of sidecar/vault. */
export { openVault, Vault, IDENTITY_LABEL, type VaultOptions, type ExpectedFields, type Unsealed, type ApproverPin } from './vault.ts';
export { readBlob, writeBlob, parseBlob, sealingKeyLabel, type BlobHeader, type BlobKind, type SealFields } from './blob.ts';
export { VaultError, type VaultErrorCode } from './errors.ts';
