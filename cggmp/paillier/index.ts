export {
  type PaillierPublicKey,
  type PaillierSecretKey,
  paillierPublicKey,
  paillierSecretKeyFromPrimes,
  generatePaillierKey,
  publicPart,
} from './keys.ts';
export { encrypt, encryptCrt, decrypt, add, mulPublic, mulSecret, assertCiphertext } from './encryption.ts';
