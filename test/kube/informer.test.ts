/**
 * The operator's watch survives its API server (issue 5: "stopping and restarting a
 * kube-apiserver mid-ceremony: the operator recovers"): client-node's informer stops on the
 * error; ResilientInformer restarts it, lists again, and reports what changed meanwhile.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CustomObjectsApi, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURALS, VERSION } from '../../api/crd.ts';
import { ResilientInformer } from '../../operator/informer.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { installCrds } from './support/crds.ts';

let dir: string;
let cp: ControlPlane;
let objects: CustomObjectsApi;

const ceremony = (name: string) => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'MpcCeremony',
  metadata: { name },
  spec: { keyName: name, threshold: 2, parties: ['a', 'b', 'c'].map((n) => ({ cluster: 'local', namespace: 'vault', name: n })) },
});

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-informer-'));
  cp = await startControlPlane({ name: 'informer', dir });
  await installCrds(cp.kubeConfig());
  objects = cp.kubeConfig().makeApiClient(CustomObjectsApi);
}, 600_000);

afterAll(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ResilientInformer', () => {
  it('reports objects, keeps watching across an API server restart, and reports what changed meanwhile', async () => {
    const seen = new Set<string>();
    const errors: unknown[] = [];
    const args = { group: GROUP, version: VERSION, plural: PLURALS.MpcCeremony };
    const informer = new ResilientInformer<KubernetesObject>(cp.kubeConfig(), {
      path: `/apis/${GROUP}/${VERSION}/${PLURALS.MpcCeremony}`,
      list: () => objects.listClusterCustomObject(args) as Promise<KubernetesListObject<KubernetesObject>>,
      changed: (o, deleted) => seen.add(`${deleted ? '-' : '+'}${o.metadata!.name!}`),
      onError: (e) => errors.push(e),
      minRestartMs: 100,
      maxRestartMs: 1000,
    });
    informer.start();
    try {
      await objects.createNamespacedCustomObject({ ...args, namespace: 'default', body: ceremony('one') });
      await until('one seen', () => seen.has('+one'), 10_000);

      await cp.stopApiserver();
      await until('the watch failing', () => errors.length > 0, 30_000);
      await cp.startApiserver();
      await objects.createNamespacedCustomObject({ ...args, namespace: 'default', body: ceremony('two') });
      await until('two seen after the restart', () => seen.has('+two'), 30_000);

      await objects.deleteNamespacedCustomObject({ ...args, namespace: 'default', name: 'one' });
      await until('one deleted', () => seen.has('-one'), 10_000);
      expect(informer.objects().map((o) => o.metadata!.name)).toEqual(['two']);
    } finally {
      await informer.stop();
    }
  });
});
