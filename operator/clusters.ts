/**
 * The clusters an operator reaches (DESIGN §5 "Multi-cluster"): its own ("local") and other
 * regions' API servers through kubeconfig Secrets in its namespace labelled
 * mpc.vilna.io/cluster=<name> (key `kubeconfig`; read-only credentials suffice). A kubeconfig that
 * would make the operator run a program (exec or auth-provider credentials) is refused: a Secret
 * is data, and must never become code running beside the operator's own credentials.
 */
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { CLUSTER_LABEL, LOCAL_CLUSTER } from '../api/crd.ts';

const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const KUBECONFIG_KEY = 'kubeconfig';
/** A kubeconfig is a few kilobytes; anything larger is not one. */
const MAX_KUBECONFIG_BYTES = 256 << 10;

export class ClusterError extends Error {
  readonly code = 'E_UNKNOWN_CLUSTER';
  override readonly name = 'ClusterError';
}

/** Parses a Secret's kubeconfig; throws naming what is wrong with it (never its content). */
export function kubeConfigFromSecret(secret: V1Secret): { name: string; kc: KubeConfig } {
  const where = `Secret ${secret.metadata?.namespace ?? ''}/${secret.metadata?.name ?? ''}`;
  const name = secret.metadata?.labels?.[CLUSTER_LABEL];
  if (name === undefined || !CLUSTER_NAME.test(name) || name === LOCAL_CLUSTER) throw new ClusterError(`${where}: label ${CLUSTER_LABEL} must name a cluster (a DNS label, not "${LOCAL_CLUSTER}")`);
  const data = secret.data?.[KUBECONFIG_KEY];
  if (data === undefined) throw new ClusterError(`${where}: no "${KUBECONFIG_KEY}" key`);
  const text = Buffer.from(data, 'base64');
  if (text.length > MAX_KUBECONFIG_BYTES) throw new ClusterError(`${where}: kubeconfig larger than ${MAX_KUBECONFIG_BYTES} bytes`);
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text.toString('utf8'));
  } catch {
    throw new ClusterError(`${where}: not a readable kubeconfig`);
  }
  const user = kc.getCurrentUser();
  if (!kc.getCurrentCluster() || !user) throw new ClusterError(`${where}: kubeconfig has no current context with a cluster and a user`);
  if (user.exec !== undefined || user.authProvider !== undefined) throw new ClusterError(`${where}: exec and auth-provider credentials are refused (they run programs); use a token or a client certificate`);
  if (kc.getCurrentCluster()!.skipTLSVerify) throw new ClusterError(`${where}: insecure-skip-tls-verify is refused`);
  return { name, kc };
}

export class ClusterRegistry {
  readonly #local: KubeConfig;
  readonly #namespace: string;
  #remote = new Map<string, KubeConfig>();
  #problems: string[] = [];

  constructor(local: KubeConfig, namespace: string) {
    this.#local = local;
    this.#namespace = namespace;
  }

  /** Reads the labelled Secrets again; a bad one is reported by problems() and left out. */
  async refresh(): Promise<void> {
    const core = this.#local.makeApiClient(CoreV1Api);
    const list = await core.listNamespacedSecret({ namespace: this.#namespace, labelSelector: CLUSTER_LABEL });
    const next = new Map<string, KubeConfig>();
    const problems: string[] = [];
    for (const s of list.items) {
      try {
        const { name, kc } = kubeConfigFromSecret(s);
        if (next.has(name)) problems.push(`cluster ${name} is named by more than one Secret; the first is used`);
        else next.set(name, kc);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    this.#remote = next;
    this.#problems = problems;
  }

  get(cluster: string): KubeConfig {
    if (cluster === LOCAL_CLUSTER) return this.#local;
    const kc = this.#remote.get(cluster);
    if (!kc) throw new ClusterError(`no kubeconfig Secret labelled ${CLUSTER_LABEL}=${cluster} in namespace ${this.#namespace}`);
    return kc;
  }

  names(): string[] {
    return [LOCAL_CLUSTER, ...[...this.#remote.keys()].sort()];
  }

  problems(): readonly string[] {
    return this.#problems;
  }
}
