/**
 * The CRDs against a real kube-apiserver (DESIGN §6 layer 3; issue 5 acceptance): invalid
 * objects are refused by the API server itself, with the CEL or schema message; unknown fields
 * are refused under fieldValidation=Strict; a ceremony's spec is frozen once it left Pending;
 * rotations and approvals are immutable.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURALS, VERSION, type Kind } from '../../api/crd.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { installCrds } from './support/crds.ts';

const NS = 'default';
let dir: string;
let cp: ControlPlane;
let objects: CustomObjectsApi;

const hex = (n: number, c = 'a') => c.repeat(n);
const party = (name: string) => ({ cluster: 'local', namespace: 'vault', name });
const ceremony = (name: string, spec: Record<string, unknown>) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'MpcCeremony', metadata: { name }, spec });
const okSpec = { keyName: 'treasury-1', threshold: 2, parties: [party('a'), party('b'), party('c')] };

function create(kind: Kind, body: Record<string, unknown>) {
  return objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: PLURALS[kind], body, fieldValidation: 'Strict' });
}

/** The API server's refusal message of `p` (throws when it was accepted). */
async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; body?: unknown };
    const body = typeof err.body === 'string' ? (JSON.parse(err.body) as { message?: string }) : (err.body as { message?: string } | undefined);
    return { code: err.code ?? 0, message: body?.message ?? String(e) };
  }
  throw new Error('expected the API server to refuse');
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-crds-'));
  cp = await startControlPlane({ name: 'crds', dir });
  const kc = cp.kubeConfig();
  await installCrds(kc);
  objects = kc.makeApiClient(CustomObjectsApi);
}, 600_000);

afterAll(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('CRDs on a real kube-apiserver', () => {
  it('accepts a valid ceremony and applies the defaults', async () => {
    const made = (await create('MpcCeremony', ceremony('valid', okSpec))) as { spec: { curve: string; presignaturePool: number } };
    expect(made.spec).toMatchObject({ curve: 'secp256k1', presignaturePool: 8 });
  });

  it('refuses t = 1, t above the party count (CEL) and duplicate parties (list-map keys)', async () => {
    expect((await refusal(create('MpcCeremony', ceremony('t1', { ...okSpec, threshold: 1 })))).message).toMatch(/threshold must be at least 2/);
    expect((await refusal(create('MpcCeremony', ceremony('t4', { ...okSpec, threshold: 4 })))).message).toMatch(/threshold cannot exceed the number of parties/);
    expect((await refusal(create('MpcCeremony', ceremony('dup', { ...okSpec, parties: [party('a'), party('a'), party('c')] })))).message).toMatch(/spec.parties\[1\]: Duplicate value/);
    expect((await refusal(create('MpcCeremony', ceremony('key', { ...okSpec, keyName: '../etc' })))).message).toMatch(/spec.keyName/);
  });

  it('refuses unknown fields under fieldValidation=Strict', async () => {
    const r = await refusal(create('MpcCeremony', ceremony('unknown', { ...okSpec, colour: 'blue' })));
    expect(r.code).toBe(400);
    expect(r.message).toMatch(/unknown field "spec.colour"/);
  });

  it('freezes a ceremony\'s spec once it left Pending', async () => {
    await create('MpcCeremony', ceremony('frozen', okSpec));
    const args = { group: GROUP, version: VERSION, namespace: NS, plural: PLURALS.MpcCeremony, name: 'frozen' };
    // Still Pending: the spec may change.
    let obj = (await objects.getNamespacedCustomObject(args)) as { spec: Record<string, unknown>; status?: Record<string, unknown> };
    obj = (await objects.replaceNamespacedCustomObject({ ...args, body: { ...obj, spec: { ...obj.spec, presignaturePool: 4 } } })) as typeof obj;
    obj = (await objects.replaceNamespacedCustomObjectStatus({ ...args, body: { ...obj, status: { phase: 'AwaitingApproval' } } })) as typeof obj;
    const r = await refusal(objects.replaceNamespacedCustomObject({ ...args, body: { ...obj, spec: { ...obj.spec, threshold: 3 } } }));
    expect(r.code).toBe(422);
    expect(r.message).toMatch(/the spec cannot change once the ceremony has started/);
  });

  it('checks rotations: a reshare names new parties or a threshold, a refresh neither, and none changes', async () => {
    const rotation = (name: string, spec: Record<string, unknown>) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'ShardRotation', metadata: { name }, spec });
    expect((await refusal(create('ShardRotation', rotation('r1', { ceremony: 'valid', protocol: 'reshare' })))).message).toMatch(/a reshare needs new parties or a new threshold/);
    expect((await refusal(create('ShardRotation', rotation('r2', { ceremony: 'valid', protocol: 'refresh', threshold: 3 })))).message).toMatch(/a refresh keeps the parties and the threshold/);
    expect((await refusal(create('ShardRotation', rotation('r3', { ceremony: 'valid', protocol: 'reshare', threshold: 3, parties: [party('a'), party('b')] })))).message).toMatch(/threshold cannot exceed/);
    await create('ShardRotation', rotation('r4', { ceremony: 'valid', protocol: 'reshare', threshold: 3, parties: [party('a'), party('b'), party('c'), party('d')] }));
    const args = { group: GROUP, version: VERSION, namespace: NS, plural: PLURALS.ShardRotation, name: 'r4' };
    const obj = (await objects.getNamespacedCustomObject(args)) as { spec: Record<string, unknown> };
    expect((await refusal(objects.replaceNamespacedCustomObject({ ...args, body: { ...obj, spec: { ...obj.spec, threshold: 2 } } }))).message).toMatch(/a ShardRotation cannot be changed/);
  });

  it('checks approvals and parties: hex shapes, immutability, quorum within the keys', async () => {
    const approval = (name: string, spec: Record<string, unknown>) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'MpcApproval', metadata: { name }, spec });
    expect((await refusal(create('MpcApproval', approval('a1', { planHash: hex(64), approver: hex(64), signature: hex(127) })))).message).toMatch(/spec.signature/);
    await create('MpcApproval', approval('a2', { planHash: hex(64), approver: hex(64), signature: hex(128) }));
    const args = { group: GROUP, version: VERSION, namespace: NS, plural: PLURALS.MpcApproval, name: 'a2' };
    const obj = (await objects.getNamespacedCustomObject(args)) as { spec: Record<string, unknown> };
    expect((await refusal(objects.replaceNamespacedCustomObject({ ...args, body: { ...obj, spec: { ...obj.spec, planHash: hex(64, 'b') } } }))).message).toMatch(/an approval cannot be changed/);

    const mpcParty = { apiVersion: `${GROUP}/${VERSION}`, kind: 'MpcParty', metadata: { name: 'p1' }, spec: { region: 'eu-west', hsm: { module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'party', pinSecret: { name: 'pin' } }, approvers: { keys: [hex(64)], quorum: 2 }, tls: { secretName: 'p1-tls' } } };
    expect((await refusal(create('MpcParty', mpcParty))).message).toMatch(/approvers.quorum cannot exceed the number of approver keys/);
  });
});
