/**
 * Leader election on a Lease against a real kube-apiserver (issue 5: "two operator replicas: one
 * leads; killing it, the other takes over within the lease time"): one candidate leads, another
 * waits; the leader killed with SIGKILL is replaced within the lease duration plus one retry; a
 * leader that stops gives the Lease up at once; a leader cut off from the API server stops
 * leading before its lease could be taken.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderElector } from '../../operator/leader-election.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const LEASE_MS = 3000;
const RETRY_MS = 300;
let dir: string;
let cp: ControlPlane;
const children: ChildProcess[] = [];

function candidate(identity: string, lease: string, events: string[] = []): LeaderElector {
  return new LeaderElector(cp.kubeConfig(), {
    namespace: 'default',
    name: lease,
    identity,
    leaseDurationMs: LEASE_MS,
    retryMs: RETRY_MS,
    onStartedLeading: () => events.push('leading'),
    onStoppedLeading: () => events.push('stopped'),
  });
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vilna-kube-lease-'));
  cp = await startControlPlane({ name: 'lease', dir });
}, 600_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('leader election on a Lease', () => {
  it('lets one replica lead; the other takes over within the lease time after the leader is killed', async () => {
    const child = spawn(process.execPath, [path.join(here, 'support', 'elector-process.ts'), cp.kubeconfigPath, 'default', 'killed', 'replica-a', String(LEASE_MS), String(RETRY_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until('replica a leading', () => out.includes('leading'), 20_000);

    const b = candidate('replica-b', 'killed');
    b.start();
    await new Promise((r) => setTimeout(r, LEASE_MS / 2));
    expect(b.leading).toBe(false);
    child.kill('SIGKILL');
    const took = await until('replica b leading', () => b.leading, LEASE_MS * 3);
    expect(took).toBeLessThanOrEqual(LEASE_MS + 3 * RETRY_MS + 1000);
    await b.stop();
  });

  it('hands the Lease over at once when the leader stops', async () => {
    const a = candidate('a', 'handover');
    a.start();
    await until('a leading', () => a.leading, 10_000);
    const b = candidate('b', 'handover');
    b.start();
    await a.stop();
    const took = await until('b leading', () => b.leading, LEASE_MS * 3);
    expect(took).toBeLessThan(LEASE_MS);
    await b.stop();
  });

  it('stops leading when it cannot renew, before the lease could pass to another', async () => {
    const events: string[] = [];
    const a = candidate('a', 'cut-off', events);
    a.start();
    await until('a leading', () => a.leading, 10_000);
    await cp.stopApiserver();
    try {
      const took = await until('a stepping down', () => !a.leading, LEASE_MS * 2);
      expect(took).toBeLessThan(LEASE_MS);
    } finally {
      await cp.startApiserver();
    }
    await until('a leading again', () => a.leading, LEASE_MS * 4);
    expect(events).toEqual(['leading', 'stopped', 'leading']);
    await a.stop();
  });
});
