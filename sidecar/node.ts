/**
 * One party node (DESIGN §4): opens the HSM vault, pins the trust anchors, and serves three
 * listeners — the mutual-TLS peer listener (transport and control), the signing API (TLS, bearer
 * token or client certificate) and plain-HTTP /metrics. Everything is wired here; the logic lives
 * in sidecar/node/*, sidecar/transport, sidecar/audit, sidecar/trust and sidecar/vault.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { arith, parallel, primeBits, protocols, SECURITY_LEVEL_128 } from '../cggmp/index.ts';
import { approverSetHash, parseApproverSet, planHashHex } from '../api/index.ts';
import { AuditLog, RefusalCounter, type RefusalSink } from './audit/index.ts';
import type { NodeConfig } from './config.ts';
import { isLooserThanPrivate, tightenStateModes } from './file-modes.ts';
import { apiRouter } from './http/api.ts';
import { RefusalThrottle } from './http/refusal-throttle.ts';
import { errorHandler } from './http/errors.ts';
import { peerControlRouter } from './http/peer-control.ts';
import { ApproverRotation } from './node/approver-rotation.ts';
import { AuditAnchors } from './node/audit-anchors.ts';
import { WriteGate } from './node/write-gate.ts';
import { Coordinator } from './node/coordinator.ts';
import { KeyStateStore } from './node/key-state.ts';
import { KeyReadinessChecker } from './node/key-readiness.ts';
import { callPeer } from './node/peer-client.ts';
import { PeerHealth } from './node/peer-health.ts';
import { PlanParticipant } from './node/plan-participant.ts';
import type { PlanView, VerifiedPlan } from './node/plan-view.ts';
import type { KeyState } from './node/key-state.ts';
import { PeerAuthorizer } from './node/peer-authorizer.ts';
import { PolicyEnforcer } from './node/policy-enforcer.ts';
import { HotPaths, MAX_HOT_PATHS } from './node/hot-paths.ts';
import { EPOCH_TEST_PATH, EPOCH_TEST_PREFIX, epochTestMessage } from './node/statements.ts';
import { fixturePrimes, PRIME_POOL_KEY_ID, PrimePool } from './node/prime-pool.ts';
import { PresignPool } from './node/presign-pool.ts';
import { Presigner } from './node/presigner.ts';
import { SessionRunner, type SessionHooks } from './node/session-runner.ts';
import { ShardStore } from './node/shard-store.ts';
import { SigningService } from './node/signing-service.ts';
import { SignersUnavailable, SignerSets, signerSetLabel } from './node/signer-sets.ts';
import { createLogger, createMetrics, createMetricsServer, createTracing, type MetricsProtocol, type ThrottledListener } from './observability/index.ts';
import { createPeerBinding, createPeerClient, createPeerTransport, peerServerOptions, type PeerClient } from './transport/index.ts';
import { pinTrustAnchors, verifyPlan } from './trust/index.ts';
import { openVault } from './vault/index.ts';

export interface RunningNode {
  readonly identityKey: string;
  /**
   * This node's TLS binding (peer-binding.ts) as sent in its peer requests: public, and useful
   * only together with the TLS private key of this node's certificate.
   */
  readonly peerBinding: string;
  readonly peerUrl: string;
  readonly apiUrl: string;
  readonly metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** Each party's slice of a development fixture file (aux-info takes 4; 48 primes serve 6 parties). */
const FIXTURE_PRIMES_PER_PARTY = 8;
/** Safe primes generated ahead of time and sealed: two aux-info runs' worth. */
const PRIME_POOL_TARGET = 8;
const REFILL_RETRY_MS = 2000;
/** Quiet time after the last signature of a key before its pool is refilled. */
const REFILL_LULL_MS = 500;
/**
 * How long the peer listener keeps an idle connection (Node's default is 5 s). Each new
 * connection from a peer costs its TLS handshake, a round trip more over a WAN, so a warm
 * signature after a few quiet seconds took 2–3 RTT instead of 1 (test/wan, issue 11 item 4).
 * The peers' clients learn it from the Keep-Alive header and let their idle connections go just
 * before; the reachability probe (every 10 s) keeps one per peer in use. Below Node's 60 s
 * headersTimeout, which a kept-alive connection's next request must meet.
 */
