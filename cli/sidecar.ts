/**
 * `vilna-mpc sidecar --config FILE` (DESIGN §8): runs one party node until SIGTERM/SIGINT. With
 * `--ready-file`, writes `{ identityKey, peerBinding, peerUrl, apiUrl, metricsUrl, pid }` there
 * once every listener is up (the demo and the test harness wait for it; the binding lets the
 * harness call peer endpoints as this party with the party's own certificate).
 */
import { loadNodeConfig } from '../sidecar/config.ts';
import { startNode, type NodeTestHooks } from '../sidecar/node.ts';
import { writeJsonAtomic } from '../sidecar/node/atomic-json.ts';

export async function runSidecar(opts: { config: string; readyFile?: string }, testHooks?: NodeTestHooks): Promise<void> {
  const cfg = await loadNodeConfig(opts.config, process.env);
  const node = await startNode(cfg, testHooks);
  if (opts.readyFile) {
    await writeJsonAtomic(opts.readyFile, { identityKey: node.identityKey, peerBinding: node.peerBinding, peerUrl: node.peerUrl, apiUrl: node.apiUrl, metricsUrl: node.metricsUrl ?? null, pid: process.pid });
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await node.close();
}
