/**
 * A Toxiproxy server for tests and benches, driven through its HTTP API (Toxiproxy v2 README,
 * "HTTP API"): a TCP proxy per link on loopback whose traffic can be delayed, throttled, cut or
 * reset. The server is the pinned build of scripts/toxiproxy.mjs (built on first use).
 *
 *   const tp = await ToxiproxyServer.start();
 *   const link = await tp.createProxy('party-1', { host: '127.0.0.1', port: 8443 });
 *   await link.addToxic({ type: 'latency', latency: 50, jitter: 5 }, { stream: 'downstream' });
 *   await link.addToxic({ type: 'reset_peer', timeout: 0 }, { toxicity: 0.2 });
 *   // ... dial link.url('https') instead of https://127.0.0.1:8443 ...
 *   await link.disable(); await link.enable();   // cut every connection, then restore
 *   await tp.stop();
 *
 * Semantics worth knowing (Toxiproxy's, not ours):
 *  - `stream` is the direction a toxic acts on: `upstream` is client → server (requests),
 *    `downstream` server → client (answers). A round trip crosses a proxy once each way, so a
 *    link of RTT r has `latency` r/2 on both streams.
 *  - `toxicity` (0..1) is drawn per connection and direction: when the connection is made, and
 *    again when the toxic is added or updated. With kept-alive connections a toxicity below 1
 *    hits some connections for their whole life and spares the others.
 *  - `reset_peer` closes the connection with a TCP RST `timeout` ms after data first arrives on
 *    the stream (0: at once); `timeout` (the toxic) stops all data and closes after `timeout` ms
 *    (0: never closes, the connection just hangs).
 *  - Disabling a proxy closes every connection through it and stops listening until enabled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { ensureToxiproxy } from '../../scripts/toxiproxy.mjs';

/** How long `start` waits for the API to answer. */
const START_TIMEOUT_MS = 30_000;
const POLL_MS = 50;
/** Each API call; the server answers locally in milliseconds. */
const API_TIMEOUT_MS = 10_000;

/** The toxics of Toxiproxy v2 with their attributes (times in ms, sizes in bytes, rates in KB/s). */
export type Toxic =
  | { readonly type: 'latency'; readonly latency: number; readonly jitter?: number }
  | { readonly type: 'bandwidth'; readonly rate: number }
  | { readonly type: 'reset_peer'; readonly timeout?: number }
  | { readonly type: 'timeout'; readonly timeout: number }
  | { readonly type: 'slow_close'; readonly delay: number }
  | { readonly type: 'limit_data'; readonly bytes: number }
  | { readonly type: 'slicer'; readonly average_size: number; readonly size_variation?: number; readonly delay?: number };

export type ToxicStream = 'upstream' | 'downstream';

export interface ToxicOptions {
  /** Unique per proxy; default `<type>_<stream>`, Toxiproxy's own default. */
  readonly name?: string;
  /** Default 'downstream' (Toxiproxy's default). */
  readonly stream?: ToxicStream;
  /** Share of connections affected, 0..1; default 1. */
  readonly toxicity?: number;
}

