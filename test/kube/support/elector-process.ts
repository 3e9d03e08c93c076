/**
 * A leader-election candidate as its own process, so a test can kill it with SIGKILL (no chance to
 * give the Lease up). Prints "leading" / "stopped" lines on stdout.
 * Usage: node elector-process.ts KUBECONFIG NAMESPACE LEASE IDENTITY LEASE_MS RETRY_MS
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { LeaderElector } from '../../../operator/leader-election.ts';

const [kubeconfig, namespace, name, identity, leaseMs, retryMs] = process.argv.slice(2) as [string, string, string, string, string, string];
const kc = new KubeConfig();
kc.loadFromString(readFileSync(kubeconfig, 'utf8'));
new LeaderElector(kc, {
  namespace,
  name,
  identity,
  leaseDurationMs: Number(leaseMs),
  retryMs: Number(retryMs),
  onStartedLeading: () => process.stdout.write('leading\n'),
  onStoppedLeading: () => process.stdout.write('stopped\n'),
}).start();
