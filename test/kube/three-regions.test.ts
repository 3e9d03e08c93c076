/**
 * Issue 5 acceptance, three regions (DESIGN §5–§6): three real control planes, the chart
 * installed in each, one party per region run by the harness kubelet with its own SoftHSM token,
 * and one operator per region with the chart's RBAC. A 2-of-3 MpcCeremony in the first region
 * waits for a quorum of valid MpcApprovals (forged ones count for nothing, and a node refuses
 * them even when handed them directly), ends Ready with public key and xpub, and the key signs
 * through a party's API (checked with OpenSSL and noble). The coordinating region runs two
 * operator replicas as processes: mid-keygen the leader is SIGKILLed and the API server restarts,
 * and the other replica takes the Lease and finishes the ceremony; a replacement replica joins. A
 * refresh ShardRotation moves the key to epoch 1 across the same disruptions, and a reshare to a
 * 2-of-4 set with a fourth region's party to epoch 2, both with the public key unchanged; the
 * newcomer then signs. A ceremony with a corrupted party (a fifth region, the test-only entry
 * point) ends Failed naming exactly that party, with an Event. Each MpcParty's status ends up
 * listing the keys its node holds.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { HDKey } from '@scure/bip32';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan, signApproval, type Approval } from '../../api/index.ts';
import { API_VERSION, GROUP, PLURALS, VERSION, type Condition } from '../../api/crd.ts';
import { DEVELOPMENT_POLICY, fetchJson } from '../../cli/local-parties.ts';
import { SidecarClient } from '../../operator/sidecar-client.ts';
import { issueCertificate } from '../../sidecar/transport/index.ts';
import { E2E_TEST_TIMEOUT_MS } from '../support/timeouts.ts';
import { expectSignatureValid } from '../support/signatures.ts';
import { API_PORT, describeRegion, NS, PEER_PORT, startRegions, type OperatorProcess, type Regions } from './support/regions.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TEST_ENTRY = path.join(root, 'test', 'support', 'test-sidecar.ts');
const REGIONS = { 'eu-west': [{ name: 'party-eu-west' }], 'us-east': [{ name: 'party-us-east' }], 'ap-south': [{ name: 'party-ap-south' }], 'me-central': [{ name: 'party-me-central' }], 'sa-east': [{ name: 'party-sa-east', env: { VILNA_TEST_CORRUPT: 'sch' } }] };

let dir: string;
let world: Regions;
let replicas: OperatorProcess[];

interface CeremonyView {
  metadata: { name: string; uid: string };
  status?: { phase?: string; plan?: string; planHash?: string; approvals?: number; publicKey?: string; xpub?: string; epoch?: number; culprits?: number[]; failure?: string; conditions?: Condition[]; timingsMs?: Record<string, number> };
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const home = () => world.region('eu-west');
const objects = () => home().cp.kubeConfig().makeApiClient(CustomObjectsApi);
const ref = (cluster: string, name: string) => ({ cluster, namespace: NS, name });

async function ceremony(name: string): Promise<CeremonyView> {
  return (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony, namespace: NS, name })) as CeremonyView;
}

async function createCeremony(name: string, keyName: string, parties: { cluster: string; namespace: string; name: string }[], extra: Record<string, unknown> = {}): Promise<void> {
  await objects().createNamespacedCustomObject({
    group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony, namespace: NS,
    body: { apiVersion: API_VERSION, kind: 'MpcCeremony', metadata: { name }, spec: { keyName, threshold: 2, parties, presignaturePool: 2, ...extra } },
  });
}

async function approve(name: string, approval: Approval): Promise<void> {
  await objects().createNamespacedCustomObject({
    group: GROUP, version: VERSION, plural: PLURALS.MpcApproval, namespace: NS,
    body: { apiVersion: API_VERSION, kind: 'MpcApproval', metadata: { name }, spec: approval },
  });
}

async function events(name: string): Promise<{ reason: string; type: string; message: string }[]> {
  const list = await home().cp.kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${name}` });
  return list.items.map((e) => ({ reason: e.reason ?? '', type: e.type ?? '', message: e.message ?? '' }));
}

async function leaseHolder(): Promise<string | undefined> {
  return (await home().cp.kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: NS, name: 'vilna-mpc-operator' })).spec?.holderIdentity;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-regions-'));
  // The coordinating region runs two operator replicas as processes: one leads, the other waits.
  world = await startRegions(dir, REGIONS, { testEntry: TEST_ENTRY, inProcessOperators: (r) => r !== 'eu-west' });
  replicas = [world.spawnOperator(home(), 'eu-west-a'), world.spawnOperator(home(), 'eu-west-b')];
}, 600_000);

afterAll(async () => {
  await world?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('three regions: MpcParty → MpcCeremony → signature', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('each region\'s MpcParty (from the rendered chart) reports its node: identity key, HSM health, endpoint', async () => {
    for (const r of world.regions) {
      const kc = r.cp.kubeConfig();
      const status = await until(`${r.name}'s party Ready`, async () => {
        const p = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: NS, name: r.parties[0]!.name })) as { status?: { conditions?: Condition[]; identityKey?: string; endpoint?: string; hsm?: { state: string }; approvers?: string } };
        return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p.status : undefined;
      }, 120_000).catch(async (e: unknown) => {
        throw new Error(`${(e as Error).message}\n${await describeRegion(r)}`);
      });
      const health = await fetchJson(`https://${r.podIp}:${API_PORT}/v1/health`, { method: 'GET', caPem: world.caPem });
      expect(status).toMatchObject({ identityKey: (health.body as { identityKey: string }).identityKey, endpoint: `https://${r.podIp}:${PEER_PORT}`, hsm: { state: 'Healthy' }, approvers: (health.body as { approvers: string }).approvers });
    }
  });

  let publicKey: string;
  it('a 2-of-3 ceremony across the regions waits for a quorum of valid approvals, then ends Ready with public key and xpub across the leader\'s SIGKILL and an API server restart', async () => {
    await createCeremony('treasury', 'treasury-1', [ref('local', 'party-eu-west'), ref('us-east', 'party-us-east'), ref('ap-south', 'party-ap-south')], { minRegions: 3, policy: DEVELOPMENT_POLICY });
    const published = await until('the plan published', async () => {
      const c = await ceremony('treasury');
      return c.status?.phase === 'AwaitingApproval' && c.status.planHash ? c.status : undefined;
    });
    const plan = parsePlan(JSON.parse(published.plan!));
    expect(plan.parties.map((p) => [p.index, p.name])).toEqual([[1, 'local/vilna-system/party-eu-west'], [2, 'us-east/vilna-system/party-us-east'], [3, 'ap-south/vilna-system/party-ap-south']]);
    const hash = published.planHash!;

    // Forged: a bad signature by a real approver, and a valid signature by a key no party trusts.
    const good = signApproval(hash, world.approverKeys[0]!);
    await approve('forged-signature', { ...good, signature: good.signature.replace(/^./, (ch) => (ch === '0' ? '1' : '0')) });
    await approve('unknown-approver', signApproval(hash, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()));
    await new Promise((r) => setTimeout(r, 6_000));
    let c = await ceremony('treasury');
    expect(c.status).toMatchObject({ phase: 'AwaitingApproval', approvals: 0 });
    expect(c.status?.conditions?.find((x) => x.type === 'Progressing')?.message).toMatch(/2 approval\(s\) for this plan rejected/);
    // Whatever the operator is told: the coordinator itself refuses forged approvals.
    const forged = [{ ...good, signature: good.signature.replace(/^./, (ch) => (ch === '0' ? '1' : '0')) }, signApproval(hash, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())];
    const cert = await issueCertificate(world.ca, { commonName: 'someone-with-a-ca-certificate', ipAddresses: [], dnsNames: ['someone.example'] });
    const client = new SidecarClient({ caPem: world.caPem, certPem: cert.certPem, keyPem: cert.keyPem });
    try {
      await expect(client.startCeremony(plan.parties[0]!.endpoint, plan, forged)).rejects.toMatchObject({ status: 403, code: 'E_APPROVAL_INVALID' });
    } finally {
      client.close();
    }

    // One valid approval is not a quorum; the second starts the ceremony.
    await approve('approver-1', good);
    await until('one approval counted', async () => ((await ceremony('treasury')).status?.approvals === 1 ? true : undefined));
    expect((await ceremony('treasury')).status?.phase).toBe('AwaitingApproval');
    const leader = await leaseHolder();
    await approve('approver-2', signApproval(hash, world.approverKeys[1]!));
    await until('the keygen running', async () => (['KeyGen', 'AuxInfo'].includes((await ceremony('treasury')).status?.phase ?? '') ? true : undefined), 60_000, 200);
    // Mid-ceremony: the leading replica dies without giving its Lease up, and the API server goes
    // away and comes back while the other replica takes over; the ceremony still completes.
    const killed = replicas.find((p) => p.identity === leader)!;
    expect((await ceremony('treasury')).status?.phase).not.toBe('Ready');
    killed.proc.kill('SIGKILL');
    await killed.exited;
    await home().cp.stopApiserver();
    await new Promise((r) => setTimeout(r, 3_000));
    await home().cp.startApiserver();
    c = await until('the ceremony Ready', async () => {
      const x = await ceremony('treasury');
      if (x.status?.phase === 'Failed') throw new Error(`ceremony failed: ${x.status.failure}`);
      return x.status?.phase === 'Ready' ? x : undefined;
    }, 240_000, 1_000);
    expect(await leaseHolder()).toBe(replicas.find((p) => p !== killed)!.identity);
    // A replacement replica, so that the rotations below again have one to lose.
    replicas = [replicas.find((p) => p !== killed)!, world.spawnOperator(home(), 'eu-west-c')];
    expect(c.status).toMatchObject({ epoch: 0, approvals: 2, planHash: hash });
    publicKey = c.status!.publicKey!;
    expect(HDKey.fromExtendedKey(c.status!.xpub!).publicKey).toEqual(new Uint8Array(Buffer.from(publicKey, 'hex')));
    expect(c.status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({ status: 'True', reason: 'KeyReady' });
    expect((await events('treasury')).map((e) => e.reason)).toEqual(expect.arrayContaining(['PlanPublished', 'CeremonyStarted', 'KeyReady']));
  });

  it('the key signs through a party\'s API, checked by OpenSSL and noble', async () => {
    const us = world.region('us-east');
    const res = await fetchJson(`https://${us.podIp}:${API_PORT}/v1/keys/treasury-1/signatures`, {
      method: 'POST', token: world.apiToken, caPem: world.caPem,
      body: { requestId: `kube-${randomBytes(4).toString('hex')}`, message: 'pay 1 BTC to cold storage', encoding: 'utf8', hash: 'sha256', derivationPath: 'm/0/1' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const sig = res.body as Parameters<typeof expectSignatureValid>[0];
    expectSignatureValid(sig);
    expect(sig.publicKey).not.toBe(publicKey); // derived at m/0/1
  });
});

async function rotation(name: string): Promise<{ status?: { phase?: string; planHash?: string; fromEpoch?: number; toEpoch?: number; publicKeyUnchanged?: boolean; failure?: string; plan?: string } }> {
  return (await objects().getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.ShardRotation, namespace: NS, name })) as never;
}

/** Creates a ShardRotation, approves its plan with two approvers, and waits until it is Done. */
async function rotate(name: string, spec: Record<string, unknown>): Promise<NonNullable<Awaited<ReturnType<typeof rotation>>['status']>> {
  await objects().createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.ShardRotation, namespace: NS, body: { apiVersion: API_VERSION, kind: 'ShardRotation', metadata: { name }, spec: { ceremony: 'treasury', ...spec } } });
  const hash = await until(`${name}'s plan`, async () => (await rotation(name)).status?.planHash);
  await approve(`${name}-1`, signApproval(hash, world.approverKeys[0]!));
  await approve(`${name}-2`, signApproval(hash, world.approverKeys[1]!));
  return until(`${name} Done`, async () => {
    const x = await rotation(name);
    if (x.status?.phase === 'Failed') throw new Error(`${name} failed: ${x.status.failure}`);
    return x.status?.phase === 'Done' ? x.status : undefined;
  }, 240_000, 1_000);
}

