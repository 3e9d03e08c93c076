/**
 * The Helm chart (issue 5 acceptance) with the real `helm` against real API servers: helm lint
 * passes; each of three regions' values files installs into its own control plane (monitoring
 * objects only where the cluster serves monitoring.coreos.com/v1, from stand-in CRDs); a values
 * file that breaks the schema is refused; promtool accepts the alert rules as rendered (and its
 * rule unit tests show the unattributed-aborts and failover alerts firing when they should); the dashboard and
 * the alerts name only metrics that the node and the operator export.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApiextensionsV1Api, AppsV1Api, CustomObjectsApi, loadAllYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURALS, VERSION } from '../../api/crd.ts';
import { createOperatorMetrics } from '../../operator/metrics.ts';
import { ensureKubeBinaries } from '../../scripts/kube-binaries.mjs';
import { createMetrics } from '../../sidecar/observability/metrics.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const chart = path.join(root, 'charts', 'vilna-mpc');
const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const;
let dir: string;
let helm: string;
const planes = new Map<string, ControlPlane>();

async function helmRun(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(helm, args, { maxBuffer: 16 << 20, env: { ...process.env, HELM_CACHE_HOME: path.join(dir, 'helm-cache'), HELM_CONFIG_HOME: path.join(dir, 'helm-config'), HELM_DATA_HOME: path.join(dir, 'helm-data') } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

/** Metric names a PromQL expression refers to (histogram series mapped to their metric). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(vilna_mpc_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-chart-'));
  helm = path.join((await ensureKubeBinaries()).binDir, 'helm');
  const started = await Promise.all(REGIONS.map((r) => startControlPlane({ name: r, dir: path.join(dir, r) })));
  REGIONS.forEach((r, i) => planes.set(r, started[i]!));
  // Two of the three regions run the Prometheus operator (its CRDs stood in by ours).
  const monitoring = loadAllYaml(await readFile(path.join(root, 'test', 'kube', 'support', 'monitoring-crds.yaml'), 'utf8')) as V1CustomResourceDefinition[];
  for (const r of ['eu-west', 'ap-south']) {
    const ext = planes.get(r)!.kubeConfig().makeApiClient(ApiextensionsV1Api);
    for (const crd of monitoring) await ext.createCustomResourceDefinition({ body: crd });
  }
}, 600_000);

afterAll(async () => {
  await Promise.all([...planes.values()].map((p) => p.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the Helm chart', () => {
  it('passes helm lint with every region\'s values', async () => {
    for (const r of REGIONS) {
      const res = await helmRun(['lint', chart, '-f', path.join(chart, 'examples', `values-${r}.yaml`)]);
      expect(res.out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(res.code).toBe(0);
    }
  });

  it('installs each region into its own API server, monitoring objects only where the cluster serves them', async () => {
    for (const r of REGIONS) {
      const cp = planes.get(r)!;
      const values = path.join(chart, 'examples', `values-${r}.yaml`);
      // First install creates the CRDs; the parties come with the upgrade (NOTES.txt tells the user).
      const install = await helmRun(['install', 'vilna', chart, '--kubeconfig', cp.kubeconfigPath, '-n', 'vilna-system', '--create-namespace', '-f', values]);
      expect(install.code, install.out).toBe(0);
      expect(install.out).toMatch(/Run the same command with `helm upgrade`/);
      const upgrade = await helmRun(['upgrade', 'vilna', chart, '--kubeconfig', cp.kubeconfigPath, '-n', 'vilna-system', '-f', values]);
      expect(upgrade.code, upgrade.out).toBe(0);
      expect(upgrade.out).not.toMatch(/helm upgrade/);
      const kc = cp.kubeConfig();
      const parties = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURALS.MpcParty, namespace: 'vilna-system' })) as { items: { metadata: { name: string }; spec: { region: string } }[] };
      expect(parties.items.map((p) => [p.metadata.name, p.spec.region])).toEqual([[`party-${r}`, r]]);
      const deployment = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'vilna-operator', namespace: 'vilna-system' });
      expect(deployment.spec?.template.spec?.securityContext?.runAsNonRoot).toBe(true);
      expect(deployment.spec?.template.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
      const monitors = await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', plural: 'servicemonitors', namespace: 'vilna-system' }).then(
        (l) => (l as { items: unknown[] }).items.length,
        () => 0, // the API is not served in this cluster
      );
      expect(monitors).toBe(r === 'us-east' ? 0 : 2);
      const crd = await kc.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: `${PLURALS.MpcCeremony}.${GROUP}` });
      expect(crd.metadata?.annotations?.['helm.sh/resource-policy']).toBe('keep');
    }
  });

  it('refuses values that break the schema', async () => {
    const bad = path.join(dir, 'bad-values.yaml');
    await writeFile(bad, stringify({ region: 'EU West', operator: { replicas: 0 }, parties: [{ name: 'p', hsm: { module: 'relative/path.so', tokenLabel: 't', pinSecret: { name: 'pin' } } }] }));
    const res = await helmRun(['template', 'vilna', chart, '-f', bad]);
    expect(res.code).not.toBe(0);
    expect(res.out).toMatch(/values don't meet the specifications of the schema/);
    expect(res.out).toMatch(/region/);
    expect(res.out).toMatch(/replicas/);
  });

  it('renders alert rules that promtool accepts, naming only exported metrics, and a dashboard likewise', async () => {
    const res = await helmRun(['template', 'vilna', chart, '--api-versions', 'monitoring.coreos.com/v1', '-f', path.join(chart, 'examples', 'values-eu-west.yaml')]);
    expect(res.code, res.out).toBe(0);
    const docs = parseAllDocuments(res.out).map((d) => d.toJS() as { kind?: string; spec?: { groups?: { rules: { expr: string }[] }[] }; data?: Record<string, string> });
    const rule = docs.find((d) => d?.kind === 'PrometheusRule')!;
    const rulesFile = path.join(dir, 'alerts.yaml');
    await writeFile(rulesFile, stringify({ groups: rule.spec!.groups }));
    const promtool = await run('/usr/bin/promtool', ['check', 'rules', rulesFile]).then((r) => ({ code: 0, out: r.stdout }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }));
    expect(promtool.out).toMatch(/SUCCESS: 10 rules found/);
    expect(promtool.code).toBe(0);

    const exported = new Set<string>();
    for (const m of (await createMetrics({ party: 1 }).registry.getMetricsAsJSON())) exported.add(m.name);
    for (const m of (await createOperatorMetrics().registry.getMetricsAsJSON())) exported.add(m.name);
    const dashboard = JSON.parse(docs.find((d) => d?.kind === 'ConfigMap' && d.data?.['vilna-mpc.json'])!.data!['vilna-mpc.json']!) as { panels: { title: string; targets: { expr: string }[] }[] };
    const used = new Set([...dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricsIn(t.expr))), ...rule.spec!.groups!.flatMap((g) => g.rules.flatMap((r) => metricsIn(r.expr)))]);
    expect([...used].filter((m) => !exported.has(m))).toEqual([]);
    // The panels the issue asks for.
    for (const title of ['Signing rate', 'Signing latency', 'Presignature pool', 'Ceremonies and rotations by phase', 'Aborts by culprit party', 'HSM latency', 'Peer reachability', 'Unattributed aborts by signer set', 'Signer failover', 'Refused and throttled callers']) {
      expect(dashboard.panels.some((p) => p.title.startsWith(title))).toBe(true);
    }
  });

  /** Runs `promtool test rules` on the chart's rendered rules: one alert, its input series, and what it should say when. */
  async function alertTest(name: string, alert: string, inputSeries: { series: string; values: string }[], alertRuleTest: unknown[]): Promise<void> {
    const res = await helmRun(['template', 'vilna', chart, '--api-versions', 'monitoring.coreos.com/v1', '-f', path.join(chart, 'examples', 'values-eu-west.yaml')]);
    expect(res.code, res.out).toBe(0);
    const rule = parseAllDocuments(res.out).map((d) => d.toJS() as { kind?: string; spec?: { groups?: unknown[] } }).find((d) => d?.kind === 'PrometheusRule')!;
    await writeFile(path.join(dir, `${name}-rules.yaml`), stringify({ groups: rule.spec!.groups }));
    const tests = {
      rule_files: [`${name}-rules.yaml`],
      evaluation_interval: '1m',
      tests: [{ interval: '1m', input_series: inputSeries, alert_rule_test: alertRuleTest.map((t) => ({ alertname: alert, ...(t as object) })) }],
    };
    const testFile = path.join(dir, `${name}-rules.test.yaml`);
    await writeFile(testFile, stringify(tests));
    const out = await run('/usr/bin/promtool', ['test', 'rules', testFile]).then((r) => ({ code: 0, out: r.stdout + r.stderr }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }));
    expect(out.out).toMatch(/SUCCESS/);
    expect(out.code, out.out).toBe(0);
  }

  it('alerts on repeated unattributed aborts of one signer set, not on a single one (promtool test rules)', async () => {
    const series = (signers: string) => `vilna_mpc_unattributed_aborts_total{namespace="vilna-system",pod="party-1-0",key_id="k",signers="${signers}",protocol="presign"}`;
    // A series appears with its first abort (prom-client creates it at 1): {1, 2} aborts three
    // times in three minutes, {1, 3} once.
    await alertTest('griefing', 'VilnaMpcUnattributedAborts', [
      { series: series('1,2'), values: '_ 1 2 3x150' },
      { series: series('1,3'), values: '_ 1x150' },
    ], [
      { eval_time: '1m', exp_alerts: [] },
      {
        eval_time: '5m',
        exp_alerts: [{
          exp_labels: { severity: 'critical', namespace: 'vilna-system', pod: 'party-1-0', key_id: 'k', signers: '1,2' },
          exp_annotations: { summary: 'Signer set 1,2 of key k keeps aborting with nobody named at party-1-0: one of its parties is suspect' },
        }],
      },
      { eval_time: '2h', exp_alerts: [] },
    ]);
  });

  it('alerts on failovers that keep coming for a key, not on a single one (promtool test rules)', async () => {
    const series = (pod: string) => `vilna_mpc_signer_failovers_total{namespace="vilna-system",pod="${pod}",key_id="k",reason="timeout"}`;
    // party-1-0 fails over twice in two minutes; party-3-0 once (a party that then went down).
    await alertTest('failover', 'VilnaMpcSignerFailovers', [
      { series: series('party-1-0'), values: '_ 1 2x120' },
      { series: series('party-3-0'), values: '_ 1x120' },
    ], [
      { eval_time: '1m', exp_alerts: [] },
      {
        eval_time: '5m',
        exp_alerts: [{
          exp_labels: { severity: 'warning', namespace: 'vilna-system', pod: 'party-1-0', key_id: 'k' },
          exp_annotations: { summary: 'Signing of key k at party-1-0 keeps failing over to another signer set: a co-signer stops answering mid-request' },
        }],
      },
      { eval_time: '1h', exp_alerts: [] },
    ]);
  });

  it('alerts on a throttled caller while it keeps being refused, and stops after (promtool test rules)', async () => {
    // party-2-0 throttles a flood on its peer listener for three minutes; its API listener never throttles.
    await alertTest('throttle', 'VilnaMpcCallersThrottled', [
      { series: 'vilna_mpc_throttled_requests_total{namespace="vilna-system",pod="party-2-0",listener="peer"}', values: '_ 1 40 80 120x60' },
      { series: 'vilna_mpc_throttled_requests_total{namespace="vilna-system",pod="party-2-0",listener="api"}', values: '_ 0x60' },
    ], [
      { eval_time: '1m', exp_alerts: [] },
      {
        eval_time: '4m',
        exp_alerts: [{
          exp_labels: { severity: 'warning', namespace: 'vilna-system', pod: 'party-2-0', listener: 'peer' },
          exp_annotations: { summary: 'party-2-0 throttles a caller on its peer listener that keeps being refused' },
        }],
      },
      { eval_time: '30m', exp_alerts: [] },
    ]);
  });

  it('ships the CRDs of crds/ unchanged', async () => {
    for (const f of ['mpc.vilna.io_mpcceremonies.yaml', 'mpc.vilna.io_mpcparties.yaml', 'mpc.vilna.io_mpcapprovals.yaml', 'mpc.vilna.io_shardrotations.yaml']) {
      expect(parse(await readFile(path.join(chart, 'files', 'crds', f), 'utf8'))).toEqual(parse(await readFile(path.join(root, 'crds', f), 'utf8')));
    }
  });
});
