/**
 * Party nodes as local processes (DESIGN §8 `demo`, §6 e2e): a development CA, development
 * approver keys, one SoftHSM token and state directory per party, one `vilna-mpc sidecar` process
 * per party on loopback, and the calls an operator makes (plans, approvals, ceremonies) and a
 * client makes (signatures). Used by `vilna-mpc demo` and by the end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { approverPublicKeyHex, planHashHex, signApproval, type Approval, type Plan } from '../api/index.ts';
import type { SignatureRequest, SignatureResponse } from '../api/signing.ts';
import { provisionToken, type ProvisionedToken } from '../hsm-sim/index.ts';
import { makePrivateDir, openPrivateFile, writePrivateFile } from '../sidecar/file-modes.ts';
import { createDevelopmentCa, createPeerClient, issueCertificate, type PeerClient } from '../sidecar/transport/index.ts';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.ts');
const READY_TIMEOUT_MS = 90_000;
const POLL_MS = 250;

export interface Ready {
  readonly identityKey: string;
  /** The node's TLS binding (sidecar/transport/peer-binding.ts), for calls made as this party. */
  readonly peerBinding: string;
  readonly peerUrl: string;
  readonly apiUrl: string;
  readonly metricsUrl: string | null;
  readonly pid: number;
}

export interface LocalParty {
  readonly index: number;
  readonly dir: string;
  readonly configFile: string;
  readonly readyFile: string;
  readonly logFile: string;
  readonly token: ProvisionedToken;
  readonly ports: { readonly peer: number; readonly api: number; readonly metrics: number };
  proc: ChildProcess | undefined;
  ready: Ready | undefined;
  /** Resolves with the exit code or signal of the current process. */
  exited?: Promise<number | string | null>;
}

export interface LocalClusterOptions {
  readonly dir: string;
  readonly parties: number;
  /** Development only: fixture primes file. */
  readonly primesFile?: string;
  readonly presignPoolSize?: number;
  readonly approvers?: number;
  readonly quorum?: number;
  readonly roundTimeoutMs?: number;
  readonly logLevel?: 'info' | 'debug';
  /** Extra environment for every node process. */
  readonly env?: Record<string, string>;
  /** Extra arguments before `sidecar` (a test-only entry point uses this). */
  readonly entry?: { readonly script: string; readonly args?: (party: number) => readonly string[] };
  /**
   * The peer endpoint plans name for party `index`, when others must dial something other than
   * the address it listens on (a proxy in front of it: the WAN test layer). Asked each time a
   * plan is made; undefined keeps the node's own `peerUrl`. The cluster's own calls (ceremonies,
   * control) still go to the node directly.
   */
  readonly advertisedPeerUrl?: (index: number) => string | undefined;
}

/** The demo's signing policy: every non-hardened path up to depth 4, no limits, no per-request approvals. */
export const DEVELOPMENT_POLICY = { version: 1, allowedPaths: ['m', 'm/*', 'm/*/*', 'm/*/*/*', 'm/*/*/*/*'] } as const;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export class CeremonyFailed extends Error {
  readonly status: unknown;
  constructor(message: string, status: unknown) {
    super(message);
    this.status = status;
  }
}

export class LocalCluster {
  readonly dir: string;
  readonly parties: LocalParty[];
  readonly client: PeerClient;
  readonly approverKeys: readonly string[];
  readonly quorum: number;
  readonly #apiToken: string;
  readonly #opts: LocalClusterOptions;

  private constructor(opts: LocalClusterOptions, parties: LocalParty[], client: PeerClient, approverKeys: string[], quorum: number, apiToken: string) {
    this.dir = opts.dir;
    this.parties = parties;
    this.client = client;
    this.approverKeys = approverKeys;
    this.quorum = quorum;
    this.#apiToken = apiToken;
    this.#opts = opts;
  }