async function signAt(region: string, message: string): Promise<Parameters<typeof expectSignatureValid>[0]> {
  const res = await fetchJson(`https://${world.region(region).podIp}:${API_PORT}/v1/keys/treasury-1/signatures`, {
    method: 'POST', token: world.apiToken, caPem: world.caPem,
    body: { requestId: `kube-${randomBytes(4).toString('hex')}`, message, encoding: 'utf8', hash: 'sha256' },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Parameters<typeof expectSignatureValid>[0];
}

describe('rotations of the three-region key', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('a refresh ShardRotation ends with epoch + 1 and the public key unchanged, across an API server restart and the leader\'s SIGKILL', async () => {
    const before = (await ceremony('treasury')).status!;
    const leader = await until('a leader among the live replicas', async () => {
      const h = await leaseHolder();
      return replicas.some((p) => p.identity === h) ? h : undefined;
    });
    await objects().createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.ShardRotation, namespace: NS, body: { apiVersion: API_VERSION, kind: 'ShardRotation', metadata: { name: 'treasury-refresh-1' }, spec: { ceremony: 'treasury', protocol: 'refresh' } } });
    const hash = await until('the refresh plan', async () => (await rotation('treasury-refresh-1')).status?.planHash);
    await approve('treasury-refresh-1-1', signApproval(hash, world.approverKeys[0]!));
    await approve('treasury-refresh-1-2', signApproval(hash, world.approverKeys[1]!));
    await until('the refresh Running', async () => ((await rotation('treasury-refresh-1')).status?.phase === 'Running' ? true : undefined), 60_000, 200);
    // Mid-rotation: the coordinating region's API server goes away and comes back…
    await home().cp.stopApiserver();
    await new Promise((r) => setTimeout(r, 3_000));
    await home().cp.startApiserver();
    // …and the leading replica dies without giving its Lease up; the other finishes the rotation.
    const killed = replicas.find((p) => p.identity === leader)!;
    expect((await rotation('treasury-refresh-1')).status?.phase).not.toBe('Done'); // still in progress
    killed.proc.kill('SIGKILL');
    await killed.exited;
    const done = await until('the refresh Done', async () => {
      const x = await rotation('treasury-refresh-1');
      if (x.status?.phase === 'Failed') throw new Error(`refresh failed: ${x.status.failure}`);
      return x.status?.phase === 'Done' ? x.status : undefined;
    }, 240_000, 1_000);
    expect(await leaseHolder()).toBe(replicas.find((p) => p !== killed)!.identity);
    expect(done).toMatchObject({ fromEpoch: 0, toEpoch: 1, publicKeyUnchanged: true });
    const after = (await ceremony('treasury')).status!;
    expect(after).toMatchObject({ phase: 'Ready', epoch: 1, publicKey: before.publicKey, xpub: before.xpub });
    const sig = await signAt('ap-south', 'after the refresh');
    expectSignatureValid(sig);
    expect(sig.publicKey).toBe(before.publicKey);
  });

  it('a reshare to 2-of-4 with a fourth region\'s party ends likewise, and the newcomer signs', async () => {
    const before = (await ceremony('treasury')).status!;
    const done = await rotate('treasury-reshare-2', {
      protocol: 'reshare',
      parties: [ref('local', 'party-eu-west'), ref('us-east', 'party-us-east'), ref('ap-south', 'party-ap-south'), ref('me-central', 'party-me-central')],
    });
    expect(done).toMatchObject({ fromEpoch: 1, toEpoch: 2, publicKeyUnchanged: true });
    const plan = parsePlan(JSON.parse(done.plan!));
    expect(plan.parties.map((p) => [p.index, p.name])).toContainEqual([4, 'me-central/vilna-system/party-me-central']);
    expect(plan.policy).toEqual(DEVELOPMENT_POLICY); // the newcomer enforces the key's policy
    const after = (await ceremony('treasury')).status as Record<string, unknown>;
    expect(after).toMatchObject({ phase: 'Ready', epoch: 2, threshold: 2, publicKey: before.publicKey, lastIndex: 4 });
    const sig = await signAt('me-central', 'signed with the newcomer');
    expectSignatureValid(sig);
    expect(sig.publicKey).toBe(before.publicKey);
  });
});

