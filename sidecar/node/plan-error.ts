/**
 * A refusal of the plan and signing layer, with a stable code the HTTP layer maps to a status.
 * `culprits` only when a party's own signed statement shows it at fault (never on a guess).
 */
export class PlanError extends Error {
  readonly code: string;
  readonly culprits: readonly number[] | undefined;
  override readonly name: string = 'PlanError';
  constructor(code: string, message: string, opts: { culprits?: readonly number[] } = {}) {
    super(message);
    this.code = code;
    this.culprits = opts.culprits === undefined ? undefined : Object.freeze([...opts.culprits]);
  }
}
