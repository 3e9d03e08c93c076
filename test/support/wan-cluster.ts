/**
 * Party nodes over a modelled WAN (README "WAN layer"): a LocalCluster whose every peer listener
 * is reached only through its own Toxiproxy proxy, which the plans advertise as the party's
 * endpoint. A link profile (round-trip time, jitter, bandwidth) is applied to every proxy in both
 * directions, so a call from any party to any other crosses one modelled link. The clients of the
 * test or bench (the signing API, the cluster's ceremony calls) reach the nodes directly: they
 * stand in the same region as the node they call.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster, type LocalClusterOptions } from '../../cli/local-parties.ts';
import { ToxiproxyServer, type ToxiproxyProxy } from './toxiproxy.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const POLL_MS = 200;

/** One link between regions, the same in both directions. */
export interface WanProfile {
  /** Round-trip time added to every link: half of it on each direction. */
  readonly rttMs: number;
  /** Each direction's delay varies uniformly by ± jitterMs / 2, per chunk of data. */
  readonly jitterMs: number;
  /** Each direction's bandwidth, KB/s (Toxiproxy's unit); 0 for unlimited. */
  readonly rateKBps: number;
}

/** Names of the toxics a profile sets, so that tests can add their own beside them. */
const PROFILE_TOXICS = ['wan_latency_upstream', 'wan_latency_downstream', 'wan_bandwidth_upstream', 'wan_bandwidth_downstream'] as const;

export class WanCluster {
  readonly cluster: LocalCluster;
  readonly toxiproxy: ToxiproxyServer;
  /** Party index → the proxy in front of its peer listener. */
  readonly links: ReadonlyMap<number, ToxiproxyProxy>;

  private constructor(cluster: LocalCluster, toxiproxy: ToxiproxyServer, links: Map<number, ToxiproxyProxy>) {
    this.cluster = cluster;
    this.toxiproxy = toxiproxy;
    this.links = links;
  }

  /**
   * Creates the cluster (fixture primes) and one proxy per party, applies `profile` and starts
   * every node. Plans made afterwards name the proxies as the parties' endpoints.
   */
  static async start(opts: Omit<LocalClusterOptions, 'advertisedPeerUrl' | 'primesFile'> & { readonly profile: WanProfile }): Promise<WanCluster> {
    const toxiproxy = await ToxiproxyServer.start();
    const links = new Map<number, ToxiproxyProxy>();
    try {
      const cluster = await LocalCluster.create({
        ...opts,
        primesFile: path.join(root, 'test', 'fixtures', 'safe-primes.json'),
        advertisedPeerUrl: (index) => links.get(index)?.url('https'),
      });
      for (const p of cluster.parties) links.set(p.index, await toxiproxy.createProxy(`party-${p.index}-peer`, { host: '127.0.0.1', port: p.ports.peer }));
      const wan = new WanCluster(cluster, toxiproxy, links);
      await wan.setProfile(opts.profile);
      await cluster.startAll();
      return wan;
    } catch (e) {
      await toxiproxy.stop();
      throw e;
    }
  }

  link(index: number): ToxiproxyProxy {
    const l = this.links.get(index);
    if (!l) throw new Error(`no link for party ${index}`);
    return l;
  }

  /** Replaces the profile on every link (connections stay open; other toxics stay). */
  async setProfile(profile: WanProfile): Promise<void> {
    for (const link of this.links.values()) {
      const present = new Set((await link.toxics()).map((t) => t.name));
      for (const name of PROFILE_TOXICS) if (present.has(name)) await link.removeToxic(name);
      for (const stream of ['upstream', 'downstream'] as const) {
        await link.addToxic({ type: 'latency', latency: profile.rttMs / 2, jitter: profile.jitterMs / 2 }, { name: `wan_latency_${stream}`, stream });
        if (profile.rateKBps > 0) await link.addToxic({ type: 'bandwidth', rate: profile.rateKBps }, { name: `wan_bandwidth_${stream}`, stream });
      }
    }
  }

  /**
   * Presignatures `party` holds ready for its own requests of `keyId` at path m: those it started
   * for the signer set it signs with now (the key's API answer, `presignatures`).
   */
  async pooled(party: number, keyId: string): Promise<number> {
    const res = await this.cluster.getKey(party, keyId);
    return (res.body as { presignatures?: Record<string, number> }).presignatures?.m ?? 0;
  }

  /**
   * Waits until every node holds `poolSize` presignatures of its own at m, and so no presigning
   * is under way (each node refills only its own pool, up to that size).
   */
  async waitPoolsFull(keyId: string, poolSize: number, limitMs: number): Promise<void> {
    const t0 = performance.now();
    const indices = this.cluster.parties.map((p) => p.index);
    while ((await Promise.all(indices.map((i) => this.pooled(i, keyId)))).some((n) => n < poolSize)) {
      if (performance.now() - t0 > limitMs) throw new Error(`the presignature pools of ${keyId} did not fill within ${limitMs / 1000} s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Stops every node (SIGKILL) and the proxy server. */
  async stop(): Promise<void> {
    try {
      await this.cluster.stopAll('SIGKILL');
    } finally {
      await this.toxiproxy.stop();
    }
  }
}
