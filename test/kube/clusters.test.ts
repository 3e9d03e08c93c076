/**
 * Reaching another region's API server (DESIGN §5 "Multi-cluster"), with two real control
 * planes: a kubeconfig Secret labelled mpc.vilna.io/cluster in region A gives A's operator B's
 * objects; a Secret whose kubeconfig would run a program, skip TLS verification, or is not a
 * kubeconfig is refused and named, and never used.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_LABEL } from '../../api/crd.ts';
import { ClusterRegistry } from '../../operator/clusters.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';

let dir: string;
let a: ControlPlane;
let b: ControlPlane;

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function secret(name: string, cluster: string, kubeconfig: string): Promise<void> {
  await a.kubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace: 'default',
    body: { metadata: { name, labels: { [CLUSTER_LABEL]: cluster } }, data: { kubeconfig: b64(kubeconfig) } },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-clusters-'));
  [a, b] = await Promise.all([startControlPlane({ name: 'region-a', dir: path.join(dir, 'a') }), startControlPlane({ name: 'region-b', dir: path.join(dir, 'b') })]);
}, 600_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ClusterRegistry', () => {
  it('reaches another region through its labelled kubeconfig Secret, and refuses Secrets that would run programs', async () => {
    await b.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'only-in-b' } } });
    await secret('region-b', 'region-b', b.kubeconfigYaml);
    const withExec = parse(b.kubeconfigYaml) as { users: { user: Record<string, unknown> }[] };
    withExec.users[0]!.user = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/sh', args: ['-c', 'touch /tmp/pwned'] } };
    await secret('evil', 'region-c', stringify(withExec));
    const insecure = parse(b.kubeconfigYaml) as { clusters: { cluster: Record<string, unknown> }[] };
    insecure.clusters[0]!.cluster['insecure-skip-tls-verify'] = true;
    await secret('insecure', 'region-d', stringify(insecure));
    await secret('garbage', 'region-e', 'not: [a kubeconfig');

    const registry = new ClusterRegistry(a.kubeConfig(), 'default');
    await registry.refresh();
    expect(registry.names()).toEqual(['local', 'region-b']);
    const namespaces = await registry.get('region-b').makeApiClient(CoreV1Api).listNamespace();
    expect(namespaces.items.map((n) => n.metadata!.name)).toContain('only-in-b');
    const local = await registry.get('local').makeApiClient(CoreV1Api).listNamespace();
    expect(local.items.map((n) => n.metadata!.name)).not.toContain('only-in-b');
    const problems = registry.problems().join('\n');
    expect(problems).toMatch(/Secret default\/evil: exec and auth-provider credentials are refused/);
    expect(problems).toMatch(/Secret default\/insecure: insecure-skip-tls-verify is refused/);
    expect(problems).toMatch(/Secret default\/garbage: not a readable kubeconfig/);
    expect(() => registry.get('region-c')).toThrow(/no kubeconfig Secret labelled mpc.vilna.io\/cluster=region-c/);
  });
});
