/**
 * The MpcCeremony and ShardRotation controllers' branches that the three-region run does not
 * reach, against a real API server: the test drives `reconcile` itself (as the work queue would)
 * over MpcParty objects whose status it writes as the party controller would, with endpoints
 * where no node listens. A plan that expires unapproved is replaced by a fresh one; a quorum of
 * approvals for a coordinator that does not answer leaves the ceremony Degraded, not started; a
 * Ready ceremony with a schedule gets exactly one refresh ShardRotation per epoch; a second
 * rotation of a key waits for the first; deleting a ceremony passes the finalizer and records
 * that the shards are kept.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, PLURALS, VERSION, type Condition } from '../../api/crd.ts';
import { approverPublicKeyHex, signApproval } from '../../api/index.ts';
import { ClusterRegistry } from '../../operator/clusters.ts';
import { CEREMONY_FINALIZER, CeremonyController } from '../../operator/controllers/ceremony.ts';
import { RotationController } from '../../operator/controllers/rotation.ts';
import { EventRecorder } from '../../operator/events.ts';
import { createOperatorMetrics } from '../../operator/metrics.ts';
import { PartyResolver } from '../../operator/party-resolver.ts';
import { SidecarClient } from '../../operator/sidecar-client.ts';
import { createDevelopmentCa, issueCertificate } from '../../sidecar/transport/index.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { installCrds } from './support/crds.ts';

const NS = 'vault';
const PLAN_TTL_MS = 2_000;

let dir: string;
let cp: ControlPlane;
let objects: CustomObjectsApi;
let sidecars: SidecarClient;
let ceremonies: CeremonyController;
/** The same controller with a plan lifetime of seconds: only the expiry test reconciles through it. */
let shortLived: CeremonyController;
let rotations: RotationController;
const approvers: KeyObject[] = [0, 1].map(() => generateKeyPairSync('ed25519').privateKey);

interface Obj {
  metadata: { name: string; uid: string; finalizers?: string[]; deletionTimestamp?: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string }[] };
  spec?: Record<string, unknown>;
  status?: { phase?: string; planHash?: string; approvals?: number; conditions?: Condition[] } & Record<string, unknown>;
}

/**
 * The test's own API calls, retried while the API server answers 429: it does so for a custom
 * resource whose storage is still initializing (the first request for a kind), as the
 * operator's queue and informers retry.
 */
async function api<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await call();
    } catch (e) {
      if ((e as { code?: number }).code !== 429 || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const get = async (plural: string, name: string): Promise<Obj> => (await api(() => objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace: NS, name }))) as Obj;
const rotationsList = async (): Promise<Obj[]> => ((await api(() => objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.ShardRotation, namespace: NS }))) as { items: Obj[] }).items;
const condition = (o: Obj, type: string): Condition | undefined => o.status?.conditions?.find((c) => c.type === type);

