/**
 * Prometheus metrics of the party node (DESIGN §4 "Observability"), prefix `vilna_mpc_`, with
 * prom-client on a registry of its own (never the global one, so two nodes in one test process
 * do not share counters) and a dedicated plain-HTTP `/metrics` listener.
 *
 * Every label takes values from a small set fixed here or by the deployment (key ids are chosen
 * by the operator, party numbers by the plan); the typed methods reject anything else with
 * MetricsLabelError, because an unbounded label set is how a metrics endpoint takes a Prometheus
 * server down. A `signers` label is an ordered signer set of a key ("1,3"): only sets of that
 * key's own holders that include this party reach it, at most C(n−1, t−1) per key (2 for a
 * 2-of-3 key, 6 for 3-of-5), and only those that actually aborted get a series.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { VaultErrorCode } from '../vault/index.ts';

export const METRIC_PREFIX = 'vilna_mpc_';

/** `protocol` label: the CGGMP protocols a session can run (cggmp/protocols). */
export const PROTOCOLS = ['keygen', 'aux-info', 'presign', 'sign', 'refresh', 'reshare'] as const;
export type MetricsProtocol = (typeof PROTOCOLS)[number];

/** `outcome` label of sessions: ok, ProtocolAbort, RoundTimeout, anything else. */
export const SESSION_OUTCOMES = ['ok', 'abort', 'timeout', 'error'] as const;
export type SessionOutcome = (typeof SESSION_OUTCOMES)[number];

/** `outcome` label of signature requests: signed, refused by this node's policy, failed. */
export const SIGNATURE_OUTCOMES = ['ok', 'denied', 'error'] as const;
export type SignatureOutcome = (typeof SIGNATURE_OUTCOMES)[number];

/** `operation` label: what the vault asked the HSM to do. */
export const HSM_OPERATIONS = ['seal', 'unseal', 'sign', 'keygen', 'watermark', 'destroy', 'pin'] as const;
export type HsmOperation = (typeof HSM_OPERATIONS)[number];

/** `rule` label: which policy rule refused a signature (DESIGN §4 "Signing API"). */
export const POLICY_RULES = ['path', 'rate', 'time-window', 'approvals', 'prehashed', 'client'] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

/** `endpoint` label: the peer control calls reserved to the parties of a key or plan (sidecar/http/peer-control.ts). */
export const PEER_CONTROL_ENDPOINTS = [
  'plans.prepare',
  'plans.start',
  'keys.commit',
  'keys.abort',
  'keys.retire',
  'keys.public',
  'decisions',
  'presign.prepare',
  'presign.start',
  'sign',
  'audit.heads',
] as const;
export type PeerControlEndpoint = (typeof PEER_CONTROL_ENDPOINTS)[number];

/** `reason` label: no TLS binding, one that does not verify for the connection, or a caller that is not a party. */
export const PEER_REFUSAL_REASONS = ['binding_missing', 'binding_invalid', 'not_a_party'] as const;
export type PeerRefusalLabel = (typeof PEER_REFUSAL_REASONS)[number];

/** `reason` label of refused presign prepares (sidecar/node/presigner.ts PrepareRefusal). */
export const PREPARE_REFUSAL_REASONS = ['evicted_oldest', 'callers_limit'] as const;
export type PrepareRefusalLabel = (typeof PREPARE_REFUSAL_REASONS)[number];
/** Whether a signing request found a presignature waiting. */
export const POOL_LOOKUP_RESULTS = ['hit', 'miss'] as const;
export type PoolLookupResult = (typeof POOL_LOOKUP_RESULTS)[number];
/** The listeners whose callers the refusal throttle answers 429 (http/refusal-throttle.ts). */
export const THROTTLED_LISTENERS = ['api', 'peer'] as const;
export type ThrottledListener = (typeof THROTTLED_LISTENERS)[number];

/**
 * `code` label of HSM errors: the VaultError codes, plus E_OTHER for a thrown value that carries
 * none of them (a bug or a foreign error; its own text never becomes a label).
 */
export const HSM_ERROR_CODES = [
  'E_HSM_PIN',
  'E_HSM_TOKEN',
  'E_HSM_UNAVAILABLE',
  'E_HSM_ERROR',
  'E_SEALING_KEY_MISSING',
  'E_BLOB_INVALID',
  'E_BLOB_ROLLBACK',
  'E_TRUST_ANCHOR_MISSING',
  'E_TRUST_ANCHOR_MISMATCH',
] as const satisfies readonly VaultErrorCode[];
export const HSM_OTHER_ERROR = 'E_OTHER';
// Fails to compile when the vault gains a code this list does not have.
const hsmCodesComplete: Exclude<VaultErrorCode, (typeof HSM_ERROR_CODES)[number]> extends never ? true : false = true;
void hsmCodesComplete;

