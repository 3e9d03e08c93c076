/**
 * Two operator replicas as separate `vilna-mpc operator` processes against a real control plane
 * (issue 5: "one leads; killing it, the other takes over within the lease time"): the Lease names
 * one holder; after that process is killed with SIGKILL the other takes the Lease within the
 * lease duration and carries on the work (an approval created after the kill gets its status).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURALS, VERSION, type Condition } from '../../api/crd.ts';
import { signApproval } from '../../api/index.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { installCrds } from './support/crds.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LEASE_MS = 3000;
let dir: string;
let cp: ControlPlane;
const replicas = new Map<string, ChildProcess>();

function replica(identity: string): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, 'cli', 'main.ts'), 'operator', '--kubeconfig', cp.kubeconfigPath, '--namespace', 'vilna-system', '--identity', identity, '--metrics-listen', '127.0.0.1:0', '--lease-duration-ms', String(LEASE_MS)], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.resume();
  replicas.set(identity, child);
  return child;
}

async function holder(): Promise<string | undefined> {
  try {
    return (await cp.kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: 'vilna-system', name: 'vilna-mpc-operator' })).spec?.holderIdentity;
  } catch {
    return undefined;
  }
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return { value: v, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function approvalReady(name: string): Promise<Condition | undefined> {
  const o = (await cp.kubeConfig().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcApproval, namespace: 'default', name })) as { status?: { conditions?: Condition[] } };
  return o.status?.conditions?.find((c) => c.type === 'Ready');
}

async function approval(name: string): Promise<void> {
  const spec = signApproval(randomBytes(32).toString('hex'), generateKeyPairSync('ed25519').privateKey);
  await cp.kubeConfig().makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP, version: VERSION, plural: PLURALS.MpcApproval, namespace: 'default',
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'MpcApproval', metadata: { name }, spec },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-replicas-'));
  cp = await startControlPlane({ name: 'replicas', dir });
  await installCrds(cp.kubeConfig());
  await cp.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'vilna-system' } } });
}, 600_000);

afterAll(async () => {
  for (const c of replicas.values()) c.kill('SIGKILL');
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('two operator replicas', () => {
  it('one leads; killed, the other takes over within the lease time and carries on', async () => {
    replica('replica-a');
    replica('replica-b');
    const first = (await until('a leader', holder, 60_000)).value;
    await approval('before');
    expect((await until('status of "before"', () => approvalReady('before'), 20_000)).value.status).toBe('True');

    replicas.get(first)!.kill('SIGKILL');
    const killedAt = Date.now();
    const second = (await until('another leader', async () => {
      const h = await holder();
      return h !== undefined && h !== first ? h : undefined;
    }, LEASE_MS * 5)).value;
    expect(second).not.toBe(first);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(LEASE_MS * 2 + 1000);

    await approval('after');
    expect((await until('status of "after"', () => approvalReady('after'), 20_000)).value.status).toBe('True');
  });
});