  static async create(opts: LocalClusterOptions): Promise<LocalCluster> {
    // Everything under the state directory is 0600 and every directory 0700, set explicitly
    // (sidecar/file-modes.ts): certificates and the configuration too, since nobody else needs them.
    const dir = path.resolve(opts.dir);
    await makePrivateDir(dir);
    const pki = path.join(dir, 'pki');
    await makePrivateDir(pki);
    const ca = await createDevelopmentCa({ commonName: 'vilna-mpc development CA' });
    await writePrivateFile(path.join(pki, 'ca.pem'), ca.certPem);
    const clientCert = await issueCertificate(ca, { commonName: 'vilna-local-operator', ipAddresses: ['127.0.0.1'], dnsNames: [] });
    const client = createPeerClient({ caPem: ca.certPem, certPem: clientCert.certPem, keyPem: clientCert.keyPem });

    const approverCount = opts.approvers ?? 3;
    const quorum = opts.quorum ?? 2;
    const approverKeys: string[] = [];
    const approverPublic: string[] = [];
    for (let i = 1; i <= approverCount; i++) {
      const { privateKey } = generateKeyPairSync('ed25519');
      const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      const file = path.join(pki, `approver-${i}.pem`);
      await writePrivateFile(file, pem);
      approverKeys.push(pem);
      approverPublic.push(approverPublicKeyHex(pem));
    }
    const apiToken = randomBytes(32).toString('hex');
    const tokenSha256 = createHash('sha256').update(apiToken).digest('hex');

    const parties: LocalParty[] = [];
    for (let index = 1; index <= opts.parties; index++) {
      const pdir = path.join(dir, `party-${index}`);
      await makePrivateDir(pdir);
      const token = await provisionToken({ stateDir: pdir, label: `vilna-party-${index}` });
      const cert = await issueCertificate(ca, { commonName: `party-${index}`, ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
      const tlsDir = path.join(pdir, 'tls');
      await makePrivateDir(tlsDir);
      await writePrivateFile(path.join(tlsDir, 'cert.pem'), cert.certPem);
      await writePrivateFile(path.join(tlsDir, 'key.pem'), cert.keyPem);
      const ports = { peer: await freePort(), api: await freePort(), metrics: await freePort() };
      const config = {
        party: { name: `party-${index}`, index, stateDir: pdir },
        hsm: { module: token.modulePath, tokenLabel: token.label, pinFile: token.pinFile },
        approvers: { keys: [...approverPublic].sort(), quorum },
        tls: { caFile: path.join(pki, 'ca.pem'), certFile: path.join(tlsDir, 'cert.pem'), keyFile: path.join(tlsDir, 'key.pem') },
        listen: { peer: { host: '127.0.0.1', port: ports.peer }, api: { host: '127.0.0.1', port: ports.api }, metrics: { host: '127.0.0.1', port: ports.metrics } },
        api: { clients: [{ name: 'local-client', tokenSha256 }] },
        presignPool: { size: opts.presignPoolSize ?? 1 },
        roundTimeoutMs: opts.roundTimeoutMs ?? 120_000,
        logLevel: opts.logLevel ?? 'info',
        ...(opts.primesFile ? { development: { enabled: true, primesFile: path.resolve(opts.primesFile) } } : {}),
      };
      const configFile = path.join(pdir, 'config.yaml');
      await writePrivateFile(configFile, toYaml(config));
      parties.push({ index, dir: pdir, configFile, readyFile: path.join(pdir, 'ready.json'), logFile: path.join(pdir, 'sidecar.log'), token, ports, proc: undefined, ready: undefined });
    }
    return new LocalCluster({ ...opts, dir }, parties, client, approverKeys, quorum, apiToken);
  }

  party(index: number): LocalParty {
    const p = this.parties[index - 1];
    if (!p) throw new Error(`no party ${index}`);
    return p;
  }

  /** Starts party `index`'s node process and waits until it listens. */
  async start(index: number, opts: { env?: Record<string, string> } = {}): Promise<Ready> {
    const p = this.party(index);
    await rm(p.readyFile, { force: true });
    const log = (await openPrivateFile(p.logFile, 'a')).createWriteStream();
    const entry = this.#opts.entry;
    const args = entry ? [entry.script, ...(entry.args?.(index) ?? [])] : [MAIN];
    const proc = spawn(process.execPath, [...args, 'sidecar', '--config', p.configFile, '--ready-file', p.readyFile], {
      env: { ...process.env, ...this.#opts.env, ...opts.env, SOFTHSM2_CONF: p.token.conf },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.pipe(log, { end: false });
    proc.stderr?.pipe(log, { end: false });
    // 'close' comes after both pipes are drained.
    proc.once('close', () => log.end());
    p.proc = proc;
    p.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));
    let exited: number | string | null | undefined;
    proc.once('exit', (code, signal) => {
      exited = code ?? signal;
      if (p.proc === proc) p.proc = undefined;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!existsSync(p.readyFile)) {
      if (exited !== undefined) throw new Error(`party ${index} exited (${exited}) before it was ready: ${(await this.logTail(index)).trim()}`);
      if (Date.now() > deadline) throw new Error(`party ${index} was not ready within ${READY_TIMEOUT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    p.ready = JSON.parse(await readFile(p.readyFile, 'utf8')) as Ready;
    return p.ready;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.parties.map((p) => this.start(p.index)));
  }

  async logTail(index: number, lines = 20): Promise<string> {
    try {
      return (await readFile(this.party(index).logFile, 'utf8')).split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Stops a node: SIGTERM (graceful) or SIGKILL (a crash). */
  async stop(index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.party(index);
    const proc = p.proc;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill(signal);
    });
    p.proc = undefined;
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all(this.parties.map((p) => this.stop(p.index, signal)));
    this.client.close();
    for (const c of this.#asParty.values()) c.close();
    this.#asParty.clear();
  }

  readonly #asParty = new Map<number, PeerClient>();

  /**
   * A peer client that calls as party `index` does: its own certificate and its TLS binding.
   * `client` (the operator's certificate, no identity key) may call only what the operator
   * calls; control calls reserved to the parties of a key or plan need this one.
   */
  async asParty(index: number): Promise<PeerClient> {
    const known = this.#asParty.get(index);
    if (known) return known;
    const p = this.party(index);
    if (!p.ready) throw new Error(`party ${index} is not running`);
    const tls = { caPem: await this.caPem(), certPem: await readFile(path.join(p.dir, 'tls', 'cert.pem'), 'utf8'), keyPem: await readFile(path.join(p.dir, 'tls', 'key.pem'), 'utf8') };
    const client = createPeerClient(tls, { binding: p.ready.peerBinding });
    this.#asParty.set(index, client);
    return client;
  }

  /**
   * A plan over `members` (default: every party) with this cluster's endpoints and identities; a
   * reshare also names the previous holders and the dealers among them. Party numbers are the
   * cluster's, which stay the same across plans as a key's party numbers must.
   */
  plan(fields: {
    protocol: Plan['protocol'];
    keyId: string;
    epoch: number;
    threshold: number;
    members?: readonly number[];
    previous?: { readonly threshold: number; readonly members: readonly number[]; readonly dealers: readonly number[] };
    policy?: unknown;
  }): Plan {
    const entry = (i: number) => {
      const r = this.party(i).ready;
      if (!r) throw new Error(`party ${i} is not running`);
      return { index: i, name: `party-${i}`, identityKey: r.identityKey, endpoint: this.#opts.advertisedPeerUrl?.(i) ?? r.peerUrl };
    };
    const members = fields.members ?? this.parties.map((p) => p.index);
    const prev = fields.previous;
    return {
      version: 1,
      protocol: fields.protocol,
      keyId: fields.keyId,
      epoch: fields.epoch,
      threshold: fields.threshold,
      parties: members.map(entry),
      ...(prev ? { previous: { epoch: fields.epoch - 1, threshold: prev.threshold, parties: prev.members.map(entry), dealers: [...prev.dealers] } } : {}),
      ...(fields.policy !== undefined ? { policy: fields.policy } : {}),
      expiresAt: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      nonce: randomBytes(32).toString('hex'),
    } as Plan;
  }

  /**
   * Approves and applies a signing policy for a key (a key signs nothing before one): by default
   * every non-hardened path up to depth 4, no rate limit, no per-request approvals.
   */
  async approvePolicy(coordinator: number, keyId: string, epoch: number, policy: unknown = DEVELOPMENT_POLICY): Promise<void> {
    const held = await this.#holders(coordinator, keyId);
    const plan = this.plan({ protocol: 'policy', keyId, epoch, threshold: held.threshold, members: held.parties, policy });
    await this.ceremony(coordinator, plan, this.approve(plan));
  }

  /** The key's threshold and holders, as party `index` reports them. */
  async #holders(index: number, keyId: string): Promise<{ threshold: number; parties: number[] }> {
    const res = await this.getKey(index, keyId);
    if (res.status !== 200) throw new Error(`party ${index} does not know key ${keyId}`);
    const body = res.body as { threshold: number; parties: { index: number }[] };
    return { threshold: body.threshold, parties: body.parties.map((p) => p.index) };
  }

  /** Approvals from the first `count` development approvers (default: the quorum). */
  approve(plan: Plan, count = this.quorum): Approval[] {
    const hash = planHashHex(plan);
    return this.approverKeys.slice(0, count).map((k) => signApproval(hash, k));
  }

  /** Hands a plan to one node to coordinate; returns its plan hash at once. */
  async startCeremony(coordinator: number, plan: Plan, approvals: readonly Approval[]): Promise<string> {
    const endpoint = this.party(coordinator).ready!.peerUrl;
    return (await this.#call<{ planHash: string }>(endpoint, '/v1/peer/control/ceremonies', { plan, approvals })).planHash;
  }

  /** Waits until the coordinator reports the plan done (throws CeremonyFailed when it aborted). */
  async waitCeremony(coordinator: number, planHash: string, timeoutMs = 15 * 60_000): Promise<{ planHash: string; result?: { publicKey: string; xpub: string; epoch: number }; timingsMs: Record<string, number> }> {
    const endpoint = this.party(coordinator).ready!.peerUrl;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.#call<{ phase: string; keyId: string; protocol: string; result?: { publicKey: string; xpub: string; epoch: number }; error?: unknown; timingsMs: Record<string, number> }>(
        endpoint, `/v1/peer/control/ceremonies/${planHash}`, undefined, 'GET',
      );
      if (s.phase === 'done') return { planHash, ...(s.result ? { result: s.result } : {}), timingsMs: s.timingsMs };
      if (s.phase === 'aborted') throw new CeremonyFailed(`${s.protocol} of ${s.keyId} aborted: ${JSON.stringify(s.error)}`, s);
      if (Date.now() > deadline) throw new CeremonyFailed(`${s.protocol} of ${s.keyId} did not finish in time (phase ${s.phase})`, s);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Hands a plan to one node to coordinate, and waits until it is done (or failed). */
  async ceremony(coordinator: number, plan: Plan, approvals: readonly Approval[], timeoutMs = 15 * 60_000): Promise<{ planHash: string; result?: { publicKey: string; xpub: string; epoch: number }; timingsMs: Record<string, number> }> {
    return this.waitCeremony(coordinator, await this.startCeremony(coordinator, plan, approvals), timeoutMs);
  }

  /**
   * Hands an approver change to each listed party (default: all); each checks and applies it
   * itself. A party that cannot be reached is reported with status 0.
   */
  async changeApprovers(change: unknown, approvals: readonly Approval[], parties: readonly number[] = this.parties.map((p) => p.index)): Promise<{ index: number; status: number; body: unknown }[]> {
    return Promise.all(
      parties.map(async (index) => {
        try {
          const res = await this.client.request(this.party(index).ready!.peerUrl, '/v1/peer/control/approvers', { change, approvals }, { method: 'POST', timeoutMs: 60_000, retries: 0 });
          return { index, status: res.status, body: res.body };
        } catch (e) {
          return { index, status: 0, body: { error: { code: (e as { code?: string }).code ?? 'E_PEER_UNREACHABLE', message: (e as Error).message } } }; // the party is down
        }
      }),
    );
  }

  /** Party `index`'s health answer (public: identity key, pinned approver-set hash). */
  async health(index: number): Promise<{ status: number; body: { ok: boolean; approvers?: string | null; identityKey?: string } }> {
    const ready = this.party(index).ready!;
    return (await fetchJson(`${ready.apiUrl}/v1/health`, { method: 'GET', caPem: await this.caPem() })) as never;
  }

  async #call<T>(endpoint: string, p: string, body: unknown, method = 'POST'): Promise<T> {
    const res = await this.client.request(endpoint, p, body, { method, timeoutMs: 30_000 });
    if (res.status >= 300) throw new CeremonyFailed(`${method} ${p}: ${res.status} ${JSON.stringify(res.body)}`, res.body);
    return res.body as T;
  }

  /** A client's signing request to party `index`'s API (bearer token). */
  async sign(index: number, keyId: string, req: SignatureRequest, opts: { token?: string } = {}): Promise<{ status: number; body: SignatureResponse | { error: { code: string; message: string; rule?: string } } }> {
    const ready = this.party(index).ready!;
    const res = await fetchJson(`${ready.apiUrl}/v1/keys/${keyId}/signatures`, { method: 'POST', token: opts.token ?? this.#apiToken, body: req, caPem: await this.caPem() });
    return res as never;
  }

  async getKey(index: number, keyId: string): Promise<{ status: number; body: unknown }> {
    const ready = this.party(index).ready!;
    return fetchJson(`${ready.apiUrl}/v1/keys/${keyId}`, { method: 'GET', token: this.#apiToken, caPem: await this.caPem() });
  }

  #ca: string | undefined;
  async caPem(): Promise<string> {
    this.#ca ??= await readFile(path.join(this.dir, 'pki', 'ca.pem'), 'utf8');
    return this.#ca;
  }
}

/** A JSON request over HTTPS trusting only the development CA. */
export async function fetchJson(url: string, opts: { method: string; token?: string; body?: unknown; caPem: string }): Promise<{ status: number; body: unknown }> {
  const { request } = await import('node:https');
  const u = new URL(url);
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: opts.method,
        ca: opts.caPem,
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        },
        timeout: 600_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    if (payload) req.write(payload);
    req.end();
  });
}