/** `source` label of primes handed out to aux-info: the sealed pool, or generated on the spot. */
export const PRIME_SOURCES = ['pool', 'fresh'] as const;
export type PrimeSourceKind = (typeof PRIME_SOURCES)[number];

/** `protocol` label of unattributed aborts counted per signer set (sidecar/node/signer-sets.ts). */
export const SIGNER_SET_PROTOCOLS = ['presign', 'sign'] as const;
export type SignerSetProtocol = (typeof SIGNER_SET_PROTOCOLS)[number];

/** `reason` label of signer-set switches (SwitchReason of sidecar/node/signer-sets.ts). */
export const SIGNER_SET_SWITCH_REASONS = ['quarantined', 'unavailable', 'recovered'] as const;
export type SignerSetSwitchReason = (typeof SIGNER_SET_SWITCH_REASONS)[number];

/**
 * `reason` label of a co-signer call that got no answer, and of the failover it caused (NoAnswer
 * of sidecar/node/peer-client.ts): it did not answer in time, or could not be reached.
 */
export const NO_ANSWER_REASONS = ['timeout', 'unreachable'] as const;
export type NoAnswerReason = (typeof NO_ANSWER_REASONS)[number];

/** `culprit` label when an abort names nobody (ProtocolAbort with `culprits: []`). */
export const UNATTRIBUTED = 'unattributed';

/** Key ids as labels: the shape an operator-chosen name has (Kubernetes-like, bounded length). */
const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Party numbers are 1-based and small; anything above this is a bug, not a deployment. */
const MAX_PARTY = 1024;
/** Signers of one session: at most t, which the peer API bounds at 64 (sidecar/http/peer-control.ts). */
const MAX_SIGNERS = 64;
/** Rounds per protocol are few; the abort announcement round (0xffff) is not timed. */
const MAX_ROUND = 64;

// Buckets in seconds. Sessions include aux-info, which waits for safe primes (minutes at worst).
const SESSION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const ROUND_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** One-round signing from a pooled presignature is milliseconds; the slow path is seconds. */
const SIGNING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** SoftHSM answers in well under a millisecond; network HSMs in tens of milliseconds. */
const HSM_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class MetricsLabelError extends Error {
  override readonly name = 'MetricsLabelError';
  readonly code = 'E_METRICS_LABEL';
}

function assertOneOf<T extends string>(value: string, allowed: readonly T[], label: string): asserts value is T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new MetricsLabelError(`label ${label}: not one of ${allowed.join('|')}`);
  }
}

function assertKeyId(keyId: string): void {
  if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) {
    throw new MetricsLabelError('label key_id: expected 1..128 characters of [A-Za-z0-9._-], starting alphanumeric');
  }
}

function assertParty(party: number, label: string): void {
  if (!Number.isSafeInteger(party) || party < 1 || party > MAX_PARTY) {
    throw new MetricsLabelError(`label ${label}: expected a party number 1..${MAX_PARTY}`);
  }
}

/** A signer set as a label: 1..MAX_SIGNERS distinct party numbers, ascending, joined by commas. */
function signerSetLabel(signers: readonly number[]): string {
  if (!Array.isArray(signers) || signers.length < 1 || signers.length > MAX_SIGNERS) throw new MetricsLabelError(`label signers: expected 1..${MAX_SIGNERS} party numbers`);
  signers.forEach((p, i) => {
    assertParty(p, 'signers');
    if (i > 0 && p <= signers[i - 1]!) throw new MetricsLabelError('label signers: expected ascending, distinct party numbers');
  });
  return signers.join(',');
}

function assertSeconds(seconds: number, what: string): void {
  if (!Number.isFinite(seconds) || seconds < 0) throw new MetricsLabelError(`${what}: expected a finite, non-negative duration in seconds`);
}

/** Seconds since `start` (a process.hrtime.bigint() reading). */
function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** The code label for an error thrown out of an HSM operation. */
export function hsmErrorCode(e: unknown): string {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' && (HSM_ERROR_CODES as readonly string[]).includes(code) ? code : HSM_OTHER_ERROR;
}

