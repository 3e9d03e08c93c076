/** Proof contexts for tests: one base context and its single-field variations. */
import { randomBytes } from 'node:crypto';
import type { ProofContext } from '../../cggmp/zk/index.ts';

export function makeContext(prover = 1): ProofContext {
  return { sessionId: randomBytes(32), prover, rid: randomBytes(32) };
}

/** The same context with one field changed: the three ways a proof may be replayed. */
export function contextVariants(ctx: ProofContext): Record<string, ProofContext> {
  return {
    'another session': { ...ctx, sessionId: randomBytes(32) },
    'another prover': { ...ctx, prover: ctx.prover + 1 },
    'another rid': { ...ctx, rid: randomBytes(32) },
  };
}