describe('a corrupted party', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('ends the ceremony Failed with exactly that party in status, and an Event', async () => {
    await createCeremony('corrupted', 'corrupted-1', [ref('local', 'party-eu-west'), ref('sa-east', 'party-sa-east')]);
    const hash = await until('the plan published', async () => (await ceremony('corrupted')).status?.planHash);
    await approve('corrupted-1', signApproval(hash, world.approverKeys[0]!));
    await approve('corrupted-2', signApproval(hash, world.approverKeys[2]!));
    const c = await until('the ceremony Failed', async () => {
      const x = await ceremony('corrupted');
      if (x.status?.phase === 'Ready') throw new Error('a corrupted keygen ended Ready');
      return x.status?.phase === 'Failed' ? x : undefined;
    }, 240_000, 1_000);
    expect(c.status?.culprits).toEqual([2]);
    expect(c.status?.failure).toMatch(/E_PROTOCOL_ABORT/);
    const aborted = (await events('corrupted')).filter((e) => e.reason === 'CeremonyAborted');
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toMatchObject({ type: 'Warning' });
    expect(aborted[0]!.message).toMatch(/culprits: sa-east\/vilna-system\/party-sa-east/);
  });
});

describe('MpcParty status after the ceremonies', { timeout: E2E_TEST_TIMEOUT_MS }, () => {
  it('lists the keys each node holds: the resharded key at its epoch on the four holders, nothing from the aborted keygen', async () => {
    const key = (await ceremony('treasury')).status!;
    for (const region of ['eu-west', 'us-east', 'ap-south', 'me-central', 'sa-east']) {
      const r = world.region(region);
      const api = r.cp.kubeConfig().makeApiClient(CustomObjectsApi);
      const status = await until(`${region}'s MpcParty keys`, async () => {
        const p = (await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: NS, name: r.parties[0]!.name })) as { status?: { keys?: { keyId: string; epoch: number; threshold: number; publicKey: string }[]; keyCount?: number } };
        const treasury = p.status?.keys?.find((k) => k.keyId === 'treasury-1');
        const settled = region === 'sa-east' ? p.status?.keys !== undefined : treasury?.epoch === key.epoch;
        return settled ? p.status : undefined;
      }, 60_000, 1_000);
      if (region === 'sa-east') {
        expect(status.keys).toEqual([]);
        expect(status.keyCount).toBe(0);
      } else {
        expect(status.keys).toContainEqual({ keyId: 'treasury-1', epoch: key.epoch, threshold: 2, publicKey: key.publicKey });
        // eu-west also took part in the aborted keygen: it stored nothing of it either.
        expect(status.keys!.map((k) => k.keyId)).not.toContain('corrupted-1');
      }
    }
  });
});
