import { randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { planHashHex } from '../api/index.ts';
import { MpcCeremonySpecSchema } from '../api/crd.ts';
import { keygenPlan, type ResolvedParty } from './plan-builder.ts';

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
