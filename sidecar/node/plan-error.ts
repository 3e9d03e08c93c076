/** A refusal of the plan and signing layer, with a stable code the HTTP layer maps to a status. */
export class PlanError extends Error {
  readonly code: string;
  override readonly name = 'PlanError';
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

