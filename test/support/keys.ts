/**
 * Paillier keys and ring-Pedersen parameters for tests, built from the committed safe-prime
 * fixtures (scripts/gen-fixtures.ts) so tests spend no minutes generating primes.
 */
import { readFileSync } from 'node:fs';
import { paillierSecretKeyFromPrimes, type PaillierSecretKey } from '../../cggmp/paillier/index.ts';
import { primeBits, SECURITY_LEVEL_128, type SecurityLevel } from '../../cggmp/params.ts';
import { ringPedersenFromPrimes, type RingPedersenSecret } from '../../cggmp/ring-pedersen/index.ts';
import { TEST_LEVEL } from './test-level.ts';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/safe-primes.json', import.meta.url), 'utf8')) as {
  primes: Record<string, string[]>;
};

export function fixturePrimes(bits: number): bigint[] {
  const list = fixture.primes[String(bits)];
  if (!list) throw new Error(`no ${bits}-bit fixture primes`);
  return list.map((h) => BigInt('0x' + h));
}

export interface PartyKeys {
  readonly paillier: PaillierSecretKey;
  readonly ringPedersen: RingPedersenSecret;
}

const cache = new Map<string, PartyKeys>();

/** Keys of test party `index` (0..1) at `level`: four distinct fixture primes each. */
export function partyKeys(level: SecurityLevel, index: 0 | 1): PartyKeys {
  const key = `${level.name}/${index}`;
  let keys = cache.get(key);
  if (!keys) {
    const ps = fixturePrimes(primeBits(level)).slice(4 * index, 4 * index + 4);
    const [p1, p2, p3, p4] = ps as [bigint, bigint, bigint, bigint];
    keys = { paillier: paillierSecretKeyFromPrimes(p1, p2, level), ringPedersen: ringPedersenFromPrimes(p3, p4, level) };
    cache.set(key, keys);
  }
  return keys;
}

export const LEVELS: readonly SecurityLevel[] = [TEST_LEVEL, SECURITY_LEVEL_128];
export { TEST_LEVEL, SECURITY_LEVEL_128 };