export interface NodeMetrics {
  readonly registry: Registry;
  /** Content type of `metricsText()` (Prometheus text exposition 0.0.4). */
  readonly contentType: string;
  /** Counts a finished session and observes its duration. */
  sessionEnded(protocol: MetricsProtocol, outcome: SessionOutcome, seconds: number): void;
  /** Starts timing a session; the returned function records it with its outcome (once). */
  sessionTimer(protocol: MetricsProtocol): (outcome: SessionOutcome) => void;
  /** Starts timing one round; `stop()` observes it (once) and returns the seconds. */
  roundTimer(protocol: MetricsProtocol, round: number): () => number;
  /** Counts a signature request; latency is observed for produced signatures (`ok`) only, so fast refusals do not pull the quantiles down. */
  signature(keyId: string, outcome: SignatureOutcome, seconds?: number): void;
  /** A wrapper that times an HSM call and counts its failure by VaultError code (then rethrows). */
  hsm(operation: HsmOperation): <T>(fn: () => Promise<T>) => Promise<T>;
  policyDenied(keyId: string, rule: PolicyRule): void;
  /** Counts an abort once per named culprit, or once as `unattributed` when nobody is named. */
  abort(protocol: MetricsProtocol, culprits: readonly number[]): void;
  presignatures(keyId: string, available: number): void;
  /** Counts a signing request that found a pooled presignature (`hit`) or had to presign (`miss`). */
  presignPoolLookup(keyId: string, result: PoolLookupResult): void;
  /** Sealed safe primes ready in the pool. */
  primesAvailable(available: number): void;
  /** One safe prime generated for aux-info (for the pool or on the spot). */
  primeGenerated(): void;
  /** One safe prime handed out to aux-info, by where it came from. */
  primeTaken(source: PrimeSourceKind): void;
  /** Counts an unattributed abort of a presign or sign session of this signer set. */
  unattributedAbort(keyId: string, signers: readonly number[], protocol: SignerSetProtocol): void;
  /** Where the quarantined-signer-sets gauge reads its values at each scrape: (key id, count) pairs. */
  signerSetsQuarantined(source: () => Iterable<readonly [string, number]>): void;
  /** Counts a change of the signer set this party assembles for a key. */
  signerSetSwitch(keyId: string, reason: SignerSetSwitchReason): void;
  /** Counts a signature request retried on another signer set after a co-signer gave no answer. */
  signerFailover(keyId: string, reason: NoAnswerReason): void;
  /** Counts a call to a co-signer that got no answer (each leaves the peer out of signer sets for a while). */
  peerNoAnswer(peer: number, reason: NoAnswerReason): void;
  peerReachable(peer: number, up: boolean): void;
  /** Counts a peer control call refused for its caller, by endpoint and reason. */
  peerRefused(endpoint: PeerControlEndpoint, reason: PeerRefusalLabel): void;
  /** Counts a caller's unstarted presign nonce dropped for a newer one, or a caller refused. */
  presignPrepareRefused(reason: PrepareRefusalLabel): void;
  /** Counts a request answered 429 because its caller keeps being refused. */
  requestThrottled(listener: ThrottledListener): void;
  epoch(keyId: string, epoch: number): void;
  /** The exposition text for `/metrics`. */
  metricsText(): Promise<string>;
  /** An express handler serving `metricsText()`, for mounting on an existing app. */
  handler(): (req: Request, res: Response) => Promise<void>;
}

export interface MetricsOptions {
  /** This node's party number, added to every series as the `party` label. */
  readonly party?: number;
}

