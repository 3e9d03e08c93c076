/**
 * Public surface of HD derivation for threshold keys (DESIGN §3 "HD"): non-hardened BIP32 paths,
 * CKDpub and the additive shift it amounts to (applied inside presigning), and BIP32 mainnet
 * extended public keys. Other folders import from here only.
 */
export { HARDENED_OFFSET, MAX_DEPTH, canonicalPath, formatPath, parsePath, type DerivationPath } from './path.ts';
export {
  CHAIN_CODE_BYTES,
  InvalidChildIndexError,
  deriveChild,
  deriveShift,
  type ChildKey,
  type DerivedKey,
} from './derive.ts';
export {
  XPUB_VERSION,
  deriveExtendedKey,
  keyFingerprint,
  masterExtendedKey,
  parseXpub,
  serializeXpub,
  xpub,
  xpubAt,
  type ExtendedPublicKey,
} from './xpub.ts';
