import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { developmentSigner } from '../../cggmp/protocols/index.ts';
import { AuditLog, verifyAuditBytes, verifyWithPeers, type VerifiedAuditLog } from '../audit/index.ts';
import { AuditAnchors } from './audit-anchors.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const quiet = { warn() {}, info() {} };

interface Party {
  readonly index: number;
  readonly identityKey: string;
  readonly log: AuditLog;
  readonly anchors: AuditAnchors;
}

let root: string;
let parties: Party[];
/** Endpoints that refuse connections, as a peer that is down. */
let down: Set<string>;

/** Three parties whose anchors call each other's `receive` in memory, as the peer endpoint does. */
async function cluster(intervalMs = 60_000): Promise<Party[]> {
  const signers = [1, 2, 3].map(() => developmentSigner());
  const keys = signers.map((s) => hex(s.publicKey));
  const out: Party[] = [];
  for (const [i, signer] of signers.entries()) {
    const log = await AuditLog.open(path.join(root, `party-${i + 1}`), { party: i + 1, signer });
    const anchors = new AuditAnchors({
      audit: log,
      identityKey: keys[i]!,
      peers: () => Promise.resolve(keys.flatMap((k, j) => (j === i ? [] : [{ identityKey: k, endpoint: `party-${j + 1}` }]))),
      isPeer: (k) => Promise.resolve(keys.includes(k) && k !== keys[i]),
      send: async (endpoint, body) => {
        if (down.has(endpoint)) throw Object.assign(new Error('connection refused'), { code: 'E_PEER_UNREACHABLE' });
        const head = await out[Number(endpoint.slice('party-'.length)) - 1]!.anchors.receive(body);
        return head === undefined ? { ok: true } : { ok: true, head };
      },
      log: quiet,
      intervalMs,
      debounceMs: 10,
    });
    out.push({ index: i + 1, identityKey: keys[i]!, log, anchors });
  }
  return out;
}

async function read(p: Party): Promise<VerifiedAuditLog> {
  const r = verifyAuditBytes(new Uint8Array(await readFile(p.log.file)));
  if (!r.ok) throw new Error(`log of party ${p.index} does not verify: ${r.reason}`);
  return r;
}

/** The log of `p` without its last `cut` entries, as a clean cut at a line boundary leaves it. */
async function cutTail(p: Party, cut: number): Promise<VerifiedAuditLog> {
  const lines = (await readFile(p.log.file, 'latin1')).split('\n').slice(0, -1);
  const r = verifyAuditBytes(new Uint8Array(Buffer.from(lines.slice(0, lines.length - cut).map((l) => `${l}\n`).join(''), 'latin1')));
  if (!r.ok) throw new Error('a clean cut verifies on its own');
  return r;
}

async function othersOf(p: Party): Promise<VerifiedAuditLog[]> {
  return Promise.all(parties.filter((q) => q !== p).map(read));
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vilna-anchors-'));
  down = new Set();
  parties = await cluster();
});

afterEach(async () => {
  for (const p of parties) await p.anchors.close();
  for (const p of parties) await p.log.close();
  await rm(root, { recursive: true, force: true });
});