const PEER_KEEPALIVE_TIMEOUT_MS = 30_000;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve(`https://${host}:${a.port}`);
    });
  });
}

/**
 * Test-only injection points (DESIGN §7: corruption comes from the test harness, never from a
 * switch in the production path). `vilna-mpc sidecar` never passes any; a test entry point does.
 */
export interface NodeTestHooks {
  readonly checkpoint?: (name: string) => void;
  readonly wrapChannel?: SessionHooks['wrapChannel'];
  readonly wrapSession?: SessionHooks['wrapSession'];
  /** Safe-prime generation for the sealed pool instead of the real one (tests hand out fixture primes). */
  readonly generatePrime?: (bits: number) => Promise<bigint>;
  /** Stands between the node and the network (a test plays a network attacker holding a CA certificate). */
  readonly wrapPeerClient?: (client: PeerClient) => PeerClient;
}

/** How many tightened paths the start-up warning names (the count is always given). */
const TIGHTENED_PATHS_LOGGED = 20;

/**
 * Files 0600 and directories 0700 under the state directory (file-modes.ts): what an older
 * version, a copy or an operator left looser is tightened, with a warning. Secrets the
 * configuration names outside it (a mounted PIN file or TLS key) are not this node's to change;
 * a loose one is only reported.
 */
async function tightenState(cfg: NodeConfig, log: ReturnType<typeof createLogger>): Promise<void> {
  const tightened = await tightenStateModes(cfg.party.stateDir);
  if (tightened.length > 0) {
    log.warn(
      { stateDir: cfg.party.stateDir, count: tightened.length, paths: tightened.slice(0, TIGHTENED_PATHS_LOGGED).map((t) => `${t.path} (was ${t.mode.toString(8).padStart(4, '0')})`) },
      'state files or directories were open to group or others; tightened to 0600 / 0700',
    );
  }
  const outside = [cfg.hsm.pinFile, cfg.tls.keyFile].filter((f) => {
    const rel = path.relative(cfg.party.stateDir, f);
    return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
  });
  for (const file of outside) {
    if (await isLooserThanPrivate(file)) log.warn({ file }, 'a secret file outside the state directory can be read by group or others; make it 0600');
  }
}

/** How often each peer's reachability is probed. */
const PEER_PROBE_INTERVAL_MS = 10_000;
/** A ping is answered without any work; one that takes this long counts as no answer. */
const PEER_PROBE_TIMEOUT_MS = 3_000;
/** How often a node with an undecided epoch asks its peers for the decision. */
const RECOVERY_INTERVAL_MS = 3000;

