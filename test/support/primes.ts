/** A PrimeSource over the committed fixture primes: each handed out once, in order. */
import type { PrimeSource } from '../../cggmp/arith/index.ts';
import { fixturePrimes } from './keys.ts';

export function fixturePrimeSource(): PrimeSource {
  const used = new Map<number, number>();
  return {
    take(bits: number): Promise<bigint> {
      const list = fixturePrimes(bits);
      const at = used.get(bits) ?? 0;
      const p = list[at];
      if (p === undefined) return Promise.reject(new Error(`fixture ${bits}-bit primes exhausted`));
      used.set(bits, at + 1);
      return Promise.resolve(p);
    },
  };
}
