/**
 * A commit decision (DESIGN §4 "Epoch switch") is taken only with every new holder's vote for
 * the transcript this party sealed and the signature of the party that started the plan: votes
 * are public, so without the coordinator's word anyone could commit a plan it had aborted.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { protocols } from '../../cggmp/index.ts';
import type { PendingInfo } from './key-state.ts';
import { PlanError } from './plan-error.ts';
import { verifyDecision, type CommitDecision } from './plan-participant.ts';
import { commitBytes, voteBytes } from './statements.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const signers = [1, 2, 3].map(() => protocols.developmentSigner());
const planHash = randomBytes(32);
const transcriptHash = randomBytes(32);

const pending: PendingInfo = {
  epoch: 1,
  planHash: hex(planHash),
  publicKey: '02' + '11'.repeat(32),
  xpub: 'xpub-not-checked-here',
  threshold: 2,
  parties: signers.map((s, i) => ({ index: i + 1, identityKey: hex(s.publicKey), endpoint: `https://p${i + 1}.example` })),
  transcriptHash: hex(transcriptHash),
  coordinator: 1,
};

async function decision(over: { coordinator?: number; signWith?: number; votes?: number[] } = {}): Promise<CommitDecision> {
  const coordinator = over.coordinator ?? 1;
  const votes = await Promise.all((over.votes ?? [1, 2, 3]).map(async (p) => ({ party: p, transcriptHash: hex(transcriptHash), signature: hex(await signers[p - 1]!.sign(voteBytes(planHash, transcriptHash, p))) })));
  const signature = hex(await signers[(over.signWith ?? coordinator) - 1]!.sign(commitBytes(planHash, transcriptHash, coordinator)));
  return { planHash: hex(planHash), transcriptHash: hex(transcriptHash), votes, coordinator: { party: coordinator, signature } };
}

function refusal(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PlanError);
    expect((e as PlanError).code).toBe('E_DECISION_INVALID');
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('verifyDecision', () => {
  it('takes every vote and the starting party\'s signature', async () => {
    const d = await decision();
    expect(() => verifyDecision(d, pending)).not.toThrow();
  });

  it('refuses a decision assembled from the votes alone, or signed by another party than the one that started the plan', async () => {
    const d = await decision();
    expect(refusal(() => verifyDecision({ ...d, coordinator: { party: 1, signature: '00'.repeat(64) } }, pending))).toMatch(/not signed by the party that started the plan/);
    const byTwo = await decision({ coordinator: 2 });
    expect(refusal(() => verifyDecision(byTwo, pending))).toMatch(/started the plan/);
    const forged = await decision({ signWith: 2 });
    expect(refusal(() => verifyDecision(forged, pending))).toMatch(/started the plan/);
  });

  it('refuses a missing vote and a decision for another transcript', async () => {
    const two = await decision({ votes: [1, 2] });
    expect(refusal(() => verifyDecision(two, pending))).toMatch(/vote of party 3 is missing/);
    const d = await decision();
    expect(refusal(() => verifyDecision({ ...d, transcriptHash: hex(randomBytes(32)) }, pending))).toMatch(/another transcript/);
  });
});
