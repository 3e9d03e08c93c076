/**
 * Unit tests of the node's metrics (DESIGN §4 "Observability"): names, labels, the typed
 * recorders, label validation, and the plain-HTTP /metrics listener.
 */
import { describe, expect, it } from 'vitest';
import { VaultError } from '../vault/errors.ts';
import { createMetrics, createMetricsServer, MetricsLabelError, type NodeMetrics } from './metrics.ts';

/** The value of one series (a histogram's as `<name>_count` etc.; labels matched on the given keys), or undefined. */
async function sample(m: NodeMetrics, series: string, labels: Record<string, string>): Promise<number | undefined> {
  const name = series.replace(/_(count|sum|bucket)$/, '');
  const metric = m.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const hit = values.find(
    (v) => ((v as { metricName?: string }).metricName ?? name) === series && Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return hit?.value;
}

async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return 'returned';
}

describe('createMetrics', () => {
  it('exposes every node metric and the process metrics under the vilna_mpc_ prefix with the party label', async () => {
    const m = createMetrics({ party: 2 });
    m.sessionEnded('keygen', 'ok', 1.5);
    m.roundTimer('keygen', 1)();
    m.signature('treasury', 'ok', 0.02);
    m.presignatures('treasury', 7);
    await m.hsm('seal')(async () => 1);
    m.abort('presign', [3]);
    m.policyDenied('treasury', 'rate');
    m.peerReachable(1, true);
    m.peerRefused('sign', 'not_a_party');
    m.epoch('treasury', 4);
    m.primesAvailable(8);
    m.primeGenerated();
    m.primeTaken('pool');
    m.unattributedAbort('treasury', [1, 2], 'presign');
    m.signerSetsQuarantined(() => [['treasury', 1]]);
    m.signerSetSwitch('treasury', 'quarantined');
    m.signerFailover('treasury', 'timeout');
    m.peerNoAnswer(3, 'unreachable');
    await expect(m.hsm('unseal')(() => Promise.reject(new VaultError('E_BLOB_INVALID', 'x')))).rejects.toThrow();
    const text = await m.metricsText();
    for (const name of [
      'vilna_mpc_sessions_total',
      'vilna_mpc_session_duration_seconds_bucket',
      'vilna_mpc_round_duration_seconds_bucket',
      'vilna_mpc_signatures_total',
      'vilna_mpc_signing_latency_seconds_bucket',
      'vilna_mpc_presignatures_available',
      'vilna_mpc_hsm_operation_duration_seconds_bucket',
      'vilna_mpc_hsm_errors_total',
      'vilna_mpc_aborts_total',
      'vilna_mpc_policy_denials_total',
      'vilna_mpc_peer_reachable',
      'vilna_mpc_peer_control_refusals_total',
      'vilna_mpc_epoch',
      'vilna_mpc_primes_available',
      'vilna_mpc_primes_generated_total',
      'vilna_mpc_primes_taken_total',
      'vilna_mpc_unattributed_aborts_total',
      'vilna_mpc_signer_sets_quarantined',
      'vilna_mpc_signer_set_switches_total',
      'vilna_mpc_signer_failovers_total',
      'vilna_mpc_peer_call_failures_total',
      'vilna_mpc_process_cpu_user_seconds_total',
      'vilna_mpc_nodejs_eventloop_lag_seconds',
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}\\{[^}]*party="2"`, 'm'));
    }
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('keeps each node in its own registry', async () => {
    const a = createMetrics({ party: 1 });
    const b = createMetrics({ party: 2 });
    a.signature('k1', 'ok', 0.01);
    expect(await sample(a, 'vilna_mpc_signatures_total', { key_id: 'k1', outcome: 'ok' })).toBe(1);
    expect(await sample(b, 'vilna_mpc_signatures_total', { key_id: 'k1', outcome: 'ok' })).toBeUndefined();
  });

  it('counts sessions by protocol and outcome and observes their duration', async () => {
    const m = createMetrics();
    m.sessionEnded('sign', 'ok', 0.3);
    m.sessionEnded('sign', 'ok', 0.4);
    m.sessionEnded('sign', 'timeout', 30);
    const done = m.sessionTimer('refresh');
    done('abort');
    done('ok'); // a second call must not count the session twice
    expect(await sample(m, 'vilna_mpc_sessions_total', { protocol: 'sign', outcome: 'ok' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_sessions_total', { protocol: 'sign', outcome: 'timeout' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_sessions_total', { protocol: 'refresh', outcome: 'abort' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_sessions_total', { protocol: 'refresh', outcome: 'ok' })).toBeUndefined();
    const text = await m.metricsText();
    expect(text).toContain('vilna_mpc_session_duration_seconds_sum{protocol="sign",outcome="ok"} 0.7');
    expect(text).toContain('vilna_mpc_session_duration_seconds_bucket{le="0.5",protocol="sign",outcome="ok"} 2');
  });

  it('times a round once however often stop is called', async () => {
    const m = createMetrics();
    const stop = m.roundTimer('presign', 2);
    await new Promise((r) => setTimeout(r, 20));
    const first = stop();
    expect(first).toBeGreaterThanOrEqual(0.015);
    expect(stop()).toBe(first);
    expect(await sample(m, 'vilna_mpc_round_duration_seconds_count', { protocol: 'presign', round: '2' })).toBe(1);
  });

  it('observes signing latency for produced signatures only', async () => {
    const m = createMetrics();
    m.signature('k1', 'ok', 0.02);
    m.signature('k1', 'ok', 0.03);
    m.signature('k1', 'denied', 0.001);
    m.signature('k1', 'error');
    expect(await sample(m, 'vilna_mpc_signatures_total', { key_id: 'k1', outcome: 'ok' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_signatures_total', { key_id: 'k1', outcome: 'denied' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_signatures_total', { key_id: 'k1', outcome: 'error' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_signing_latency_seconds_count', { key_id: 'k1' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_signing_latency_seconds_bucket', { key_id: 'k1', le: '0.005' })).toBe(0);
    expect(await sample(m, 'vilna_mpc_signing_latency_seconds_bucket', { key_id: 'k1', le: '0.025' })).toBe(1);
  });

  it('times HSM calls and counts failures by VaultError code, rethrowing the same error', async () => {
    const m = createMetrics();
    const seal = m.hsm('seal');
    expect(await seal(async () => 'blob')).toBe('blob');
    const refused = new VaultError('E_HSM_PIN', 'login: the token refused the PIN (CKR_PIN_INCORRECT)');
    await expect(m.hsm('pin')(() => Promise.reject(refused))).rejects.toBe(refused);
    await expect(m.hsm('unseal')(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(m.hsm('unseal')(() => Promise.reject(Object.assign(new Error('x'), { code: 'secret-ish free text' })))).rejects.toThrow();
    expect(await sample(m, 'vilna_mpc_hsm_operation_duration_seconds_count', { operation: 'seal' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_hsm_operation_duration_seconds_count', { operation: 'pin' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_hsm_errors_total', { operation: 'pin', code: 'E_HSM_PIN' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_hsm_errors_total', { operation: 'unseal', code: 'E_OTHER' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_hsm_errors_total', { operation: 'seal' })).toBeUndefined();
    expect(await m.metricsText()).not.toContain('secret-ish');
  });

  it('counts an abort once per named culprit, or as unattributed', async () => {
    const m = createMetrics();
    m.abort('presign', [2, 3, 2]);
    m.abort('presign', []);
    m.abort('reshare', [1]);
    expect(await sample(m, 'vilna_mpc_aborts_total', { protocol: 'presign', culprit: '2' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_aborts_total', { protocol: 'presign', culprit: '3' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_aborts_total', { protocol: 'presign', culprit: 'unattributed' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_aborts_total', { protocol: 'reshare', culprit: '1' })).toBe(1);
  });

  it('counts unattributed aborts by key and ordered signer set, switches by reason, and reads quarantined sets at scrape time', async () => {
    const m = createMetrics();
    m.unattributedAbort('k1', [1, 2], 'presign');
    m.unattributedAbort('k1', [1, 2], 'presign');
    m.unattributedAbort('k1', [1, 2], 'sign');
    m.unattributedAbort('k1', [1, 3], 'presign');
    m.signerSetSwitch('k1', 'quarantined');
    m.signerSetSwitch('k1', 'recovered');
    expect(await sample(m, 'vilna_mpc_unattributed_aborts_total', { key_id: 'k1', signers: '1,2', protocol: 'presign' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_unattributed_aborts_total', { key_id: 'k1', signers: '1,2', protocol: 'sign' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_unattributed_aborts_total', { key_id: 'k1', signers: '1,3', protocol: 'presign' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_signer_set_switches_total', { key_id: 'k1', reason: 'quarantined' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_signer_set_switches_total', { key_id: 'k1', reason: 'recovered' })).toBe(1);
    let quarantined: [string, number][] = [['k1', 1], ['k2', 0]];
    m.signerSetsQuarantined(() => quarantined);
    expect(await sample(m, 'vilna_mpc_signer_sets_quarantined', { key_id: 'k1' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_signer_sets_quarantined', { key_id: 'k2' })).toBe(0);
    quarantined = [['k1', 0]];
    expect(await sample(m, 'vilna_mpc_signer_sets_quarantined', { key_id: 'k1' })).toBe(0);
    expect(await sample(m, 'vilna_mpc_signer_sets_quarantined', { key_id: 'k2' })).toBeUndefined();
  });

  it('counts failovers by key and reason, and co-signer calls that got no answer by peer and reason', async () => {
    const m = createMetrics();
    m.signerFailover('k1', 'unreachable');
    m.signerFailover('k1', 'unreachable');
    m.signerFailover('k1', 'timeout');
    m.peerNoAnswer(2, 'unreachable');
    m.signerSetSwitch('k1', 'unavailable');
    expect(await sample(m, 'vilna_mpc_signer_failovers_total', { key_id: 'k1', reason: 'unreachable' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_signer_failovers_total', { key_id: 'k1', reason: 'timeout' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_peer_call_failures_total', { peer: '2', reason: 'unreachable' })).toBe(1);
    expect(await sample(m, 'vilna_mpc_signer_set_switches_total', { key_id: 'k1', reason: 'unavailable' })).toBe(1);
    expect(() => m.signerFailover('k1', 'refused' as never)).toThrow(MetricsLabelError);
    expect(() => m.peerNoAnswer(0, 'timeout')).toThrow(MetricsLabelError);
  });

  it('sets the gauges and counts policy denials by rule', async () => {
    const m = createMetrics();
    m.presignatures('k1', 10);
    m.presignatures('k1', 9);
    m.peerReachable(3, true);
    m.peerReachable(3, false);
    m.epoch('k1', 2);
    m.policyDenied('k1', 'approvals');
    m.policyDenied('k1', 'approvals');
    m.policyDenied('k1', 'time-window');
    expect(await sample(m, 'vilna_mpc_presignatures_available', { key_id: 'k1' })).toBe(9);
    expect(await sample(m, 'vilna_mpc_peer_reachable', { peer: '3' })).toBe(0);
    expect(await sample(m, 'vilna_mpc_epoch', { key_id: 'k1' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_policy_denials_total', { key_id: 'k1', rule: 'approvals' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_policy_denials_total', { key_id: 'k1', rule: 'time-window' })).toBe(1);
  });

  it('keeps the sealed prime pool gauge and counts primes generated and taken by source', async () => {
    const m = createMetrics();
    m.primesAvailable(8);
    m.primesAvailable(7);
    m.primeGenerated();
    m.primeGenerated();
    m.primeTaken('pool');
    m.primeTaken('pool');
    m.primeTaken('fresh');
    expect(await sample(m, 'vilna_mpc_primes_available', {})).toBe(7);
    expect(await sample(m, 'vilna_mpc_primes_generated_total', {})).toBe(2);
    expect(await sample(m, 'vilna_mpc_primes_taken_total', { source: 'pool' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_primes_taken_total', { source: 'fresh' })).toBe(1);
  });

  it('counts refused peer control calls by endpoint and reason', async () => {
    const m = createMetrics();
    m.peerRefused('presign.prepare', 'binding_missing');
    m.peerRefused('presign.prepare', 'binding_missing');
    m.peerRefused('sign', 'not_a_party');
    expect(await sample(m, 'vilna_mpc_peer_control_refusals_total', { endpoint: 'presign.prepare', reason: 'binding_missing' })).toBe(2);
    expect(await sample(m, 'vilna_mpc_peer_control_refusals_total', { endpoint: 'sign', reason: 'not_a_party' })).toBe(1);
  });

  it('rejects label values outside their bounded sets', async () => {
    const m = createMetrics();
    const bad = (v: string) => v as never;
    expect(await codeOf(() => m.sessionEnded(bad('dkg'), 'ok', 1))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.sessionEnded('sign', bad('maybe'), 1))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.sessionEnded('sign', 'ok', Number.NaN))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.roundTimer('sign', 0xffff))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.signature('', 'ok'))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.signature('k1"} 1\nfake_metric{', 'ok'))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.signature('k'.repeat(129), 'ok'))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.hsm(bad('export')))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.policyDenied('k1', bad('mood')))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.abort('sign', [0]))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.peerReachable(1.5, true))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.epoch('k1', -1))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.primesAvailable(-1))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.primeTaken(bad('cache')))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.peerRefused(bad('/v1/peer/control/anything'), 'not_a_party'))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.peerRefused('sign', bad('curious')))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => createMetrics({ party: 0 }))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.unattributedAbort('k1', [2, 1], 'presign'))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.unattributedAbort('k1', [1, 1], 'presign'))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.unattributedAbort('k1', [], 'presign'))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.unattributedAbort('k1', [1, 1025], 'presign'))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.unattributedAbort('k1', Array.from({ length: 65 }, (_, i) => i + 1), 'presign'))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.unattributedAbort('k1', [1, 2], bad('keygen')))).toBe('E_METRICS_LABEL');
    expect(await codeOf(() => m.signerSetSwitch('k1', bad('whim')))).toBe('E_METRICS_LABEL');
    expect(await m.metricsText()).not.toContain('fake_metric');
  });
});

describe('createMetricsServer', () => {
  it('serves GET /metrics in the Prometheus text format and nothing else', async () => {
    const m = createMetrics({ party: 1 });
    m.signature('k1', 'ok', 0.02);
    const server = await createMetricsServer({ host: '127.0.0.1', port: 0 }, m);
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const ok = await fetch(server.url);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toBe(m.contentType);
      expect(await ok.text()).toContain('vilna_mpc_signatures_total{key_id="k1",outcome="ok",party="1"} 1');
      const head = await fetch(server.url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
      expect((await fetch(server.url.replace('/metrics', '/v1/keys'))).status).toBe(404);
      expect((await fetch(server.url, { method: 'POST', body: 'x' })).status).toBe(405);
    } finally {
      await server.close();
    }
    await expect(fetch(server.url)).rejects.toThrow();
  });
});
