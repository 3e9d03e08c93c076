/**
 * Shamir polynomials over Z_q and their Feldman commitments: f(x) = Σ s_k x^k, F(x) = Σ x^k·S_k,
 * and Lagrange coefficients at 0 for a set of evaluation points. Secret coefficients are reduced
 * by the scalar field's Montgomery context, never by BigInt division.
 */
import { mod, randomBelow } from '../arith/index.ts';
import { CURVE_ORDER, IDENTITY, mulG, mulPointPublic, scalarField, type Point } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';

const q = CURVE_ORDER;

/** Random coefficients below q; `constant` (secret, ≥ 0) becomes the constant term mod q. */
export function randomPolynomial(degreePlusOne: number, constant?: bigint): bigint[] {
  const coeffs = Array.from({ length: degreePlusOne }, () => randomBelow(q));
  if (constant !== undefined) coeffs[0] = scalarField().reduce(constant);
  return coeffs;
}

/** f(x) mod q for secret coefficients and a public x ≥ 0 (Horner, one Montgomery reduction a step). */
export function evaluate(coeffs: readonly bigint[], x: bigint): bigint {
  const Fq = scalarField();
  let acc = 0n;
  for (let k = coeffs.length - 1; k >= 0; k--) acc = Fq.mulAdd(coeffs[k] as bigint, acc, x);
  return acc;
}

/** (a + b) mod q for secret a, b ≥ 0: shares being summed. */
export function addScalars(a: bigint, b: bigint): bigint {
  return scalarField().reduce(a + b);
}

export function commitPolynomial(coeffs: readonly bigint[]): Point[] {
  return coeffs.map((c) => mulG(c));
}

/** F(x) = Σ x^k·S_k for public commitments S and a public point x. */
export function evaluateCommitment(S: readonly Point[], x: bigint): Point {
  let acc = IDENTITY;
  let xk = 1n;
  for (const Sk of S) {
    acc = acc.add(mulPointPublic(Sk, xk));
    xk = (xk * x) % q;
  }
  return acc;
}

/** λ_j = Π_{m ≠ j} x_m / (x_m − x_j) mod q, for distinct non-zero evaluation points. */
export function lagrangeAtZero(points: readonly bigint[], j: bigint): bigint {
  let num = 1n;
  let den = 1n;
  for (const m of points) {
    if (m === j) continue;
    num = (num * m) % q;
    den = mod(den * (m - j), q);
  }
  if (den === 0n || !points.includes(j)) throw new InvalidInputError('evaluation points', 'not distinct');
  return (num * modInverseQ(den)) % q;
}

export function modInverseQ(a: bigint): bigint {
  // q is prime: a^(q-2) by square-and-multiply on public values (Lagrange denominators).
  let result = 1n;
  let base = mod(a, q);
  let e = q - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % q;
    base = (base * base) % q;
    e >>= 1n;
  }
  return result;
}
