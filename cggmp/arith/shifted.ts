/**
 * Secret integers of the spec's signed sets (±2^ℓ masks, centred scalars) held as non-negative
 * values: x is kept as `value = x + offset` with a public offset and 0 ≤ value ≤ 2·offset, so no
 * operation on a secret ever sees its sign. A negative BigInt takes other paths through V8 and
 * through helpers such as `mod` (`r < 0n ? r + m : r`), and the sign of a centred nonce share
 * k_i is one bit of k_i per signature; with this form the sign only exists in public results.
 *
 * Each operation pairs the secret part, computed on `value` (constant-time where the backend is),
 * with a public correction for `offset`.
 */
import { InvalidInputError } from '../errors.ts';
import { randomBelow, plusMinusHalf } from './random.ts';
import { getBackend } from './select.ts';
import type { ModulusContext } from './backend.ts';
import { powPublic } from './pow.ts';

export interface Shifted {
  /** x + offset, in [0, 2·offset]. Secret. */
  readonly value: bigint;
  /** Public. */
  readonly offset: bigint;
}

/** A uniform element of the spec's set ±l, shifted by its half-width. */
export function randomShifted(l: bigint): Shifted {
  const h = plusMinusHalf(l);
  return { value: randomBelow(2n * h + 1n), offset: h };
}

/**
 * A uniform secret scalar k of Z_q with its centred representative in (−q/2, q/2] (the spec's
 * ±2^ℓ form of a scalar) as a Shifted: value u uniform in [0, q), offset (q − 1)/2, k = u − offset.
 */
export function randomCentredScalar(q: ModulusContext): Shifted {
  return { value: randomBelow(q.n), offset: (q.n - 1n) / 2n };
}

/** The centred representative of a given secret scalar x ∈ [0, q), as a Shifted (one reduction). */
export function centredScalar(x: bigint, q: ModulusContext): Shifted {
  const offset = (q.n - 1n) / 2n;
  return { value: q.reduce(x + offset), offset };
}

/** (value − offset) mod q: the scalar a Shifted stands for, without a signed intermediate. */
export function scalarOf(x: Shifted, q: ModulusContext): bigint {
  // value + (q − offset mod q) ≡ value − offset, and every term is non-negative.
  return q.reduce(x.value + (q.n - (x.offset % q.n)));
}

/** −x, as a Shifted with the same offset: 2·offset − value is a subtraction from a public bound. */
export function negateShifted(x: Shifted): Shifted {
  return { value: 2n * x.offset - x.value, offset: x.offset };
}

/** Checks a Shifted lies in ±bound: offset ≤ bound (public) and 0 ≤ value ≤ 2·offset. */
export function assertShiftedWithin(x: Shifted, bound: bigint, field: string): void {
  if (x.offset < 0n || x.offset > bound || x.value < 0n || x.value > 2n * x.offset) {
    throw new InvalidInputError(field, 'secret outside its declared range');
  }
}

/** b^x mod m for public b and m and a secret x: b^value (constant time in value) · b^−offset. */
export function powShifted(b: bigint, x: Shifted, m: bigint): bigint {
  const backend = getBackend();
  const base = ((b % m) + m) % m;
  return (backend.modPowSecret(base, x.value, m) * powPublic(base, -x.offset, m)) % m;
}

/**
 * The proof response z = α + e·x over the integers for secret α, x and a public challenge e:
 * the addon adds only non-negative secret terms, and the public correction comes off last.
 */
export function affineResponse(alpha: Shifted, e: bigint, x: Shifted): bigint {
  const abs = e < 0n ? -e : e;
  return getBackend().affine(alpha.value, e, x.value, x.offset) - (alpha.offset + abs * x.offset);
}

/** The integer a Shifted stands for: only for values that are about to become public. */
export function revealShifted(x: Shifted): bigint {
  return x.value - x.offset;
}
