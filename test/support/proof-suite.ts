/**
 * The acceptance checks every proof shares, as one parameterised suite: an honest proof
 * verifies; each single field tampered fails; the proof under another session, prover or rid
 * fails; under another statement fails; malformed values are refused with a typed error.
 */
import { describe, expect, it } from 'vitest';
import { CggmpError, InvalidInputError, ProofInvalidError } from '../../cggmp/errors.ts';
import { G, Point } from '../../cggmp/curve/index.ts';
import type { SecurityLevel } from '../../cggmp/params.ts';
import type { ProofContext } from '../../cggmp/zk/index.ts';
import { contextVariants, makeContext } from './context.ts';

export interface ProofCase<S, P> {
  readonly statement: S;
  prove(ctx: ProofContext, statement: S): P;
  verify(ctx: ProofContext, statement: S, proof: P): void;
  /** Statements that differ from the proved one in one field each. */
  otherStatements(statement: S): Record<string, S>;
  /** Proofs with one field outside its domain each (negative, ≥ modulus, off-curve, …). */
  malformed(proof: P): Record<string, P>;
}

/** Changes one value so that it differs but keeps its type. */
function tamperValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v + 1n;
  if (v instanceof Point) return v.add(G);
  if (v === 0 || v === 1) return 1 - v;
  throw new Error('cannot tamper with this value');
}

/** Every single-field change of a proof; in arrays the first, a middle and the last element. */
export function tamperings(proof: object): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [key, value] of Object.entries(proof)) {
    if (Array.isArray(value)) {
      const idx = [...new Set([0, value.length >> 1, value.length - 1])];
      for (const i of idx) {
        const item: unknown = value[i];
        if (item !== null && typeof item === 'object' && !(item instanceof Point)) {
          for (const [k2, v2] of Object.entries(item)) {
            const copy = [...value];
            copy[i] = { ...item, [k2]: tamperValue(v2) };
            out.push([`${key}[${i}].${k2}`, { ...proof, [key]: copy }]);
          }
        } else {
          const copy = [...value];
          copy[i] = tamperValue(item);
          out.push([`${key}[${i}]`, { ...proof, [key]: copy }]);
        }
      }
    } else {
      out.push([key, { ...proof, [key]: tamperValue(value) }]);
    }
  }
  return out;
}

export function expectRejected(fn: () => void): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'verification should have failed').toBeInstanceOf(CggmpError);
  expect(caught instanceof ProofInvalidError || caught instanceof InvalidInputError).toBe(true);
}

export function expectInvalidInput(fn: () => void): void {
  expect(fn).toThrow(InvalidInputError);
}

/** An off-curve point object (the decoder refuses such bytes; this one is built directly). */
export function offCurvePoint(): Point {
  return new Point(G.x, G.y + 1n, 1n);
}

export function proofSuite<S, P extends object>(
  name: string,
  level: SecurityLevel,
  makeCase: () => ProofCase<S, P>,
  options: { tamper?: boolean } = {},
): void {
  describe(`${name} at ${level.name}`, () => {
    const c = makeCase();
    const ctx = makeContext(2);
    const proof = c.prove(ctx, c.statement);

    it('verifies an honest proof', () => {
      c.verify(ctx, c.statement, proof);
    });

    for (const [what, other] of Object.entries(contextVariants(ctx))) {
      it(`rejects the proof under ${what}`, () => expectRejected(() => c.verify(other, c.statement, proof)));
    }

    for (const [what, other] of Object.entries(c.otherStatements(c.statement))) {
      it(`rejects the proof for another statement (${what})`, () => expectRejected(() => c.verify(ctx, other, proof)));
    }

    if (options.tamper !== false) {
      for (const [field, tampered] of tamperings(proof)) {
        it(`rejects the proof with ${field} changed`, () => expectRejected(() => c.verify(ctx, c.statement, tampered as P)));
      }
    }

    for (const [what, bad] of Object.entries(c.malformed(proof))) {
      it(`refuses malformed input: ${what}`, () => expectInvalidInput(() => c.verify(ctx, c.statement, bad)));
    }
  });
}
