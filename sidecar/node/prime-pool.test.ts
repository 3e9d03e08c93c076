/**
 * Unit tests of the sealed prime pool's naming and plaintext encoding (the pool against a real
 * token is test/integration/prime-pool.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { KEY_ID_RE } from '../../api/index.ts';
import { fixturePrimes } from '../../test/support/keys.ts';
import { assertSealFields, sealingKeyLabel } from '../vault/blob.ts';
import { decodePrime, encodePrime, PRIME_POOL_KEY_ID, primeObjectId } from './prime-pool.ts';

describe('prime pool naming', () => {
  it('seals under a key id no plan can name, so no key shares its sealing keys or watermark', () => {
    expect(KEY_ID_RE.test(PRIME_POOL_KEY_ID)).toBe(false);
    expect(KEY_ID_RE.test(PRIME_POOL_KEY_ID.slice(0, 64))).toBe(true); // only its length keeps it out
    expect(() => assertSealFields({ keyId: PRIME_POOL_KEY_ID, party: 1, epoch: 2 ** 40, kind: 'prime', objectId: primeObjectId(2 ** 40) })).not.toThrow();
    expect(sealingKeyLabel(PRIME_POOL_KEY_ID, 7)).toBe(`vilna-seal:${PRIME_POOL_KEY_ID}:7`);
  });
});

describe('sealed prime plaintext', () => {
  const [p] = fixturePrimes(1536);

  it('is the prime as fixed-length big-endian bytes', () => {
    const bytes = encodePrime(p!, 1536);
    expect(bytes.length).toBe(192);
    expect(Buffer.from(bytes).toString('hex')).toBe(p!.toString(16).padStart(384, '0'));
    expect(decodePrime(bytes, 1536)).toBe(p);
  });

  it('decodes nothing of another size', () => {
    const bytes = encodePrime(p!, 1536);
    expect(decodePrime(bytes, 1024)).toBeUndefined();
    expect(decodePrime(bytes.subarray(1), 1536)).toBeUndefined();
    expect(decodePrime(new Uint8Array(192), 1536)).toBeUndefined(); // zero: not 1536 bits
  });
});
