/**
 * Stands in for cggmp/arith/select.ts while modexps are counted (counting-hooks.ts redirects
 * every import of it here): the same module, except that getBackend() returns the selected
 * backend behind the counting decorator of counting-backend.ts.
 */
import type { ArithBackend } from '../../cggmp/arith/index.ts';
import * as real from '../../cggmp/arith/select.ts';
import { countingBackend } from './counting-backend.ts';

export const { ARITH_ENV_VAR, chooseBackend, loadBackend } = real;

let counted: ArithBackend | undefined;

export function getBackend(): ArithBackend {
  counted ??= countingBackend(real.getBackend());
  return counted;
}
