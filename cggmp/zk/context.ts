/**
 * What every proof's challenge binds besides its statement (spec "shared state"): the session
 * id, the prover's 1-based index and the joint randomness (rid/ρ) of the session, plus the
 * security level L (ChallengeNI^L). A proof replayed under another session, by another prover,
 * or at another level derives another challenge and fails.
 */
import { InvalidInputError, ProofInvalidError } from '../errors.ts';
import type { SecurityLevel } from '../params.ts';
import type { Encodable } from '../transcript/index.ts';

export interface ProofContext {
  readonly sessionId: Uint8Array;
  /** 1-based party number of the prover. */
  readonly prover: number;
  /** Joint randomness agreed by the session (may be empty before it exists, e.g. in keygen round 1). */
  readonly rid: Uint8Array;
}

/** Domain prefix of every proof tag; a new incompatible encoding bumps the version. */
export const PROOF_TAG_PREFIX = 'vilna-mpc/cggmp24/zk/v1/';

export function assertContext(ctx: ProofContext): void {
  if (ctx === null || typeof ctx !== 'object') throw new InvalidInputError('ctx', 'missing proof context');
  if (!(ctx.sessionId instanceof Uint8Array) || ctx.sessionId.length === 0) {
    throw new InvalidInputError('ctx.sessionId', 'missing session id');
  }
  if (!Number.isSafeInteger(ctx.prover) || ctx.prover < 1) throw new InvalidInputError('ctx.prover', 'not a party number');
  if (!(ctx.rid instanceof Uint8Array)) throw new InvalidInputError('ctx.rid', 'not bytes');
}

/** The shared-state part of a challenge's inputs. */
export function stateInputs(ctx: ProofContext, level?: SecurityLevel): Encodable[] {
  const out: Encodable[] = [ctx.sessionId, ctx.prover, ctx.rid];
  if (level) out.push([level.ell, level.ellPrime, level.epsilon, level.m, level.modulusBits]);
  return out;
}

/** Throws ProofInvalidError naming the spec check when `ok` is false. */
export function check(ok: boolean, proof: string, name: string): void {
  if (!ok) throw new ProofInvalidError(proof, name);
}