async function events(name: string): Promise<{ reason: string; type: string; message: string }[]> {
  const list = await cp.kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${name}` });
  return list.items.map((e) => ({ reason: e.reason ?? '', type: e.type ?? '', message: e.message ?? '' }));
}

/** One reconcile as the work queue runs it: an error (an API server too busy to answer) is retried. */
async function reconcileOnce(controller: { reconcile(key: string): Promise<unknown> }, key: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await controller.reconcile(key);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Reconciles `name` as the work queue would until `done` holds (or the object is gone). */
async function reconcileUntil(kind: 'ceremony' | 'rotation', name: string, done: (o: Obj | undefined) => boolean, timeoutMs = 30_000, controller: { reconcile(key: string): Promise<unknown> } = kind === 'ceremony' ? ceremonies : rotations): Promise<Obj | undefined> {
  const plural = kind === 'ceremony' ? PLURALS.MpcCeremony : PLURALS.ShardRotation;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await reconcileOnce(controller, `${NS}/${name}`);
    const o = await get(plural, name).catch((e: unknown) => {
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    });
    if (done(o)) return o;
    if (Date.now() > deadline) throw new Error(`${kind} ${name}: not there within ${timeoutMs} ms: ${JSON.stringify(o?.status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A local TCP port where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** An MpcParty and the status its controller would write for a running node. */
async function party(name: string, region: string): Promise<void> {
  await api(() => objects.createNamespacedCustomObject({
    group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: NS,
    body: {
      apiVersion: API_VERSION, kind: 'MpcParty', metadata: { name },
      spec: { region, hsm: { module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: name, pinSecret: { name: `${name}-pin` } }, approvers: { keys: approvers.map((k) => approverPublicKeyHex(k)), quorum: 2 }, tls: { secretName: `${name}-tls` } },
    },
  }));
  const created = await get(PLURALS.MpcParty, name);
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const endpoint = `https://127.0.0.1:${await closedPort()}`;
  await api(() => objects.replaceNamespacedCustomObjectStatus({
    group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: NS, name,
    body: {
      ...created,
      status: {
        identityKey: bytesToHex(p256.getPublicKey(p256.utils.randomSecretKey(), true)), // node identities are P-256
        endpoint,
        conditions: [{ type: 'Ready', status: 'True', observedGeneration: 1, lastTransitionTime: now, reason: 'NodeReady', message: '' }],
      },
    },
  }));
}

async function createCeremony(name: string, extra: Record<string, unknown> = {}): Promise<void> {
  await api(() => objects.createNamespacedCustomObject({
    group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony, namespace: NS,
    body: { apiVersion: API_VERSION, kind: 'MpcCeremony', metadata: { name }, spec: { keyName: name, threshold: 2, parties: [{ namespace: NS, name: 'party-a' }, { namespace: NS, name: 'party-b' }], ...extra } },
  }));
}

async function approve(planHash: string, prefix: string): Promise<void> {
  for (const [i, k] of approvers.entries()) {
    await api(() => objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcApproval, namespace: NS, body: { apiVersion: API_VERSION, kind: 'MpcApproval', metadata: { name: `${prefix}-${i}` }, spec: signApproval(planHash, k) } }));
  }
}

/** Marks a ceremony Ready as its controller would after a keygen (parties 1 and 2 hold epoch `epoch`). */
async function markReady(name: string, lastRotation: Date, epoch = 0): Promise<void> {
  const c = await get(PLURALS.MpcCeremony, name);
  const publicKey = bytesToHex(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true));
  const holders = [{ index: 1, cluster: 'local', namespace: NS, name: 'party-a' }, { index: 2, cluster: 'local', namespace: NS, name: 'party-b' }];
  await api(() => objects.replaceNamespacedCustomObjectStatus({
    group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony, namespace: NS, name,
    body: { ...c, status: { ...c.status, phase: 'Ready', publicKey, epoch, threshold: 2, holders, lastIndex: 2, lastRotation: lastRotation.toISOString().replace(/\.\d{3}Z$/, 'Z') } },
  }));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-ceremony-'));
  cp = await startControlPlane({ name: 'ceremony', dir });
  const kc = cp.kubeConfig();
  await installCrds(kc);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  objects = kc.makeApiClient(CustomObjectsApi);
  const ca = await createDevelopmentCa({ commonName: 'ceremony test CA' });
  const cert = await issueCertificate(ca, { commonName: 'operator', ipAddresses: [], dnsNames: ['operator.example'] });
  sidecars = new SidecarClient({ caPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem });
  const deps = { kubeConfig: kc, resolver: new PartyResolver(new ClusterRegistry(kc, NS)), sidecars, events: new EventRecorder(kc), metrics: createOperatorMetrics() };
  ceremonies = new CeremonyController(deps);
  shortLived = new CeremonyController({ ...deps, planTtlMs: PLAN_TTL_MS });
  rotations = new RotationController(deps);
  await party('party-a', 'eu-west');
  await party('party-b', 'us-east');
}, 600_000);