export async function startNode(cfg: NodeConfig, testHooks: NodeTestHooks = {}): Promise<RunningNode> {
  const party = cfg.party.index;
  const log = createLogger({ party, level: cfg.logLevel });
  const backend = arith.getBackend();
  if (!backend.constantTime && !(cfg.development?.enabled && cfg.development.allowVariableTimeArithmetic)) {
    throw new Error('E_BACKEND_UNAVAILABLE: the native constant-time arithmetic addon is not loaded; the variable-time BigInt backend is for development runs only');
  }
  await tightenState(cfg, log);
  const metrics = createMetrics({ party });
  const tracing = createTracing({ serviceName: 'vilna-mpc-sidecar', party, ...(cfg.otlpEndpoint ? { otlpEndpoint: cfg.otlpEndpoint } : {}) });
  let approvers = parseApproverSet(cfg.approvers);

  const vault = await metrics.hsm('pin')(() => openVault({ modulePath: cfg.hsm.module, tokenLabel: cfg.hsm.tokenLabel, pinFile: cfg.hsm.pinFile }));
  const closers: (() => Promise<void> | void)[] = [() => vault.close()];
  try {
    const identity = await metrics.hsm('keygen')(() => vault.ensureIdentityKey());
    const signer: protocols.Signer = { publicKey: identity, sign: (m) => metrics.hsm('sign')(() => vault.signIdentity(m)) };
    const audit = await AuditLog.open(path.join(cfg.party.stateDir, 'audit'), { party, signer });
    closers.push(() => audit.close());
    const auditAppend = (kind: string, data: Record<string, unknown>) => audit.append(kind, data as never);
    // Refused plans and denied requests: the first few of a caller's group in full, the rest
    // counted per window (audit/refusals.ts). Closed just before the log, below.
    const refusals = new RefusalCounter({ append: auditAppend, onError: (e) => log.warn({ err: e }, 'a counted refusal entry was not written') });
    // A caller that keeps being refused is answered 429 for a while (http/refusal-throttle.ts):
    // every refusal the log counts is charged to its caller.
    const throttle = new RefusalThrottle();
    const charged: RefusalSink = {
      refused: (kind, caller, group, detail) => {
        throttle.refused(caller);
        return refusals.refused(kind, caller, group, detail);
      },
    };
    // Throttled requests are counted too, by caller and listener, in bounded entries like any refusal.
    const throttled = (listener: ThrottledListener) => (caller: string): void => {
      metrics.requestThrottled(listener);
      void refusals.refused('request.throttled', caller, { listener }).catch(() => undefined);
    };
    const policy = new PolicyEnforcer(approvers);
    // Shards are sealed, read and removed under this gate; an approver change holds it alone.
    const blobGate = new WriteGate();
    const rotation = new ApproverRotation({
      vault,
      gate: blobGate,
      dir: path.join(cfg.party.stateDir, 'approvers'),
      blobsDir: path.join(cfg.party.stateDir, 'blobs'),
      audit: auditAppend,
      changed: (set) => {
        approvers = set;
        policy.setApprovers(set);
        log.info({ approvers: hex(approverSetHash(set)) }, 'approver set changed');
      },
      ...(testHooks.checkpoint ? { checkpoint: testHooks.checkpoint } : {}),
    });
    // An approver change a crash interrupted is finished first; the token's pin says which set rules.
    const resumed = await rotation.resume(approvers);
    if (resumed?.stale) log.warn({ approvers: hex(approverSetHash(resumed.approvers)) }, 'the configured approver set was replaced by an approved change; update the configuration');
    if (resumed) {
      approvers = resumed.approvers;
      policy.setApprovers(approvers);
    }
    await pinTrustAnchors(vault, approvers);

    const tls = {
      caPem: await readFile(cfg.tls.caFile, 'utf8'),
      certPem: await readFile(cfg.tls.certFile, 'utf8'),
      keyPem: await readFile(cfg.tls.keyFile, 'utf8'),
    };
    // Every peer request says which identity key stands behind this node's TLS certificate.
    const peerBinding = await createPeerBinding(signer, tls.certPem);
    const ownClient = createPeerClient(tls, { binding: peerBinding });
    const peers = testHooks.wrapPeerClient?.(ownClient) ?? ownClient;
    closers.push(() => peers.close());
    const transport = createPeerTransport({ signer, tls, maxBodyBytes: 4 << 20, client: peers, logger: log.child({ component: 'transport' }) });
    closers.push(() => transport.close());

    const keys = new KeyStateStore(path.join(cfg.party.stateDir, 'keys'), {
      onCorrupt: (e) => log.error({ keyId: e.keyId, file: e.file, code: e.code, err: e }, 'a key state file is corrupt: that key is out of service, the others keep working'),
    });
    // Read every state file now, so a corrupt one is named at start rather than at first use.
    await keys.list();
    const shards = new ShardStore(vault, path.join(cfg.party.stateDir, 'blobs'), party, SECURITY_LEVEL_128, blobGate);
    const readiness = new KeyReadinessChecker({
      keys,
      identityKey: hex(identity),
      load: (keyId, epoch) => shards.load(keyId, epoch),
      changed: (r) => (r.ready ? log.info(r, 'key ready again') : log.error(r, 'key cannot sign: its state or its sealed share is unusable')),
    });
    const runner = new SessionRunner(transport, signer, cfg.roundTimeoutMs, {
      trace: (event, data) => log.debug(data, event),
      observer: {
        sessionSpan: (protocol, sidHex, fn) => tracing.sessionSpan(protocol, sidHex, () => fn()),
        roundSpan: (round, fn) => tracing.roundSpan(round, () => fn()),
        roundTimer: (protocol, round) => metrics.roundTimer(protocol as MetricsProtocol, round),
      },
      ...(testHooks.wrapChannel ? { wrapChannel: testHooks.wrapChannel } : {}),
      ...(testHooks.wrapSession ? { wrapSession: testHooks.wrapSession } : {}),
      ended: (protocol, outcome, seconds, error) => {
        metrics.sessionEnded(protocol as MetricsProtocol, outcome, seconds);
        if (error instanceof protocols.ProtocolAbort) metrics.abort(protocol as MetricsProtocol, error.culprits);
        if (outcome !== 'ok') log.warn({ protocol, outcome, err: error }, 'session ended without a result');
      },
    });
    // Room for every party's sets of a key, each with `m` and its hot paths (hot-paths.ts).
    const pool = new PresignPool((keyId, n) => metrics.presignatures(keyId, n), Math.max(64, 8 * (cfg.presignPool.size + MAX_HOT_PATHS * cfg.presignPool.pathSize)));
    closers.push(() => pool.close());
    // Presigning's per-peer proofs on worker threads (cggmp/parallel), one per core unless configured.
    const proofWorkers = cfg.proofWorkers ?? parallel.defaultWorkerCount();
    const proofWork = proofWorkers > 0 ? parallel.workerPool({ size: proofWorkers }) : undefined;
    if (proofWork) closers.push(() => proofWork.close());
    // The sealed pool loads what the last run left (after the approver change above re-sealed it).
    const openPrimePool = async (): Promise<PrimePool> => {
      const primePool = await PrimePool.open({
        vault,
        dir: path.join(cfg.party.stateDir, 'blobs', PRIME_POOL_KEY_ID),
        party,
        bits: primeBits(SECURITY_LEVEL_128),
        target: PRIME_POOL_TARGET,
        gate: blobGate,
        log: log.child({ component: 'prime-pool' }),
        observer: { available: (n) => metrics.primesAvailable(n), generated: () => metrics.primeGenerated(), taken: (source) => metrics.primeTaken(source) },
        ...(testHooks.checkpoint ? { checkpoint: testHooks.checkpoint } : {}),
        ...(testHooks.generatePrime ? { generate: testHooks.generatePrime } : {}),
      });
      closers.push(() => primePool.close());
      primePool.fill();
      return primePool;
    };
    const primes = cfg.development?.enabled && cfg.development.primesFile
      ? await fixturePrimes(cfg.development.primesFile, party, FIXTURE_PRIMES_PER_PARTY)
      : await openPrimePool();

    // Audit heads go to the other parties of every key after sessions and on a timer, and theirs
    // are recorded here, so that a cut tail shows (node/audit-anchors.ts).
    const anchors = new AuditAnchors({
      audit,
      identityKey: hex(identity),
      peers: async () => {
        const byKey = new Map<string, string>();
        for (const k of await keys.list()) for (const p of k.current?.parties ?? []) if (p.identityKey !== hex(identity)) byKey.set(p.identityKey, p.endpoint);
        return [...byKey].map(([identityKey, endpoint]) => ({ identityKey, endpoint }));
      },
      isPeer: async (id) => (await keys.list()).some((k) => k.current?.parties.some((x) => x.identityKey === id)),
      send: (endpoint, body, opts) => callPeer(peers, endpoint, '/v1/peer/control/audit/heads', body, opts),
      log: log.child({ component: 'audit-anchors' }),
    });
    const scheduleAnchors = (): void => anchors.schedule();

    // Signer sets that keep aborting with nobody named are routed around (signer-sets.ts).
    const signerSets = new SignerSets({
      events: {
        unattributed: (keyId, signers, protocol) => metrics.unattributedAbort(keyId, signers, protocol),
        quarantined: (keyId, signers, until, strikes) =>
          log.warn({ keyId, signers: signerSetLabel(signers), until: new Date(until).toISOString(), strikes }, 'signer set quarantined after repeated unattributed aborts'),
        switched: (keyId, from, to, reason) => {
          metrics.signerSetSwitch(keyId, reason);
          log.warn({ keyId, from: signerSetLabel(from), to: signerSetLabel(to), reason }, 'signer set switched');
        },
      },
    });
    metrics.signerSetsQuarantined(() => signerSets.quarantinedCounts());
    // Co-signers that gave no answer, or that the probe cannot reach, are left out of signer sets
    // for a while (peer-health.ts); a change may move the refill to another set.
    let refillAll = (): void => undefined;
    const health = new PeerHealth({
      events: {
        excluded: (peer, reason, until) => {
          metrics.peerNoAnswer(peer, reason);
          log.warn({ peer, reason, until: new Date(until).toISOString() }, 'co-signer gave no answer; left out of signer sets for a while');
        },
        changed: () => refillAll(),
      },
      ping: async (peer) => {
        const up = await peers.request(peer.endpoint, '/v1/peer/control/ping', undefined, { method: 'GET', retries: 0, timeoutMs: PEER_PROBE_TIMEOUT_MS }).then((r) => r.status === 200, () => false);
        metrics.peerReachable(peer.index, up);
        return up;
      },
    });
    const holdersOf = (cur: NonNullable<KeyState['current']>) => ({ parties: cur.parties.map((p) => p.index), threshold: cur.threshold });
    let prepareRefusalLoggedAt = 0;
    let prepareRefusalsUnlogged = 0;
    const presigner = new Presigner({
      identityKey: identity,
      signer,
      keys,
      shards,
      runner,
      pool,
      peers,
      signerSets,
      health,
      nonceTtlMs: cfg.roundTimeoutMs,
      ...(proofWork ? { work: proofWork } : {}),
      ...(testHooks.checkpoint ? { checkpoint: testHooks.checkpoint } : {}),
      prepareRefused: (reason) => {
        metrics.presignPrepareRefused(reason);
        // A flood of prepares must not become a flood of log lines: one warning a minute.
        const now = Date.now();
        prepareRefusalsUnlogged++;
        if (now - prepareRefusalLoggedAt < 60_000) return;
        log.warn({ reason, count: prepareRefusalsUnlogged }, 'presign prepares over a caller\'s budget: a party prepares without starting');
        prepareRefusalLoggedAt = now;
        prepareRefusalsUnlogged = 0;
      },
    });
    // Derived paths that get presignatures waiting too: named by the policy, or signed for lately.
    const hotPaths = new HotPaths();
    const refill = new Map<string, Promise<void>>();
    let stopping = false;
    closers.push(() => void (stopping = true));
    const refillKey = (keyId: string): void => {
      if (refill.has(keyId) || cfg.presignPool.size === 0) return;
      const run = (async () => {
        for (;;) {
          const state = await keys.get(keyId);
          const cur = state?.current;
          const self = cur?.parties.find((p) => p.identityKey === hex(identity))?.index;
          if (!cur || self === undefined) return;
          const signers = signerSets.choose(keyId, holdersOf(cur), self, { unavailable: health.unavailable(cur.parties) });
          // `m` first, then each hot derived path (hot-paths.ts), one presignature at a time.
          const wanted = [{ path: 'm', size: cfg.presignPool.size }, ...hotPaths.hot(keyId, PolicyEnforcer.policyOf(state)).map((path) => ({ path, size: cfg.presignPool.pathSize }))];
          const next = wanted.find((w) => pool.count(keyId, cur.epoch, signers, w.path) < w.size);
          if (!next) return;
          await presigner.run({ keyId, epoch: cur.epoch, signers, derivationPath: next.path });
        }
      })().then(
        () => false,
        async (e: unknown) => {
          log.warn({ keyId, err: e }, 'presignature refill failed; retrying later');
          // With every signer set quarantined, nothing can be refilled before the first is released.
          const wait = e instanceof SignersUnavailable && e.retryAt !== undefined ? Math.max(REFILL_RETRY_MS, e.retryAt - Date.now()) : REFILL_RETRY_MS;
          await new Promise((r) => setTimeout(r, wait).unref());
          return true;
        },
      ).then((retry) => {
        refill.delete(keyId);
        if (retry && !stopping) refillKey(keyId);
      });
      refill.set(keyId, run);
    };
    refillAll = () => {
      if (stopping) return;
      void keys.list().then((all) => all.forEach((k) => k.current && refillKey(k.keyId)), () => undefined);
    };

    // After signatures, refilling waits for a lull: presigning is CPU-heavy and would otherwise
    // compete with the online rounds of requests still arriving.
    const refillTimers = new Map<string, NodeJS.Timeout>();
    const scheduleRefill = (keyId: string): void => {
      clearTimeout(refillTimers.get(keyId));
      const t = setTimeout(() => {
        refillTimers.delete(keyId);
        refillKey(keyId);
      }, REFILL_LULL_MS);
      t.unref();
      refillTimers.set(keyId, t);
    };
    closers.push(() => refillTimers.forEach((t) => clearTimeout(t)));

    const verifyOwn = (plan: unknown, approvals: unknown, current: KeyState | undefined, options: { allowExpired?: boolean } = {}): VerifiedPlan => {
      const v = verifyPlan(plan, approvals, {
        approvers,
        self: { identityKey: identity },
        now: new Date(),
        ...(options.allowExpired === true ? { allowExpired: true } : {}),
        ...(current?.current ? { current: { keyId: current.keyId, epoch: current.current.epoch, threshold: current.current.threshold, parties: current.current.parties } } : {}),
      });
      return { plan: v.plan as PlanView, planHash: v.hash };
    };

    const participant = new PlanParticipant({
      identityKey: identity,
      signer,
      keys,
      shards,
      runner,
      primes,
      peers,
      decisionsDir: path.join(cfg.party.stateDir, 'decisions'),
      ...(testHooks.checkpoint ? { checkpoint: testHooks.checkpoint } : {}),
      audit: { append: auditAppend },
      refusals: charged,
      verify: verifyOwn,
      epochChanged: (keyId) => {
        pool.dropKey(keyId);
        readiness.invalidate(keyId);
        void keys.get(keyId).then((s) => s?.current && metrics.epoch(keyId, s.current.epoch));
        scheduleAnchors();
        refillKey(keyId);
      },
    });
    const signing = new SigningService({
      identityKey: identity,
      keys,
      pool,
      presigner,
      peers,
      policy,
      signerSets,
      refusals: charged,
      health,
      ...(testHooks.checkpoint ? { checkpoint: testHooks.checkpoint } : {}),
      hooks: {
        signed: (keyId, seconds) => metrics.signature(keyId, 'ok', seconds),
        failover: (keyId, reason, from, to, peer) => {
          metrics.signerFailover(keyId, reason);
          log.warn({ keyId, reason, peer, from: signerSetLabel(from), to: signerSetLabel(to) }, 'co-signer gave no answer mid-request; retrying once with another signer set');
        },
        failed: (keyId, outcome) => metrics.signature(keyId, outcome),
        requested: (keyId, derivationPath) => hotPaths.requested(keyId, derivationPath),
        pool: (keyId, result) => metrics.presignPoolLookup(keyId, result),
        denied: (keyId, rule) => metrics.policyDenied(keyId, rule as never),
        audit: async (kind, data) => {
          await auditAppend(kind, data);
          scheduleAnchors();
          const keyId = typeof data.keyId === 'string' ? data.keyId : undefined;
          if (keyId && kind === 'signature') scheduleRefill(keyId);
        },
      },
    });
    const coordinator = new Coordinator({
      dir: path.join(cfg.party.stateDir, 'coordinator'),
      identityKey: identity,
      sign: (m) => Promise.resolve(signer.sign(m)),
      peers,
      planHash: (plan) => planHashHex(plan as never),
      verify: async (plan, approvals) => {
        const keyId = (plan as { keyId?: unknown }).keyId;
        verifyOwn(plan, approvals, typeof keyId === 'string' ? await keys.get(keyId) : undefined);
      },
      ...(testHooks.checkpoint ? { checkpoint: testHooks.checkpoint } : {}),
      audit: auditAppend,
      testSignature: async (keyId, epoch) => {
        const state = await keys.get(keyId);
        if (!state?.current || state.current.epoch !== epoch) throw new Error(`key ${keyId} is not at epoch ${epoch} here`);
        const message = epochTestMessage(keyId, epoch, state.current.planHash);
        const sig = await signing.sign(keyId, { requestId: `${EPOCH_TEST_PREFIX}${keyId}:${epoch}`, message, encoding: 'utf8', hash: 'sha256', derivationPath: EPOCH_TEST_PATH });
        return { r: sig.r, s: sig.s };
      },
    });

    const background = (what: string, p: Promise<unknown>): void => {
      p.catch((e: unknown) => log.warn({ what, err: e }, 'background task failed'));
    };

    const authorizer = new PeerAuthorizer({
      keys,
      acceptedPlan: (planHash) => participant.acceptedPlan(planHash),
      acceptedPlansOf: (keyId) => participant.acceptedPlansOf(keyId),
      coordinatedPlan: async (planHash) => (await coordinator.record(planHash))?.plan,
      verify: verifyOwn,
    });
    const peerApp = express();
    peerApp.disable('x-powered-by');
    peerApp.use('/v1/peer/transport', transport.router);
    peerApp.use(
      '/v1/peer/control',
      express.json({ limit: 4 << 20 }),
      peerControlRouter({
        participant,
        coordinator,
        presigner,
        signing,
        rotation,
        authorizer,
        throttle,
        throttled: throttled('peer'),
        refused: (endpoint, e, caller) => {
          metrics.peerRefused(endpoint, e.reason);
          // The caller's identity key is public; the binding header itself is not logged.
          log.warn({ endpoint, code: e.code, reason: e.reason, ...(caller !== undefined ? { caller } : {}) }, 'refused a peer control call');
        },
        nodeStatus: async () => {
          let hsm: { state: 'Healthy' | 'Unavailable'; message?: string };
          let approvers: string | null = null;
          try {
            const pin = await vault.approverPin();
            approvers = pin ? hex(pin.hash) : null;
            hsm = { state: 'Healthy' };
          } catch (e) {
            hsm = { state: 'Unavailable', message: (e as { code?: string }).code ?? 'E_HSM_UNAVAILABLE' };
          }
          // Public values only: key ids, epochs, thresholds and public keys, never share material.
          const held = (await keys.list()).filter((k) => k.current).map((k) => ({
            keyId: k.keyId,
            epoch: k.current!.epoch,
            threshold: k.current!.threshold,
            publicKey: k.current!.publicKey,
            index: k.current!.parties.find((p) => p.identityKey === hex(identity))?.index,
          }));
          return { identityKey: hex(identity), approvers, hsm, keys: held };
        },
        // Recorded under the head's own party number (the sender's deployment number), which the
        // audit log checks against the signature of the sender's pinned identity key.
        recordPeerHead: (body) => anchors.receive(body),
      }),
    );
    peerApp.use(errorHandler);

    const apiApp = express();
    apiApp.disable('x-powered-by');
    apiApp.use(
      '/v1',
      express.json({ limit: cfg.api.maxBodyBytes }),
      apiRouter({
        clients: { tokens: cfg.api.clients, certificateNames: cfg.api.clientCertificateNames },
        keys,
        signing,
        readyPresignatures: (state) => {
          const cur = state.current;
          const self = cur?.parties.find((p) => p.identityKey === hex(identity))?.index;
          if (!cur || self === undefined) return {};
          try {
            return pool.countsByPath(state.keyId, cur.epoch, signerSets.choose(state.keyId, holdersOf(cur), self, { unavailable: health.unavailable(cur.parties), peek: true }));
          } catch {
            return {}; // no signer set can sign now: nothing waits for a request
          }
        },
        // Not tied to a key: the request never got that far.
        clientDenied: () => metrics.policyDenied('any', 'client'),
        throttle,
        throttled: throttled('api'),
        health: async () => {
          let pin: Awaited<ReturnType<typeof vault.approverPin>>;
          try {
            pin = await vault.approverPin();
          } catch {
            return { ok: false, live: false, party, identityKey: hex(identity), hsm: 'unavailable' };
          }
          // Per key: can it sign now (state parses, share unseals)? `ok` only when every one can;
          // the process itself is live (HTTP 200) while the HSM answers, so one broken key does
          // not get the whole party restarted by its liveness probe.
          const held = await readiness.report();
          // The pinned approver-set hash (public): lets an operator confirm a change reached every party.
          return { ok: held.every((k) => k.ready), live: true, party, identityKey: hex(identity), approvers: pin ? hex(pin.hash) : null, keys: held };
        },
      }),
    );
    apiApp.use(errorHandler);

    const peerServer = createHttpsServer(peerServerOptions(tls), peerApp);
    peerServer.keepAliveTimeout = PEER_KEEPALIVE_TIMEOUT_MS;
    const apiServer = createHttpsServer({ key: tls.keyPem, cert: tls.certPem, ca: tls.caPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, apiApp);
    const peerUrl = await listen(peerServer, cfg.listen.peer.host, cfg.listen.peer.port);
    closers.push(() => new Promise<void>((r) => peerServer.close(() => r())));
    peerServer.closeIdleConnections?.();
    const apiUrl = await listen(apiServer, cfg.listen.api.host, cfg.listen.api.port);
    closers.push(() => new Promise<void>((r) => apiServer.close(() => r())));
    let metricsUrl: string | undefined;
    if (cfg.listen.metrics) {
      const m = await createMetricsServer({ host: cfg.listen.metrics.host, port: cfg.listen.metrics.port }, metrics);
      metricsUrl = m.url;
      closers.push(() => m.close());
    }
    closers.push(() => tracing.shutdown());

    for (const k of await keys.list()) if (k.current) metrics.epoch(k.keyId, k.current.epoch);
    // After a crash — its own or a coordinator's — an undecided epoch is learnt from the peers.
    let recovering = false;
    const recovery = setInterval(() => {
      if (recovering) return; // one round at a time, however slow the peers answer
      recovering = true;
      void keys.list()
        .then((all) => (all.some((k) => k.pending || k.aborted.length > 0) ? participant.recoverPending() : []))
        .catch(() => undefined)
        .finally(() => (recovering = false));
    }, RECOVERY_INTERVAL_MS);
    recovery.unref();
    closers.push(() => clearInterval(recovery));
    background('recover', participant.recoverPending());
    // Peer reachability, by the peers' identity keys in this node's keys (reported under their
    // party numbers); it also decides which co-signers signing may ask (peer-health.ts).
    let lastUnavailable = '';
    const probe = setInterval(() => {
      void (async () => {
        const peersById = new Map<string, { index: number; identityKey: string; endpoint: string }>();
        for (const k of await keys.list()) for (const p of k.current?.parties ?? []) if (p.identityKey !== hex(identity)) peersById.set(p.identityKey, p);
        await Promise.all([...peersById.values()].map((peer) => health.probe(peer)));
        // An exclusion that ran out by itself changes the choice too.
        const now = JSON.stringify([...health.snapshot()]);
        if (now !== lastUnavailable) refillAll();
        lastUnavailable = now;
      })().catch(() => undefined);
    }, PEER_PROBE_INTERVAL_MS);
    probe.unref();
    closers.push(() => clearInterval(probe));
    // Awaited: the statuses of resumed plans must be answerable once the node reports ready
    // (finishing them runs in the background).
    await coordinator.resume();
    for (const k of await keys.list()) if (k.current) refillKey(k.keyId);
    await audit.append('node.start', { party, identityKey: hex(identity), peerUrl, apiUrl });
    anchors.start();
    // Closers run in reverse: this one first, while the listeners still serve. Heads not yet
    // sent go to the peers, so that the log's tail is anchored before the node stops.
    closers.push(() => anchors.close());
    // Runs before the one above: the pending counts are written, then anchored.
    closers.push(() => refusals.close());
    log.info({ peerUrl, apiUrl, metricsUrl, identityKey: hex(identity), proofWorkers }, 'node started');

    return {
      identityKey: hex(identity),
      peerBinding,
      peerUrl,
      apiUrl,
      metricsUrl,
      async close() {
        for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
      },
    };
  } catch (e) {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw e;
  }
}