describe('AuditAnchors', () => {
  it('anchors the last entry at the peers, and through their answers their records of it', async () => {
    const [p1, p2] = parties as [Party, Party, Party];
    await p1.log.append('plan.refused', { code: 'E_PLAN_UNAPPROVED' });
    const refused = p1.log.head().index;
    await p1.anchors.flush();
    // Cutting the refusal from party 1 shows: both peers hold a head that covers it.
    expect(verifyWithPeers(await cutTail(p1, 3), await othersOf(p1))).toMatchObject({ ok: false, party: 1, index: refused });
    // Party 2's record of that head is its last line, anchored by party 1's record of its answer.
    const p2Log = await read(p2);
    expect(p2Log.entries.at(-1)).toMatchObject({ kind: 'anchor.peer', data: { peer: 1, index: refused } });
    expect(verifyWithPeers(await cutTail(p2, 1), await othersOf(p2))).toMatchObject({ ok: false, party: 2, index: p2Log.head.index });
    // What is left unanchored: party 1's two records of the answers.
    expect((await read(p1)).entries.slice(refused + 1).map((e) => e.kind)).toEqual(['anchor.peer', 'anchor.peer']);
    expect(verifyWithPeers(await cutTail(p1, 2), await othersOf(p1))).toEqual({ ok: true, anchors: 2 });
  });

  it('sends nothing more once every own entry is anchored: an idle cluster writes nothing', async () => {
    for (const p of parties) await p.log.append('node.start', { party: p.index });
    for (const p of parties) await p.anchors.flush();
    const lengths = await Promise.all(parties.map(async (p) => (await read(p)).entries.length));
    for (let round = 0; round < 3; round++) for (const p of parties) await p.anchors.flush();
    expect(await Promise.all(parties.map(async (p) => (await read(p)).entries.length))).toEqual(lengths);
    for (const p of parties) expect(verifyWithPeers(await read(p), await othersOf(p))).toMatchObject({ ok: true });
  });

  it('sends on its timer when no session asks for it', async () => {
    await Promise.all(parties.map((p) => p.anchors.close()));
    parties = await reopen(50);
    const [p1, p2, p3] = parties as [Party, Party, Party];
    for (const p of parties) p.anchors.start();
    await p1.log.append('policy.denied', { rule: 'path', count: 1 });
    const denied = p1.log.head().index;
    const anchoredAt = async (p: Party) => (await read(p)).entries.some((e) => e.kind === 'anchor.peer' && e.data.peer === 1 && e.data.index === denied);
    await until(async () => (await anchoredAt(p2)) && (await anchoredAt(p3)));
    const cut = (await read(p1)).entries.length - denied;
    // The timer keeps running: a peer's answer may already anchor an entry past the denial (the
    // record of its own answer), and the verifier names the highest anchored entry it misses.
    const verdict = verifyWithPeers(await cutTail(p1, cut), await othersOf(p1)) as { ok: boolean; party?: number; index?: number };
    expect(verdict).toMatchObject({ ok: false, party: 1 });
    expect(verdict.index).toBeGreaterThanOrEqual(denied);
  });

  it('gives a peer that was down the head at the next send', async () => {
    const [p1, , p3] = parties as [Party, Party, Party];
    down.add('party-3');
    await p1.log.append('plan.refused', { code: 'E_PLAN_INVALID' });
    await p1.anchors.flush();
    expect((await read(p3)).entries.some((e) => e.kind === 'anchor.peer')).toBe(false);
    down.delete('party-3');
    await p1.anchors.flush();
    expect((await read(p3)).entries.filter((e) => e.kind === 'anchor.peer').map((e) => e.data.peer)).toEqual([1]);
  });

  it('records a replayed head once and answers it with no head of its own', async () => {
    const [p1, p2] = parties as [Party, Party, Party];
    const head = await p1.log.signedHead();
    const body = { identityKey: p1.identityKey, head };
    expect(await p2.anchors.receive(body)).toMatchObject({ party: 2 });
    const length = p2.log.head().index;
    expect(await p2.anchors.receive(body)).toBeUndefined();
    expect(p2.log.head().index).toBe(length);
  });

  it('refuses a head from an identity key that is no party of its keys', async () => {
    const [p1, p2] = parties as [Party, Party, Party];
    const stranger = hex(developmentSigner().publicKey);
    await expect(p2.anchors.receive({ identityKey: stranger, head: await p1.log.signedHead() })).rejects.toMatchObject({ code: 'E_FORBIDDEN' });
    await expect(p2.anchors.receive({ identityKey: 'zz', head: {} })).rejects.toMatchObject({ code: 'E_MALFORMED' });
  });
});

/** Closes the logs and opens them again with anchors on a short timer. */
async function reopen(intervalMs: number): Promise<Party[]> {
  for (const p of parties) await p.log.close();
  await rm(root, { recursive: true, force: true });
  root = await mkdtemp(path.join(tmpdir(), 'vilna-anchors-'));
  return cluster(intervalMs);
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