afterAll(async () => {
  sidecars?.close();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('MpcCeremony controller branches', () => {

  it('adds its finalizer, publishes a plan, and replaces it with a fresh one when it expires unapproved', async () => {
    await createCeremony('expiring');
    const first = (await reconcileUntil('ceremony', 'expiring', (o) => o?.status?.phase === 'AwaitingApproval', 30_000, shortLived))!;
    expect(first.metadata.finalizers).toContain(CEREMONY_FINALIZER);
    const expired = first.status!.planHash!;
    await new Promise((r) => setTimeout(r, PLAN_TTL_MS + 1_000));
    const fresh = (await reconcileUntil('ceremony', 'expiring', (o) => o?.status?.phase === 'AwaitingApproval' && o.status.planHash !== undefined && o.status.planHash !== expired, 30_000, shortLived))!;
    expect(fresh.status?.approvals).toBe(0);
    // Each expiry is followed by exactly one fresh plan (a slow run may see more than one expire).
    const reasons = (await events('expiring')).map((e) => e.reason);
    const expiries = reasons.filter((r) => r === 'PlanExpired').length;
    expect(expiries).toBeGreaterThanOrEqual(1);
    expect(reasons.filter((r) => r === 'PlanPublished')).toHaveLength(expiries + 1);
  });

  it('with a quorum of approvals but a coordinator that does not answer: Degraded, not started, approvals kept', async () => {
    await createCeremony('unanswered');
    const published = (await reconcileUntil('ceremony', 'unanswered', (o) => o?.status?.phase === 'AwaitingApproval'))!;
    const planHash = published.status!.planHash!;
    await approve(planHash, 'unanswered');
    const c = (await reconcileUntil('ceremony', 'unanswered', (o) => condition(o!, 'Degraded')?.reason === 'CoordinatorUnreachable'))!;
    expect(c.status).toMatchObject({ phase: 'AwaitingApproval', planHash });
    expect(condition(c, 'Degraded')).toMatchObject({ status: 'True', message: expect.stringMatching(/^coordinator local\/vault\/party-a: /) });
    expect(c.status?.startedAt).toBeUndefined();
  });

  it('a Ready ceremony with a schedule gets one refresh ShardRotation when it is due, owned by it', async () => {
    await createCeremony('scheduled', { rotation: { every: '1h' } });
    await reconcileUntil('ceremony', 'scheduled', (o) => o?.status?.phase === 'AwaitingApproval');
    await markReady('scheduled', new Date(Date.now() - 30 * 60_000));
    await reconcileOnce(ceremonies, `${NS}/scheduled`); // half an hour since the last rotation: not due
    expect(await rotationsList()).toHaveLength(0);
    await markReady('scheduled', new Date(Date.now() - 61 * 60_000));
    await reconcileOnce(ceremonies, `${NS}/scheduled`);
    await reconcileOnce(ceremonies, `${NS}/scheduled`); // again: the same epoch's rotation exists already
    const list = await rotationsList();
    expect(list.map((r) => r.metadata.name)).toEqual(['scheduled-refresh-1']);
    const r = list[0]!;
    expect(r.spec).toEqual({ ceremony: 'scheduled', protocol: 'refresh' });
    expect(r.metadata.labels).toMatchObject({ 'mpc.vilna.io/ceremony': 'scheduled', 'mpc.vilna.io/scheduled': 'true' });
    expect(r.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'MpcCeremony', name: 'scheduled' })]);
    expect((await events('scheduled')).map((e) => e.reason)).toContain('RotationScheduled');
  });

  it('runs one rotation of a key at a time: a later one waits, Queued, while the first is active', async () => {
    const first = (await reconcileUntil('rotation', 'scheduled-refresh-1', (o) => o?.status?.phase === 'AwaitingApproval'))!;
    expect(first.status).toMatchObject({ fromEpoch: 0, toEpoch: 1 });
    await api(() => objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.ShardRotation, namespace: NS, body: { apiVersion: API_VERSION, kind: 'ShardRotation', metadata: { name: 'scheduled-refresh-again' }, spec: { ceremony: 'scheduled', protocol: 'refresh' } } }));
    const queued = (await reconcileUntil('rotation', 'scheduled-refresh-again', (o) => condition(o!, 'Progressing')?.reason === 'Queued'))!;
    expect(queued.status?.phase).toBe('Pending');
    expect(condition(queued, 'Progressing')?.message).toBe('waiting for rotation scheduled-refresh-1 of the same key');
    expect(queued.status?.planHash).toBeUndefined();
  });

  it('a rotation of a key that is not Ready waits for it', async () => {
    await api(() => objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.ShardRotation, namespace: NS, body: { apiVersion: API_VERSION, kind: 'ShardRotation', metadata: { name: 'unanswered-refresh' }, spec: { ceremony: 'unanswered', protocol: 'refresh' } } }));
    const r = (await reconcileUntil('rotation', 'unanswered-refresh', (o) => condition(o!, 'Progressing')?.reason === 'CeremonyNotReady'))!;
    expect(r.status?.phase).toBe('Pending');
  });

  it('deleting a Ready ceremony passes its finalizer, says the shards are kept, and removes the object', async () => {
    await api(() => objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony, namespace: NS, name: 'scheduled' }));
    const held = await get(PLURALS.MpcCeremony, 'scheduled');
    expect(held.metadata.deletionTimestamp).toBeDefined(); // the finalizer holds it until the operator has seen it
    await reconcileUntil('ceremony', 'scheduled', (o) => o === undefined);
    const kept = (await events('scheduled')).filter((e) => e.reason === 'ShardsKept');
    expect(kept).toHaveLength(1);
    expect(kept[0]!.message).toMatch(/never destroys shards/);
  });
});
