/**
 * Safe primes for aux-info (DESIGN §3 "Arithmetic engine"): 1536-bit safe primes take 0.1–6 s
 * each and aux-info needs four per party, so the node generates them ahead of time, in the
 * background, and keeps them in memory only (a prime handed out is removed: never used twice).
 *
 * Development runs may instead take primes from a fixture file (public, the same every run: never
 * for real keys); each party takes its own disjoint slice so that no two parties share a prime,
 * and cycles through it (the factorisations are public anyway, so reuse costs nothing more).
 */
import { readFile } from 'node:fs/promises';
import { arith } from '../../cggmp/index.ts';

export class PrimePool implements arith.PrimeSource {
  readonly #bits: number;
  readonly #target: number;
  readonly #ready: bigint[] = [];
  #filling = false;
  #closed = false;

  constructor(bits: number, target: number) {
    this.#bits = bits;
    this.#target = target;
  }

  /** Starts (or continues) background generation up to the target size. */
  fill(): void {
    if (this.#filling || this.#closed) return;
    this.#filling = true;
    void (async () => {
      try {
        while (!this.#closed && this.#ready.length < this.#target) this.#ready.push(await arith.generateSafePrime(this.#bits));
      } finally {
        this.#filling = false;
      }
    })();
  }

  get available(): number {
    return this.#ready.length;
  }

  async take(bits: number): Promise<bigint> {
    const p = bits === this.#bits ? this.#ready.shift() : undefined;
    this.fill();
    return p ?? arith.generateSafePrime(bits);
  }

  close(): void {
    this.#closed = true;
    this.#ready.length = 0;
  }
}

/** Development only: this party's slice of a fixture file (`{ primes: { "1536": [hex…] } }`). */
export async function fixturePrimes(file: string, party: number, perParty: number): Promise<arith.PrimeSource> {
  const json = JSON.parse(await readFile(file, 'utf8')) as { primes: Record<string, string[]> };
  const used = new Map<number, number>();
  return {
    take(bits: number): Promise<bigint> {
      const list = json.primes[String(bits)] ?? [];
      const at = used.get(bits) ?? 0;
      const hex = list[(party - 1) * perParty + (at % perParty)];
      if (hex === undefined) return Promise.reject(new Error(`the development primes file has no ${bits}-bit primes for party ${party}`));
      used.set(bits, at + 1);
      const p = BigInt(`0x${hex}`);
      if (!arith.isSafePrime(p, bits)) return Promise.reject(new Error('development prime file holds a non-safe prime'));
      return Promise.resolve(p);
    },
  };
}
