/**
 * Paillier at the 128-bit level (3072-bit N): encryption with the public key only and with the
 * secret key's CRT, and decryption (always CRT). Keys come from the committed fixture primes.
 */
import { getBackend, randomPlusMinus, randomZnStar } from '../cggmp/arith/index.ts';
import { decrypt, encrypt, encryptCrt, publicPart } from '../cggmp/paillier/index.ts';
import { SECURITY_LEVEL_128 as L } from '../cggmp/params.ts';
import { partyKeys } from '../test/support/keys.ts';
import type { BenchCase, BenchSuite } from './harness.ts';

const backend = (): string => getBackend().name;
const sk = () => partyKeys(L, 0).paillier;

const cases: BenchCase[] = [
  {
    op: 'paillier-enc',
    backend: backend(),
    params: { modBits: L.modulusBits, crt: 'no' },
    setup() {
      const pk = publicPart(sk());
      const M = randomPlusMinus(pk.N);
      const r = randomZnStar(pk.N);
      return () => encrypt(pk, M, r);
    },
  },
  {
    op: 'paillier-enc',
    backend: backend(),
    params: { modBits: L.modulusBits, crt: 'yes' },
    setup() {
      const key = sk();
      const M = randomPlusMinus(key.N);
      const r = randomZnStar(key.N);
      return () => encryptCrt(key, M, r);
    },
  },
  {
    op: 'paillier-dec',
    backend: backend(),
    params: { modBits: L.modulusBits, crt: 'yes' },
    setup() {
      const key = sk();
      const C = encrypt(key, randomPlusMinus(key.N));
      return () => decrypt(key, C);
    },
  },
];

export default cases satisfies BenchSuite;
