/**
 * Non-interactive challenge derivation ChallengeNI_tag of spec §"Non-Interactive Challenge
 * Derivation": the stream G = H(Encode_tag(0, x…)) ‖ H(Encode_tag(1, x…)) ‖ … with H = SHA-256,
 * from which challenges are drawn deterministically by rejection sampling (exactly uniform).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bitLength, fromBytesBE, gcd, plusMinusHalf } from '../arith/index.ts';
import { encode, type Encodable } from './encode.ts';

export interface ChallengeStream {
  /** Next n bytes of G. */
  bytes(n: number): Uint8Array;
  /** Uniform in [0, n). */
  below(n: bigint): bigint;
  /** Uniform in the spec's set ±l. */
  plusMinus(l: bigint): bigint;
  /** Uniform in Z*_N. */
  znStar(N: bigint): bigint;
  /** m uniform bits. */
  bits(m: number): number[];
}

export function challengeStream(tag: string, inputs: readonly Encodable[]): ChallengeStream {
  let counter = 0;
  let buffer = new Uint8Array(0);
  let offset = 0;

  function bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (offset === buffer.length) {
        buffer = sha256(encode(tag, [counter, ...inputs]));
        counter += 1;
        offset = 0;
      }
      const take = Math.min(n - filled, buffer.length - offset);
      out.set(buffer.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
    }
    return out;
  }

  function below(n: bigint): bigint {
    if (n <= 1n) return 0n;
    const nbits = bitLength(n - 1n);
    const mask = (1n << BigInt(nbits)) - 1n;
    for (;;) {
      const x = fromBytesBE(bytes(Math.ceil(nbits / 8))) & mask;
      if (x < n) return x;
    }
  }

  return {
    bytes,
    below,
    plusMinus(l: bigint): bigint {
      const h = plusMinusHalf(l);
      return below(2n * h + 1n) - h;
    },
    znStar(N: bigint): bigint {
      for (;;) {
        const x = below(N);
        if (x !== 0n && gcd(x, N) === 1n) return x;
      }
    },
    bits(m: number): number[] {
      const raw = bytes(Math.ceil(m / 8));
      const out: number[] = [];
      for (let i = 0; i < m; i++) out.push(((raw[i >> 3] ?? 0) >> (i & 7)) & 1);
      return out;
    },
  };
}