/** A toxic as the server reports it. */
export interface ToxicState {
  readonly name: string;
  readonly type: Toxic['type'];
  readonly stream: ToxicStream;
  readonly toxicity: number;
  readonly attributes: Record<string, number>;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Toxiproxy answered an API call with an error. */
export class ToxiproxyError extends Error {
  readonly status: number;
  override readonly name = 'ToxiproxyError';
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

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

function hostPort(address: string): HostPort {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** One proxy: listens on `listen` (loopback, a free port) and forwards to `upstream`. */
export class ToxiproxyProxy {
  readonly name: string;
  readonly listen: HostPort;
  readonly upstream: string;
  readonly #server: ToxiproxyServer;

  constructor(server: ToxiproxyServer, name: string, listen: HostPort, upstream: string) {
    this.#server = server;
    this.name = name;
    this.listen = listen;
    this.upstream = upstream;
  }

  /** The URL a client dials instead of the upstream's, e.g. `https://127.0.0.1:40123`. */
  url(scheme = 'https'): string {
    return `${scheme}://${this.listen.host}:${this.listen.port}`;
  }

  /** Adds a toxic; returns its name (for removeToxic). */
  async addToxic(toxic: Toxic, opts: ToxicOptions = {}): Promise<string> {
    const { type, ...attributes } = toxic;
    const stream = opts.stream ?? 'downstream';
    const name = opts.name ?? `${type}_${stream}`;
    await this.#server.call('POST', `/proxies/${encodeURIComponent(this.name)}/toxics`, { name, type, stream, toxicity: opts.toxicity ?? 1, attributes });
    return name;
  }

  /** Changes a toxic's attributes (and toxicity) in place, keeping its connections. */
  async updateToxic(name: string, attributes: Partial<Omit<Toxic, 'type'>>, toxicity?: number): Promise<void> {
    await this.#server.call('POST', `/proxies/${encodeURIComponent(this.name)}/toxics/${encodeURIComponent(name)}`, { attributes, ...(toxicity === undefined ? {} : { toxicity }) });
  }

  async removeToxic(name: string): Promise<void> {
    await this.#server.call('DELETE', `/proxies/${encodeURIComponent(this.name)}/toxics/${encodeURIComponent(name)}`);
  }

  async toxics(): Promise<readonly ToxicState[]> {
    return (await this.#server.call('GET', `/proxies/${encodeURIComponent(this.name)}/toxics`)) as ToxicState[];
  }

  /** Removes every toxic of this proxy. */
  async clearToxics(): Promise<void> {
    for (const t of await this.toxics()) await this.removeToxic(t.name);
  }

  /** Cuts the link: closes every connection through the proxy and stops listening. */
  async disable(): Promise<void> {
    await this.#server.call('POST', `/proxies/${encodeURIComponent(this.name)}`, { enabled: false });
  }

  /** Restores a cut link (the same listen address). */
  async enable(): Promise<void> {
    await this.#server.call('POST', `/proxies/${encodeURIComponent(this.name)}`, { enabled: true });
  }

  async delete(): Promise<void> {
    await this.#server.call('DELETE', `/proxies/${encodeURIComponent(this.name)}`);
  }
}

/** A running toxiproxy-server process on a free loopback port, and its API. */
export class ToxiproxyServer {
  /** The API's base URL, e.g. `http://127.0.0.1:40111`. */
  readonly apiUrl: string;
  readonly version: string;
  readonly #proc: ChildProcess;
  readonly #exited: Promise<void>;
  #output = '';

  private constructor(apiUrl: string, version: string, proc: ChildProcess) {
    this.apiUrl = apiUrl;
    this.version = version;
    this.#proc = proc;
    this.#exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    // Its log goes nowhere but here: the tail is repeated when start fails.
    const keep = (chunk: Buffer): void => void (this.#output = (this.#output + chunk.toString('utf8')).slice(-4_000));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }

  /** Builds the server if needed (scripts/toxiproxy.mjs), starts it and waits until its API answers. */
  static async start(): Promise<ToxiproxyServer> {
    const { server, version } = await ensureToxiproxy();
    const port = await freePort();
    const proc = spawn(server, ['-host', '127.0.0.1', '-port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tp = new ToxiproxyServer(`http://127.0.0.1:${port}`, version, proc);
    let exited = false;
    proc.once('exit', () => (exited = true));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await tp.call('GET', '/version');
        return tp;
      } catch {
        // not listening yet
      }
      if (exited || Date.now() > deadline) {
        await tp.stop();
        throw new Error(`toxiproxy-server did not start on port ${port}: ${tp.#output.trim()}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Creates a proxy to `upstream` listening on a free loopback port. */
  async createProxy(name: string, upstream: HostPort): Promise<ToxiproxyProxy> {
    const up = `${upstream.host}:${upstream.port}`;
    const created = (await this.call('POST', '/proxies', { name, listen: '127.0.0.1:0', upstream: up, enabled: true })) as { listen: string };
    return new ToxiproxyProxy(this, name, hostPort(created.listen), up);
  }

  /** Enables every proxy and removes every toxic (Toxiproxy's /reset). */
  async reset(): Promise<void> {
    await this.call('POST', '/reset');
  }

  /** Stops the server (every proxy goes with it). */
  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    this.#proc.kill('SIGTERM');
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 5_000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** One API call; throws ToxiproxyError on an error answer. */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.apiUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(API_TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new ToxiproxyError(res.status, `toxiproxy ${method} ${path}: ${res.status} ${text.trim()}`);
    return text.length === 0 ? undefined : (JSON.parse(text) as unknown);
  }
}
