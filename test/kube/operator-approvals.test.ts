/**
 * The operator against a real control plane, first controller: it leads (Lease), watches
 * MpcApprovals and reports in each one's status whether its signature verifies; its metrics
 * count the reconciles. Approvals here are made with the same code as `vilna-mpc approve`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURALS, VERSION, type Condition } from '../../api/crd.ts';
import { signApproval } from '../../api/index.ts';
import { startOperator, type RunningOperator } from '../../operator/operator.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { installCrds } from './support/crds.ts';

let dir: string;
let cp: ControlPlane;
let operator: RunningOperator;
let objects: CustomObjectsApi;
const args = { group: GROUP, version: VERSION, plural: PLURALS.MpcApproval, namespace: 'default' };

async function readyCondition(name: string, timeoutMs = 20_000): Promise<Condition> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const o = (await objects.getNamespacedCustomObject({ ...args, name })) as { status?: { conditions?: Condition[] } };
    const c = o.status?.conditions?.find((x) => x.type === 'Ready');
    if (c) return c;
    if (Date.now() > deadline) throw new Error(`approval ${name} got no Ready condition`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-operator-'));
  cp = await startControlPlane({ name: 'operator', dir });
  const kc = cp.kubeConfig();
  await installCrds(kc);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'vilna-system' } } });
  objects = kc.makeApiClient(CustomObjectsApi);
  operator = await startOperator({ kubeConfig: kc, namespace: 'vilna-system', leaseDurationMs: 3000, retryMs: 300, metrics: { host: '127.0.0.1', port: 0 } });
}, 600_000);

afterAll(async () => {
  await operator?.stop();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('operator: MpcApproval status', () => {
  it('leads, marks a valid approval Ready and a forged one not, and counts its reconciles', async () => {
    const key = generateKeyPairSync('ed25519').privateKey;
    const planHash = randomBytes(32).toString('hex');
    const valid = signApproval(planHash, key);
    const forged = { ...signApproval(randomBytes(32).toString('hex'), key), planHash };
    for (const [name, spec] of [['valid', valid], ['forged', forged]] as const) {
      await objects.createNamespacedCustomObject({ ...args, body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'MpcApproval', metadata: { name }, spec } });
    }
    expect(await readyCondition('valid')).toMatchObject({ status: 'True', reason: 'SignatureValid', observedGeneration: 1 });
    expect(await readyCondition('forged')).toMatchObject({ status: 'False', reason: 'SignatureInvalid', observedGeneration: 1 });
    expect(operator.leading()).toBe(true);
    const text = await scrape(operator.metricsPort!);
    expect(text).toMatch(/^vilna_mpc_operator_leader 1$/m);
    const ok = /^vilna_mpc_operator_reconciles_total\{controller="approval",outcome="ok"\} (\d+)$/m.exec(text);
    expect(Number(ok?.[1])).toBeGreaterThanOrEqual(2);
  });
});
