/**
 * The MpcParty controller against a real control plane: an MpcParty becomes a ConfigMap (a node
 * configuration the sidecar's own parser accepts), a Service, a StatefulSet (one replica,
 * non-root, read-only root filesystem, PVC kept on deletion) and a NetworkPolicy, all owned by
 * the party; its status gives the endpoint and follows the pod's readiness (the test plays the
 * kubelet); deleting the party removes what it became but never its PVC of sealed blobs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, NetworkingV1Api } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURALS, VERSION, type Condition } from '../../api/crd.ts';
import { startOperator, type RunningOperator } from '../../operator/operator.ts';
import { parseNodeConfig } from '../../sidecar/config.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { installCrds } from './support/crds.ts';

const NS = 'vault';
let dir: string;
let cp: ControlPlane;
let operator: RunningOperator;

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-parties-'));
  cp = await startControlPlane({ name: 'parties', dir });
  const kc = cp.kubeConfig();
  await installCrds(kc);
  for (const name of ['vilna-system', NS]) await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  operator = await startOperator({ kubeConfig: kc, namespace: 'vilna-system', image: 'vilna-mpc:test', leaseDurationMs: 3000, retryMs: 300 });
}, 600_000);

afterAll(async () => {
  await operator?.stop();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('operator: MpcParty', () => {
  it('becomes a configured StatefulSet, Service and NetworkPolicy, reports readiness, and keeps its PVC when deleted', async () => {
    const kc = cp.kubeConfig();
    const objects = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const keys = ['11'.repeat(32), '22'.repeat(32), '33'.repeat(32)];
    await objects.createNamespacedCustomObject({
      group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: NS,
      body: {
        apiVersion: `${GROUP}/${VERSION}`, kind: 'MpcParty', metadata: { name: 'party-eu' },
        spec: { region: 'eu-west', hsm: { module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'party-eu', pinSecret: { name: 'party-eu-pin' } }, approvers: { keys, quorum: 2 }, tls: { secretName: 'party-eu-tls' }, presignaturePool: 4 },
      },
    });
    const party = (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: NS, name: 'party-eu' })) as { metadata: { uid: string } };

    const sts = await until('the StatefulSet', () => apps.readNamespacedStatefulSet({ name: 'party-eu', namespace: NS }));
    expect(sts.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'MpcParty', name: 'party-eu', uid: party.metadata.uid, controller: true });
    expect(sts.spec?.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    const pod = await until('the party pod', () => core.readNamespacedPod({ name: 'party-eu-0', namespace: NS }));
    expect(pod.spec?.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(pod.spec?.containers[0]?.image).toBe('vilna-mpc:test');
    await until('the Service', () => core.readNamespacedService({ name: 'party-eu', namespace: NS }));
    await until('the NetworkPolicy', () => kc.makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ name: 'party-eu', namespace: NS }));

    // The configuration the pod mounts is one the sidecar itself accepts.
    const cm = await core.readNamespacedConfigMap({ name: 'party-eu-config', namespace: NS });
    const config = parseNodeConfig(parse(cm.data!['node.yaml']!), {}, '/');
    expect(config).toMatchObject({ approvers: { keys, quorum: 2 }, hsm: { tokenLabel: 'party-eu', pinFile: '/etc/vilna/hsm-pin/pin' }, presignPool: { size: 4 } });

    const condition = async (): Promise<{ ready: Condition | undefined; endpoint: string | undefined }> => {
      const o = (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: NS, name: 'party-eu' })) as { status?: { conditions?: Condition[]; endpoint?: string } };
      return { ready: o.status?.conditions?.find((c) => c.type === 'Ready'), endpoint: o.status?.endpoint };
    };
    const before = await until('a status', async () => ((await condition()).ready ? condition() : undefined));
    expect(before).toMatchObject({ ready: { status: 'False', reason: 'PodNotReady' }, endpoint: 'https://party-eu.vault.svc:8443' });

    // Playing the kubelet: the pod reports Ready.
    const now = new Date();
    await core.replaceNamespacedPodStatus({
      name: 'party-eu-0', namespace: NS,
      body: { ...pod, status: { phase: 'Running', conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })) } },
    });
    await until('the party Ready', async () => ((await condition()).ready?.status === 'True' ? true : undefined), 30_000);

    const pvc = await until('the PVC', () => core.readNamespacedPersistentVolumeClaim({ name: 'state-party-eu-0', namespace: NS }));
    await objects.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: NS, name: 'party-eu' });
    await until('the StatefulSet gone', () => apps.readNamespacedStatefulSet({ name: 'party-eu', namespace: NS }).then(() => undefined, (e: { code?: number }) => (e.code === 404 ? true : undefined)), 120_000);
    const kept = await core.readNamespacedPersistentVolumeClaim({ name: 'state-party-eu-0', namespace: NS });
    expect(kept.metadata?.uid).toBe(pvc.metadata?.uid);
    expect(kept.metadata?.deletionTimestamp).toBeUndefined();
  });
});