/** Builds the node's registry with the process metrics and the metrics of DESIGN §4. */
export function createMetrics(opts: MetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  if (opts.party !== undefined) {
    assertParty(opts.party, 'party');
    registry.setDefaultLabels({ party: String(opts.party) });
  }
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const registers = [registry];

  const sessionsTotal = new Counter({
    name: `${METRIC_PREFIX}sessions_total`,
    help: 'Protocol sessions finished, by protocol and outcome (ok|abort|timeout|error).',
    labelNames: ['protocol', 'outcome'] as const,
    registers,
  });
  const sessionDuration = new Histogram({
    name: `${METRIC_PREFIX}session_duration_seconds`,
    help: 'Wall time of protocol sessions, by protocol and outcome.',
    labelNames: ['protocol', 'outcome'] as const,
    buckets: SESSION_BUCKETS,
    registers,
  });
  const roundDuration = new Histogram({
    name: `${METRIC_PREFIX}round_duration_seconds`,
    help: 'Wall time of one protocol round at this party, by protocol and round number.',
    labelNames: ['protocol', 'round'] as const,
    buckets: ROUND_BUCKETS,
    registers,
  });
  const signaturesTotal = new Counter({
    name: `${METRIC_PREFIX}signatures_total`,
    help: 'Signature requests handled by this party, by key id and outcome (ok|denied|error).',
    labelNames: ['key_id', 'outcome'] as const,
    registers,
  });
  const signingLatency = new Histogram({
    name: `${METRIC_PREFIX}signing_latency_seconds`,
    help: 'Time from signature request to signature, by key id (successful signatures only).',
    labelNames: ['key_id'] as const,
    buckets: SIGNING_BUCKETS,
    registers,
  });
  const presignaturesAvailable = new Gauge({
    name: `${METRIC_PREFIX}presignatures_available`,
    help: 'Presignatures this node started and can sign with in one round (halves held for other nodes not counted), by key id.',
    labelNames: ['key_id'] as const,
    registers,
  });
  const poolLookups = new Counter({
    name: `${METRIC_PREFIX}presign_pool_lookups_total`,
    help: 'Signing requests (digest-only excluded) that found a pooled presignature for their key, signer set and path (hit) or presigned after the request (miss), by key id.',
    labelNames: ['key_id', 'result'] as const,
    registers,
  });
  const hsmDuration = new Histogram({
    name: `${METRIC_PREFIX}hsm_operation_duration_seconds`,
    help: 'Latency of HSM operations (seal|unseal|sign|keygen|watermark|destroy|pin), failures included.',
    labelNames: ['operation'] as const,
    buckets: HSM_BUCKETS,
    registers,
  });
  const hsmErrors = new Counter({
    name: `${METRIC_PREFIX}hsm_errors_total`,
    help: 'Failed HSM operations, by operation and VaultError code.',
    labelNames: ['operation', 'code'] as const,
    registers,
  });
  const abortsTotal = new Counter({
    name: `${METRIC_PREFIX}aborts_total`,
    help: 'Identifiable aborts, by protocol and culprit party number (or "unattributed").',
    labelNames: ['protocol', 'culprit'] as const,
    registers,
  });
  const unattributedAborts = new Counter({
    name: `${METRIC_PREFIX}unattributed_aborts_total`,
    help: 'Aborts that name nobody, of presign and sign sessions this party took part in, by key id, ordered signer set ("1,3") and protocol (presign|sign).',
    labelNames: ['key_id', 'signers', 'protocol'] as const,
    registers,
  });
  let quarantinedSource: (() => Iterable<readonly [string, number]>) | undefined;
  new Gauge({
    name: `${METRIC_PREFIX}signer_sets_quarantined`,
    help: 'Signer sets with this party that are quarantined after repeated unattributed aborts, by key id.',
    labelNames: ['key_id'] as const,
    registers,
    collect() {
      if (!quarantinedSource) return;
      this.reset();
      for (const [keyId, n] of quarantinedSource()) if (KEY_ID_PATTERN.test(keyId)) this.set({ key_id: keyId }, n);
    },
  });
  const signerSetSwitches = new Counter({
    name: `${METRIC_PREFIX}signer_set_switches_total`,
    help: 'Changes of the signer set this party assembles for a key, by key id and reason (quarantined: moved off a quarantined set; unavailable: off a set with a party that is unreachable or excluded after a failed call; recovered: back to a preferred one).',
    labelNames: ['key_id', 'reason'] as const,
    registers,
  });
  const signerFailovers = new Counter({
    name: `${METRIC_PREFIX}signer_failovers_total`,
    help: 'Signature requests this party assembled that were retried once on another signer set because a co-signer gave no answer mid-request, by key id and reason (timeout|unreachable).',
    labelNames: ['key_id', 'reason'] as const,
    registers,
  });
  const peerNoAnswers = new Counter({
    name: `${METRIC_PREFIX}peer_call_failures_total`,
    help: 'Calls to a co-signer (presign prepare and start, sign) that got no answer, by peer party number and reason (timeout|unreachable); each leaves the peer out of signer sets for a while.',
    labelNames: ['peer', 'reason'] as const,
    registers,
  });
  const policyDenials = new Counter({
    name: `${METRIC_PREFIX}policy_denials_total`,
    help: 'Signature requests refused by this party\'s policy, by key id and rule (path|rate|time-window|approvals|client).',
    labelNames: ['key_id', 'rule'] as const,
    registers,
  });
  const primesAvailable = new Gauge({
    name: `${METRIC_PREFIX}primes_available`,
    help: 'Sealed safe primes in the pool, ready for aux-info.',
    registers,
  });
  const primesGenerated = new Counter({
    name: `${METRIC_PREFIX}primes_generated_total`,
    help: 'Safe primes generated for aux-info (pool refills and primes generated on the spot).',
    registers,
  });
  const primesTaken = new Counter({
    name: `${METRIC_PREFIX}primes_taken_total`,
    help: 'Safe primes handed out to aux-info, by source (pool|fresh); fresh means the pool was empty.',
    labelNames: ['source'] as const,
    registers,
  });
  const peerReachable = new Gauge({
    name: `${METRIC_PREFIX}peer_reachable`,
    help: 'Whether the last contact with a peer party succeeded (1) or failed (0), by peer party number.',
    labelNames: ['peer'] as const,
    registers,
  });
  const peerRefusals = new Counter({
    name: `${METRIC_PREFIX}peer_control_refusals_total`,
    help: 'Peer control calls refused for their caller, by endpoint and reason (binding_missing|binding_invalid|not_a_party).',
    labelNames: ['endpoint', 'reason'] as const,
    registers,
  });
  const prepareRefusals = new Counter({
    name: `${METRIC_PREFIX}presign_prepare_refusals_total`,
    help: 'Presign prepares beyond a calling party\'s budget of unstarted nonces (evicted_oldest: its oldest was dropped) or from a caller beyond the callers limit (callers_limit: refused).',
    labelNames: ['reason'] as const,
    registers,
  });
  const throttledRequests = new Counter({
    name: `${METRIC_PREFIX}throttled_requests_total`,
    help: 'Requests answered 429 E_TOO_MANY_REFUSALS because their caller kept being refused, by listener (api|peer).',
    labelNames: ['listener'] as const,
    registers,
  });
  const epochGauge = new Gauge({
    name: `${METRIC_PREFIX}epoch`,
    help: 'Current shard epoch this party holds, by key id.',
    labelNames: ['key_id'] as const,
    registers,
  });

  function assertProtocol(protocol: string): void {
    assertOneOf(protocol, PROTOCOLS, 'protocol');
  }

  const metrics: NodeMetrics = {
    registry,
    contentType: registry.contentType,

    sessionEnded(protocol, outcome, seconds) {
      assertProtocol(protocol);
      assertOneOf(outcome, SESSION_OUTCOMES, 'outcome');
      assertSeconds(seconds, 'session duration');
      sessionsTotal.inc({ protocol, outcome });
      sessionDuration.observe({ protocol, outcome }, seconds);
    },

    sessionTimer(protocol) {
      assertProtocol(protocol);
      const start = process.hrtime.bigint();
      let done = false;
      return (outcome) => {
        if (done) return;
        done = true;
        metrics.sessionEnded(protocol, outcome, secondsSince(start));
      };
    },

    roundTimer(protocol, round) {
      assertProtocol(protocol);
      if (!Number.isSafeInteger(round) || round < 0 || round > MAX_ROUND) throw new MetricsLabelError(`label round: expected 0..${MAX_ROUND}`);
      const start = process.hrtime.bigint();
      let elapsed: number | undefined;
      return () => {
        if (elapsed === undefined) {
          elapsed = secondsSince(start);
          roundDuration.observe({ protocol, round: String(round) }, elapsed);
        }
        return elapsed;
      };
    },

    signature(keyId, outcome, seconds) {
      assertKeyId(keyId);
      assertOneOf(outcome, SIGNATURE_OUTCOMES, 'outcome');
      if (seconds !== undefined) assertSeconds(seconds, 'signing latency');
      signaturesTotal.inc({ key_id: keyId, outcome });
      if (outcome === 'ok' && seconds !== undefined) signingLatency.observe({ key_id: keyId }, seconds);
    },

    hsm(operation) {
      assertOneOf(operation, HSM_OPERATIONS, 'operation');
      return async <T>(fn: () => Promise<T>): Promise<T> => {
        const stop = hsmDuration.startTimer({ operation });
        try {
          return await fn();
        } catch (e) {
          hsmErrors.inc({ operation, code: hsmErrorCode(e) });
          throw e;
        } finally {
          stop();
        }
      };
    },

    policyDenied(keyId, rule) {
      assertKeyId(keyId);
      assertOneOf(rule, POLICY_RULES, 'rule');
      policyDenials.inc({ key_id: keyId, rule });
    },

    abort(protocol, culprits) {
      assertProtocol(protocol);
      for (const c of culprits) assertParty(c, 'culprit');
      if (culprits.length === 0) {
        abortsTotal.inc({ protocol, culprit: UNATTRIBUTED });
        return;
      }
      for (const c of new Set(culprits)) abortsTotal.inc({ protocol, culprit: String(c) });
    },

    presignatures(keyId, available) {
      assertKeyId(keyId);
      if (!Number.isSafeInteger(available) || available < 0) throw new MetricsLabelError('presignatures: expected a non-negative integer');
      presignaturesAvailable.set({ key_id: keyId }, available);
    },
    presignPoolLookup(keyId, result) {
      assertKeyId(keyId);
      assertOneOf(result, POOL_LOOKUP_RESULTS, 'result');
      poolLookups.inc({ key_id: keyId, result });
    },

    primesAvailable(available) {
      if (!Number.isSafeInteger(available) || available < 0) throw new MetricsLabelError('primes available: expected a non-negative integer');
      primesAvailable.set(available);
    },

    primeGenerated() {
      primesGenerated.inc();
    },

    primeTaken(source) {
      assertOneOf(source, PRIME_SOURCES, 'source');
      primesTaken.inc({ source });
    },

    unattributedAbort(keyId, signers, protocol) {
      assertKeyId(keyId);
      assertOneOf(protocol, SIGNER_SET_PROTOCOLS, 'protocol');
      unattributedAborts.inc({ key_id: keyId, signers: signerSetLabel(signers), protocol });
    },

    signerSetsQuarantined(source) {
      quarantinedSource = source;
    },

    signerSetSwitch(keyId, reason) {
      assertKeyId(keyId);
      assertOneOf(reason, SIGNER_SET_SWITCH_REASONS, 'reason');
      signerSetSwitches.inc({ key_id: keyId, reason });
    },

    signerFailover(keyId, reason) {
      assertKeyId(keyId);
      assertOneOf(reason, NO_ANSWER_REASONS, 'reason');
      signerFailovers.inc({ key_id: keyId, reason });
    },

    peerNoAnswer(peer, reason) {
      assertParty(peer, 'peer');
      assertOneOf(reason, NO_ANSWER_REASONS, 'reason');
      peerNoAnswers.inc({ peer: String(peer), reason });
    },

    peerReachable(peer, up) {
      assertParty(peer, 'peer');
      peerReachable.set({ peer: String(peer) }, up ? 1 : 0);
    },

    peerRefused(endpoint, reason) {
      assertOneOf(endpoint, PEER_CONTROL_ENDPOINTS, 'endpoint');
      assertOneOf(reason, PEER_REFUSAL_REASONS, 'reason');
      peerRefusals.inc({ endpoint, reason });
    },
    presignPrepareRefused(reason) {
      assertOneOf(reason, PREPARE_REFUSAL_REASONS, 'reason');
      prepareRefusals.inc({ reason });
    },
    requestThrottled(listener) {
      assertOneOf(listener, THROTTLED_LISTENERS, 'listener');
      throttledRequests.inc({ listener });
    },

    epoch(keyId, e) {
      assertKeyId(keyId);
      if (!Number.isSafeInteger(e) || e < 0) throw new MetricsLabelError('epoch: expected a non-negative integer');
      epochGauge.set({ key_id: keyId }, e);
    },

    metricsText() {
      return registry.metrics();
    },

    handler() {
      return async (_req, res) => {
        const text = await registry.metrics();
        res.set('Content-Type', registry.contentType).send(text);
      };
    },
  };
  return metrics;
}

export interface MetricsServer {
  /** `http://host:port/metrics`. */
  readonly url: string;
  /** host:port, the form a Prometheus static target takes. */
  readonly target: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (and HEAD) over plain HTTP on a port of its own, apart from the node's
 * mTLS API: Prometheus then scrapes without a client certificate, and the metrics port carries
 * nothing but aggregate counters (no key material, no request data). Bind it to the pod or
 * loopback address; in Kubernetes the NetworkPolicy admits only the monitoring namespace.
 * Every other path answers 404, every other method 405.
 */
export async function createMetricsServer(listen: { host: string; port: number }, metrics: NodeMetrics): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://metrics.invalid').pathname;
    if (pathname !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    metrics.metricsText().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  // Scrapes are short; a stuck client must not hold the listener open at shutdown.
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host}:${port}/metrics`,
    target: `${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
