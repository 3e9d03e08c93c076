/**
 * The zod view of the custom resources (api/crd.ts) against the CRD files the API server
 * enforces (crds/*.yaml): kinds, plurals, phases and condition types must say the same thing, and
 * the samples either side accepts or refuses are the same for the rules both carry.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CEREMONY_PHASES, CONDITION_TYPES, GROUP, MpcCeremonySpecSchema, PLURALS, ROTATION_PHASES, ShardRotationSpecSchema, VERSION } from './crd.ts';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'crds');
type Crd = { spec: { group: string; names: { kind: string; plural: string }; versions: { name: string; schema: { openAPIV3Schema: { properties: { status: { properties: Record<string, { enum?: string[]; items?: { properties?: { type?: { enum?: string[] } } } }> } } } } }[] } };
const crds: Crd[] = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => parse(readFileSync(path.join(dir, f), 'utf8')) as Crd);
const byKind = new Map(crds.map((c) => [c.spec.names.kind, c]));
const status = (kind: string) => byKind.get(kind)!.spec.versions[0]!.schema.openAPIV3Schema.properties.status.properties;

describe('CRD files and api/crd.ts', () => {
  it('declare the same kinds, plurals, group and version', () => {
    expect([...byKind.keys()].sort()).toEqual(Object.keys(PLURALS).sort());
    for (const [kind, plural] of Object.entries(PLURALS)) {
      const c = byKind.get(kind)!;
      expect(c.spec.names.plural).toBe(plural);
      expect(c.spec.group).toBe(GROUP);
      expect(c.spec.versions.map((v) => v.name)).toEqual([VERSION]);
    }
  });

  it('declare the same phases and condition types', () => {
    expect(status('MpcCeremony').phase!.enum).toEqual([...CEREMONY_PHASES]);
    expect(status('ShardRotation').phase!.enum).toEqual([...ROTATION_PHASES]);
    for (const kind of Object.keys(PLURALS)) expect(status(kind).conditions!.items!.properties!.type!.enum).toEqual([...CONDITION_TYPES]);
  });

  it('refuse the same ceremony and rotation specs as the CEL rules', () => {
    const party = (name: string) => ({ cluster: 'local', namespace: 'vault', name });
    const ok = { keyName: 'treasury-1', threshold: 2, parties: [party('a'), party('b'), party('c')] };
    expect(MpcCeremonySpecSchema.safeParse(ok).success).toBe(true);
    expect(MpcCeremonySpecSchema.safeParse({ ...ok, threshold: 1 }).success).toBe(false);
    expect(MpcCeremonySpecSchema.safeParse({ ...ok, threshold: 4 }).success).toBe(false);
    expect(MpcCeremonySpecSchema.safeParse({ ...ok, parties: [party('a'), party('a')] }).success).toBe(false);
    expect(ShardRotationSpecSchema.safeParse({ ceremony: 'c', protocol: 'reshare' }).success).toBe(false);
    expect(ShardRotationSpecSchema.safeParse({ ceremony: 'c', protocol: 'refresh', threshold: 3 }).success).toBe(false);
    expect(ShardRotationSpecSchema.safeParse({ ceremony: 'c', protocol: 'reshare', threshold: 3 }).success).toBe(true);
  });
});
