export {
  type PaillierPublicKey,
  type PaillierSecretKey,
  paillierPublicKey,
  paillierSecretKeyFromPrimes,
  paillierSecretKeyUnchecked,
  generatePaillierKey,
  publicPart,
} from './keys.ts';
export {
  encrypt,
  encryptShifted,
  encryptCrt,
  encryptCrtShifted,
  decrypt,
  decryptCentredMod,
  add,
  mulPublic,
  mulShifted,
  assertCiphertext,
} from './encryption.ts';
