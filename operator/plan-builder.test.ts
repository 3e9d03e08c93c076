import { randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { planHashHex } from '../api/index.ts';
import { MpcCeremonySpecSchema, ShardRotationSpecSchema } from '../api/crd.ts';
import { keygenPlan, rotationPlan, type ResolvedParty } from './plan-builder.ts';

const identity = (): string => bytesToHex(p256.getPublicKey(p256.utils.randomSecretKey(), true));
const ref = (cluster: string, name: string) => ({ cluster, namespace: 'vault', name });
const spec = MpcCeremonySpecSchema.parse({ keyName: 'treasury-1', threshold: 2, parties: [ref('local', 'a'), ref('us', 'b'), ref('ap', 'c')], minRegions: 3 });
const resolved = (over: Partial<ResolvedParty>[] = []): ResolvedParty[] =>
  spec.parties.map((r, i) => ({ ref: r, region: ['eu-west', 'us-east', 'ap-south'][i]!, identityKey: identity(), endpoint: `https://party-${i}.example:8443`, ready: true, ...over[i] }));
const opts = { expiresAt: '2030-01-01T00:00:00Z', nonce: randomBytes(32).toString('hex') };

describe('keygenPlan', () => {
  it('numbers the parties 1..n in the ceremony order, with their identity keys and endpoints', () => {
    const parties = resolved();
    const out = keygenPlan(spec, parties, opts);
    if (!('plan' in out)) throw new Error(JSON.stringify(out));
    expect(out.plan.parties.map((p) => [p.index, p.name, p.identityKey])).toEqual(parties.map((p, i) => [i + 1, `${p.ref.cluster}/vault/${p.ref.name}`, p.identityKey]));
    expect(out.plan).toMatchObject({ protocol: 'keygen', keyId: 'treasury-1', epoch: 0, threshold: 2, presignPool: 8 });
    expect(planHashHex(out.plan)).toBe(planHashHex(keygenPlan(spec, parties, opts).plan as never));
  });

  it('waits for parties whose node has not reported its identity yet', () => {
    const out = keygenPlan(spec, resolved([{}, { identityKey: undefined, ready: false }]), opts);
    expect(out).toEqual({ waiting: 'waiting for us/vault/b to report an identity key and endpoint' });
  });

  it('refuses fewer regions than minRegions, and two references to one node', () => {
    expect(keygenPlan(spec, resolved([{}, { region: 'eu-west' }]), opts)).toEqual({ refused: 'the parties span 2 region(s) (ap-south, eu-west), fewer than minRegions 3' });
    const twice = resolved();
    const same = [twice[0]!, { ...twice[1]!, identityKey: twice[0]!.identityKey }, twice[2]!];
    const out = keygenPlan(spec, same, opts);
    expect('refused' in out && out.refused).toMatch(/identityKey: duplicates parties\[0\]\.identityKey/);
  });
});

describe('rotationPlan', () => {
  const policy = { version: 1 as const, allowedPaths: ['m/0/*'] };
  const holders = [1, 2, 3].map((index) => ({ index, ref: ref('local', `h${index}`) }));
  const key = { keyId: 'treasury-1', epoch: 4, threshold: 2, holders, lastIndex: 5, policy, presignPool: 8 };
  const facts = new Map<string, ResolvedParty>();
  const party = (r: { cluster: string; namespace: string; name: string }, over: Partial<ResolvedParty> = {}): void => {
    facts.set(`${r.cluster}/${r.namespace}/${r.name}`, { ref: r, region: r.cluster, identityKey: identity(), endpoint: `https://${r.name}.example:8443`, ready: true, ...over });
  };
  for (const h of holders) party(h.ref);
  party(ref('me', 'new'));
  const resolve = (r: { cluster: string; namespace: string; name: string }): ResolvedParty | undefined => facts.get(`${r.cluster}/${r.namespace}/${r.name}`);
  const rotation = (s: object) => ShardRotationSpecSchema.parse({ ceremony: 'treasury', ...s });

  it('refreshes the same holders under their numbers to the next epoch, without a policy', () => {
    const out = rotationPlan(rotation({ protocol: 'refresh' }), key, resolve, opts);
    if (!out.plan) throw new Error(JSON.stringify(out));
    expect(out.plan).toMatchObject({ protocol: 'refresh', keyId: 'treasury-1', epoch: 5, threshold: 2, presignPool: 8 });
    expect(out.plan.parties.map((p) => [p.index, p.name])).toEqual([[1, 'local/vault/h1'], [2, 'local/vault/h2'], [3, 'local/vault/h3']]);
    expect(out.plan.policy).toBeUndefined();
    expect(out.plan.previous).toBeUndefined();
    expect(out.lastIndex).toBe(5);
  });

  it('reshares: stayers keep their numbers, a newcomer gets one no holder ever had, the first ready old holders deal, the policy is carried', () => {
    const out = rotationPlan(rotation({ protocol: 'reshare', parties: [ref('local', 'h3'), ref('me', 'new'), ref('local', 'h1')] }), key, resolve, opts);
    if (!out.plan) throw new Error(JSON.stringify(out));
    expect(out.holders.map((h) => [h.index, h.ref.name])).toEqual([[1, 'h1'], [3, 'h3'], [6, 'new']]);
    expect(out.lastIndex).toBe(6);
    expect(out.plan.parties.map((p) => p.index)).toEqual([1, 3, 6]);
    expect(out.plan.previous).toMatchObject({ epoch: 4, threshold: 2, dealers: [1, 2] });
    expect(out.plan.previous!.parties.map((p) => p.index)).toEqual([1, 2, 3]);
    expect(out.plan.policy).toEqual(policy);
  });

  it('lets a reshare set a new threshold and a new policy; a down old holder is named but does not deal', () => {
    party(ref('local', 'h1'), { ready: false });
    try {
      const next = { version: 1 as const, allowedPaths: [] };
      const out = rotationPlan(rotation({ protocol: 'reshare', threshold: 3, parties: [ref('local', 'h2'), ref('local', 'h3'), ref('me', 'new')], policy: next }), key, resolve, opts);
      if (!out.plan) throw new Error(JSON.stringify(out));
      expect(out.plan).toMatchObject({ threshold: 3, policy: next });
      expect(out.plan.previous).toMatchObject({ dealers: [2, 3] });
      expect(out.plan.previous!.parties.map((p) => p.index)).toEqual([1, 2, 3]);
    } finally {
      party(ref('local', 'h1'));
    }
  });

  it('waits for a newcomer that is not ready, and for enough ready dealers', () => {
    party(ref('ap', 'late'), { ready: false });
    expect(rotationPlan(rotation({ protocol: 'reshare', parties: [ref('local', 'h1'), ref('ap', 'late')] }), key, resolve, opts)).toEqual({
      waiting: 'waiting for ap/vault/late to be ready and report an identity key and endpoint',
    });
    party(ref('local', 'h1'), { ready: false });
    party(ref('local', 'h2'), { ready: false });
    try {
      expect(rotationPlan(rotation({ protocol: 'reshare', parties: [ref('local', 'h3'), ref('me', 'new')] }), key, resolve, opts)).toEqual({
        waiting: 'a reshare needs 2 ready old holders to deal; 1 are ready',
      });
    } finally {
      party(ref('local', 'h1'));
      party(ref('local', 'h2'));
    }
  });

  it('refuses a threshold above the new party count', () => {
    expect(rotationPlan(rotation({ protocol: 'reshare', threshold: 3, parties: [ref('local', 'h1'), ref('local', 'h2')] }), key, resolve, opts)).toEqual({ refused: 'threshold 3 exceeds the 2 new parties' });
  });
});
