import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { developmentSigner } from '../../cggmp/protocols/index.ts';
import { AuditLog } from './audit-log.ts';
import { OVERFLOW_CALLER, RefusalCounter, REFUSALS_IN_FULL } from './refusals.ts';
import { verifyAuditLog } from './verify.ts';

type Written = { kind: string; data: Record<string, unknown> };

let written: Written[];
const counters: RefusalCounter[] = [];

function counter(opts: { windowMs?: number; maxGroups?: number } = {}): RefusalCounter {
  const c = new RefusalCounter({ append: (kind, data) => Promise.resolve(void written.push({ kind, data: { ...data } })), ...opts });
  counters.push(c);
  return c;
}

const total = (kind: string, entries: readonly Written[] = written) => entries.filter((e) => e.kind === kind).reduce((n, e) => n + (e.data.count as number), 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(() => {
  written = [];
});

afterEach(async () => {
  await Promise.all(counters.splice(0).map((c) => c.close()));
});

describe('RefusalCounter', () => {
  it('writes the first refusals of a group in full and counts the rest into one entry at the window end', async () => {
    const c = counter({ windowMs: 200 });
    for (let i = 0; i < 10; i++) await c.refused('policy.denied', 'api-client:ops', { keyId: 'treasury', rule: 'path' }, { requestId: `r${i}` });
    expect(written).toHaveLength(REFUSALS_IN_FULL);
    expect(written[0]).toEqual({ kind: 'policy.denied', data: { requestId: 'r0', keyId: 'treasury', rule: 'path', caller: 'api-client:ops', count: 1 } });
    await sleep(400);
    expect(written).toHaveLength(REFUSALS_IN_FULL + 1);
    const counted = written.at(-1)!;
    expect(counted).toEqual({
      kind: 'policy.denied',
      data: { keyId: 'treasury', rule: 'path', caller: 'api-client:ops', count: 10 - REFUSALS_IN_FULL, first: expect.any(String), last: expect.any(String) },
    });
    expect(Date.parse(counted.data.first as string)).toBeLessThanOrEqual(Date.parse(counted.data.last as string));
    expect(total('policy.denied')).toBe(10);
  });

  it('keeps callers, kinds and codes apart', async () => {
    const c = counter();
    for (let i = 0; i < 5; i++) {
      await c.refused('plan.refused', 'peer-cert:aa', { code: 'E_PLAN_INVALID' }, { keyId: `junk-${i}` });
      await c.refused('plan.refused', 'peer-cert:bb', { code: 'E_PLAN_INVALID' });
      await c.refused('plan.refused', 'peer-cert:aa', { code: 'E_PLAN_UNAPPROVED' });
      await c.refused('policy.denied', 'peer-cert:aa', { rule: 'path' });
    }
    await c.close();
    const groups = new Set(written.map((e) => `${e.kind} ${String(e.data.caller)} ${String(e.data.code ?? e.data.rule)}`));
    expect(groups.size).toBe(4);
    expect(written).toHaveLength(4 * (REFUSALS_IN_FULL + 1));
    expect(written.filter((e) => e.data.caller === 'peer-cert:aa' && e.data.code === 'E_PLAN_INVALID').reduce((n, e) => n + (e.data.count as number), 0)).toBe(5);
    expect(total('plan.refused')).toBe(15);
  });

  it('writes one counted entry per window while a flood goes on, and closes a quiet group', async () => {
    const c = counter({ windowMs: 150 });
    let sent = 0;
    const until = Date.now() + 700;
    while (Date.now() < until) {
      await c.refused('plan.refused', 'peer-cert:aa', { code: 'E_PLAN_INVALID' });
      sent++;
      await sleep(5);
    }
    await sleep(400); // the last window ends, and then a quiet one closes the group
    const windows = Math.ceil(700 / 150) + 1;
    expect(written.length).toBeLessThanOrEqual(REFUSALS_IN_FULL + windows);
    expect(total('plan.refused')).toBe(sent);
    // The group was closed: the next refusal is written in full at once.
    const before = written.length;
    await c.refused('plan.refused', 'peer-cert:aa', { code: 'E_PLAN_INVALID' }, { keyId: 'again' });
    expect(written.slice(before)).toEqual([{ kind: 'plan.refused', data: { keyId: 'again', code: 'E_PLAN_INVALID', caller: 'peer-cert:aa', count: 1 } }]);
  });

  it('counts new groups under one caller once too many are open', async () => {
    const c = counter({ maxGroups: 4 });
    for (let i = 0; i < 100; i++) await c.refused('plan.refused', `peer-cert:${i}`, { code: 'E_PLAN_INVALID' });
    await c.close();
    expect(written.length).toBeLessThanOrEqual(5 * (REFUSALS_IN_FULL + 1));
    expect(written.filter((e) => e.data.caller === OVERFLOW_CALLER).reduce((n, e) => n + (e.data.count as number), 0)).toBe(96);
    expect(total('plan.refused')).toBe(100);
  });
});

describe('RefusalCounter over an audit log', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'vilna-refusals-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('leaves a bounded number of signed, chained entries for a flood, counting every refusal', async () => {
    const log = await AuditLog.open(root, { party: 2, signer: developmentSigner() });
    const c = new RefusalCounter({ append: (kind, data) => log.append(kind, data) });
    const FLOOD = 1200;
    await Promise.all(Array.from({ length: FLOOD }, (_, i) => c.refused('plan.refused', 'peer-cert:attacker', { code: 'E_PLAN_INVALID' }, { keyId: `junk-${i}` })));
    await c.close();
    await log.close();
    const r = await verifyAuditLog(log.file);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const refused = r.entries.filter((e) => e.kind === 'plan.refused');
    expect(refused).toHaveLength(REFUSALS_IN_FULL + 1);
    expect(refused.reduce((n, e) => n + (e.data.count as number), 0)).toBe(FLOOD);
  });
});
