/**
 * The digit base B = 2^w of a fixed-base multi-exponentiation table (spec "Speeding up
 * Fixed-Based Multiexponentiation Using Preprocessing"), shared by both backends so that they
 * build identical tables.
 *
 * One evaluation of s^x·t^y costs about (B − 1) + 2·k′·(1 − 1/B) multiplications with
 * k′ = ⌈maxExpBits / w⌉ digits per exponent; w is the minimiser of that count. For the protocol's
 * (s, t) exponents of ~3840 bits this gives w = 8 (B = 2^8, as the spec suggests), about 1,200
 * multiplications against ~4,500 for a plain 3840-bit exponentiation.
 */

/** Largest exponent a table may cover (limits memory; the protocol needs < 5,000 bits). */
export const TABLE_MAX_EXP_BITS = 65_536;
/** Largest digit width: B ≤ 2^16 keeps the per-call digit buckets small. */
export const TABLE_MAX_WINDOW_BITS = 16;

/** Estimated multiplications per evaluation with digits of w bits. */
function evaluationCost(maxExpBits: number, w: number): number {
  const digits = Math.ceil(maxExpBits / w);
  return 2 ** w - 1 + 2 * digits * (1 - 2 ** -w);
}

/** w for a table covering exponents below 2^maxExpBits (1 for an invalid size, which the backend then rejects). */
export function tableWindowBits(maxExpBits: number): number {
  if (!Number.isInteger(maxExpBits) || maxExpBits < 1 || maxExpBits > TABLE_MAX_EXP_BITS) return 1;
  let best = 1;
  for (let w = 2; w <= TABLE_MAX_WINDOW_BITS; w++) {
    if (evaluationCost(maxExpBits, w) < evaluationCost(maxExpBits, best)) best = w;
  }
  return best;
}
