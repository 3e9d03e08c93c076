import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { developmentSigner, type Signer } from '../../cggmp/protocols/index.ts';
import { AuditLog, AUDIT_FILE_NAME } from './audit-log.ts';
import { encodeLine, entrySigningBytes, lineHash, signLowS, type AuditEntry } from './entry.ts';
import { anchoredWithoutLog, verifyAuditBytes, verifyWithPeers, type VerifiedAuditLog } from './verify.ts';

const PARTIES = 3;
const SESSIONS = 3;
// Per session each party writes start, signature, end (anchored by the peers), then records the
// two peers' heads. So the last entry a peer anchored is 13 and entries 14 and 15 are not anchored.
const LAST_ANCHORED = 1 + 5 * (SESSIONS - 1) + 2;

let root: string;
let signers: Signer[];
let logs: Uint8Array[];

/** Three parties' logs: sessions whose end records each party's signed head in the others' logs. */
async function buildParties(dir: string): Promise<{ signers: Signer[]; logs: Uint8Array[] }> {
  const signers = Array.from({ length: PARTIES }, () => developmentSigner());
  const audit = await Promise.all(signers.map((signer, i) => AuditLog.open(path.join(dir, `party-${i + 1}`, 'audit'), { party: i + 1, signer })));
  for (let s = 0; s < SESSIONS; s++) {
    const sessionId = randomBytes(32).toString('hex');
    for (const log of audit) await log.append('session.start', { sessionId, protocol: 'sign', signers: [1, 2, 3] });
    for (const log of audit) await log.append('signature', { sessionId, keyId: 'treasury', epoch: 0, digest: randomBytes(32).toString('hex') });
    for (const log of audit) await log.append('session.end', { sessionId, outcome: 'ok' });
    const heads = await Promise.all(audit.map((log) => log.signedHead()));
    for (const log of audit) {
      for (const head of heads) if (head.party !== log.party) await log.recordPeerHead(head.party, head, signers[head.party - 1]!.publicKey);
    }
  }
  await Promise.all(audit.map((log) => log.close()));
  return { signers, logs: await Promise.all(audit.map((log) => readFile(log.file).then((b) => new Uint8Array(b)))) };
}

function splitLines(bytes: Uint8Array): Uint8Array[] {
  const text = Buffer.from(bytes).toString('latin1');
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => new Uint8Array(Buffer.from(l, 'latin1')));
}

function joinLines(lines: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(lines.flatMap((l) => [Buffer.from(l), Buffer.from('\n')])));
}

function verified(bytes: Uint8Array): VerifiedAuditLog {
  const r = verifyAuditBytes(bytes);
  if (!r.ok) throw new Error(`fixture log does not verify: entry ${r.index}: ${r.reason}`);
  return r;
}

/** Signs `entry` with `signer` after setting its prev and index, as a writer holding that key would. */
async function signed(signer: Signer, entry: Omit<AuditEntry, 'sig'>): Promise<Uint8Array> {
  return encodeLine({ ...entry, sig: await signLowS(signer, entrySigningBytes(entry)) });
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vilna-audit-verify-'));
  ({ signers, logs } = await buildParties(root));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('verifyAuditBytes', () => {
  it('accepts every intact log and reports its head', () => {
    for (const [i, bytes] of logs.entries()) {
      const r = verifyAuditBytes(bytes, { identityKey: signers[i]!.publicKey, party: i + 1 });
      expect(r).toMatchObject({ ok: true, party: i + 1, head: { index: 1 + 5 * SESSIONS - 1 } });
    }
  });

  it('names the line holding any single changed byte, wherever it is', () => {
    const bytes = logs[1]!;
    const lineOf: number[] = [];
    splitLines(bytes).forEach((line, i) => lineOf.push(...Array<number>(line.length + 1).fill(i)));
    for (let p = 0; p < bytes.length; p++) {
      const copy = bytes.slice();
      copy[p] = copy[p]! ^ 0x01;
      const r = verifyAuditBytes(copy);
      expect(r.ok, `byte ${p}`).toBe(false);
      if (!r.ok) expect(r.index, `byte ${p}`).toBe(lineOf[p]);
    }
  });

  it('names the line for any replacement byte at random positions', () => {
    const bytes = logs[2]!;
    const lineOf: number[] = [];
    splitLines(bytes).forEach((line, i) => lineOf.push(...Array<number>(line.length + 1).fill(i)));
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (p, delta) => {
        const copy = bytes.slice();
        copy[p] = (copy[p]! + delta) & 0xff;
        const r = verifyAuditBytes(copy);
        return !r.ok && r.index === lineOf[p];
      }),
      { numRuns: 300 },
    );
  });

  it('explains a change inside the signature, the data and the prev field', () => {
    const lines = splitLines(logs[0]!);
    const edit = (index: number, from: RegExp, to: (m: string) => string) => {
      const copy = lines.slice();
      copy[index] = new TextEncoder().encode(new TextDecoder().decode(copy[index]).replace(from, to));
      return verifyAuditBytes(joinLines(copy));
    };
    const flipHex = (m: string) => m.slice(0, -1) + (m.endsWith('0') ? '1' : '0');
    expect(edit(7, /"sig":"[0-9a-f]{40}/, flipHex)).toEqual({ ok: false, party: 1, index: 7, reason: 'signature does not verify' });
    expect(edit(7, /"digest":"[0-9a-f]{10}/, flipHex)).toEqual({ ok: false, party: 1, index: 7, reason: 'signature does not verify' });
    expect(edit(7, /"prev":"[0-9a-f]{10}/, flipHex)).toEqual({ ok: false, party: 1, index: 7, reason: 'prev is not the hash of the previous line' });
    expect(edit(0, /"publicKey":"0[23][0-9a-f]{10}/, flipHex)).toMatchObject({ ok: false, index: 0 });
  });

  it('refuses the high-s twin of a valid signature, so each entry has one byte form', () => {
    // (r, n − s) verifies as well as (r, s): accepting both would let the last line be rewritten
    // without the key and change the hash a peer anchored.
    const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const lines = splitLines(logs[0]!);
    const last = lines.length - 1;
    const text = new TextDecoder().decode(lines[last]);
    const sig = /"prev":"[0-9a-f]{64}","sig":"([0-9a-f]{128})"/.exec(text)![1]!; // the entry's own sig, not data.sig
    const high = sig.slice(0, 64) + (N - BigInt('0x' + sig.slice(64))).toString(16).padStart(64, '0');
    lines[last] = new TextEncoder().encode(text.replace(`"sig":"${sig}","time"`, `"sig":"${high}","time"`));
    expect(verifyAuditBytes(joinLines(lines))).toMatchObject({ ok: false, index: last, reason: 'signature is not in low-s form' });
  });

  it('names the position of a removed line', () => {
    const lines = splitLines(logs[0]!);
    expect(verifyAuditBytes(joinLines([...lines.slice(0, 6), ...lines.slice(7)]))).toMatchObject({ ok: false, index: 6, reason: 'index is 7, expected 6' });
    expect(verifyAuditBytes(joinLines(lines.slice(1)))).toMatchObject({ ok: false, index: 0, reason: 'first entry is not a genesis entry' });
  });

  it('fails on two swapped lines at the first of them', () => {
    const lines = splitLines(logs[0]!);
    const swapped = lines.slice();
    [swapped[4], swapped[9]] = [swapped[9]!, swapped[4]!];
    expect(verifyAuditBytes(joinLines(swapped))).toMatchObject({ ok: false, index: 4 });
  });

  it('fails on an appended line signed by another key, or not an entry at all', async () => {
    const lines = splitLines(logs[0]!);
    const r = verified(logs[0]!);
    const forged = await signed(developmentSigner(), {
      v: 1,
      index: r.head.index + 1,
      time: new Date().toISOString(),
      party: 1,
      kind: 'signature',
      data: { sessionId: 'forged' },
      prev: r.head.hash,
    });
    const end = lines.length;
    expect(verifyAuditBytes(joinLines([...lines, forged]))).toEqual({ ok: false, party: 1, index: end, reason: 'signature does not verify' });
    expect(verifyAuditBytes(joinLines([...lines, new TextEncoder().encode('{}')]))).toMatchObject({ ok: false, index: end });
    expect(verifyAuditBytes(new Uint8Array([...logs[0]!, 0x7b]))).toMatchObject({ ok: false, index: end, reason: 'partial last line (no trailing newline)' });
  });

  it('refuses a log whose genesis names another key or party than expected', () => {
    expect(verifyAuditBytes(logs[0]!, { identityKey: signers[1]!.publicKey })).toMatchObject({ ok: false, index: 0, reason: 'genesis identity key differs from the expected key' });
    expect(verifyAuditBytes(logs[0]!, { party: 2 })).toMatchObject({ ok: false, index: 0 });
    expect(verifyAuditBytes(new Uint8Array())).toMatchObject({ ok: false, index: 0 });
  });

  it('reads the on-disk log the same way', async () => {
    const onDisk = new Uint8Array(await readFile(path.join(root, 'party-1', 'audit', AUDIT_FILE_NAME)));
    expect(onDisk).toEqual(logs[0]);
  });
});

describe('verifyWithPeers', () => {
  const others = (i: number) => logs.filter((_, j) => j !== i).map(verified);

  it('accepts intact logs and checks every anchor the peers hold about each', () => {
    for (let i = 0; i < PARTIES; i++) {
      expect(verifyWithPeers(verified(logs[i]!), others(i))).toEqual({ ok: true, anchors: (PARTIES - 1) * SESSIONS });
    }
  });

  it('catches a cut tail that reaches an anchored entry, naming the cut point', () => {
    // Alone, a log cut at a line boundary is still a valid, shorter chain: only the peers'
    // anchors show that entries existed beyond its end.
    const lines = splitLines(logs[1]!);
    const cutToAnchored = joinLines(lines.slice(0, LAST_ANCHORED - 3));
    const own = verified(cutToAnchored);
    expect(verifyWithPeers(own, others(1))).toMatchObject({
      ok: false,
      party: 2,
      index: LAST_ANCHORED - 3,
      reason: expect.stringMatching(new RegExp(`^tail cut: peer [13] anchored entry ${LAST_ANCHORED} with hash [0-9a-f]{64}, log ends at entry ${LAST_ANCHORED - 4}$`)),
    });
  });

  it('cannot see a cut of only the entries written after the last anchored head', () => {
    // The anchor.peer entries recorded after the last session end are not yet anchored by
    // anyone: cutting them is the one truncation that stays invisible until the next session.
    const lines = splitLines(logs[1]!);
    expect(verifyWithPeers(verified(joinLines(lines.slice(0, LAST_ANCHORED + 1))), others(1))).toMatchObject({ ok: true });
  });

  it('catches a history the party rewrote and re-signed with its own key', async () => {
    const lines = splitLines(logs[0]!);
    const rewritten = lines.slice(0, 5);
    let prev = lineHash(rewritten[4]!);
    for (const line of lines.slice(5)) {
      const entry: Omit<AuditEntry, 'sig'> & { sig?: string } = JSON.parse(new TextDecoder().decode(line)) as AuditEntry;
      delete entry.sig;
      const changed = entry.index === 6 ? { ...entry, data: { ...entry.data, protocol: 'refresh' } } : entry;
      const next = await signed(signers[0]!, { ...changed, prev });
      rewritten.push(next);
      prev = lineHash(next);
    }
    const own = verified(joinLines(rewritten));
    expect(verifyWithPeers(own, others(0))).toMatchObject({ ok: false, party: 1, index: 8, reason: expect.stringMatching(/^entry differs from the one peer [23] anchored/) });
  });

  it('catches a log replaced by one under another identity key', async () => {
    const fresh = await mkdtemp(path.join(tmpdir(), 'vilna-audit-replaced-'));
    try {
      const log = await AuditLog.open(fresh, { party: 1, signer: developmentSigner() });
      await log.close();
      const own = verified(new Uint8Array(await readFile(log.file)));
      expect(verifyWithPeers(own, others(0))).toMatchObject({ ok: false, party: 1, index: 0, reason: expect.stringMatching(/^genesis identity key differs/) });
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it("blames the peer's log for an anchor whose head signature does not verify", () => {
    const peer = verified(logs[1]!);
    const entries = peer.entries.map((e) =>
      e.kind === 'anchor.peer' && e.data.peer === 1 && e.index > 10 ? { ...e, data: { ...e.data, index: (e.data.index as number) - 1 } } : e,
    );
    const result = verifyWithPeers(verified(logs[0]!), [{ ...peer, entries }]);
    expect(result).toMatchObject({ ok: false, party: 2, reason: 'anchored head of party 1 has a signature that does not verify' });
  });
});

describe('anchoredWithoutLog', () => {
  it('names a party whose log is absent, with the highest head its peers anchored', () => {
    const peers = [verified(logs[1]!), verified(logs[2]!)];
    const { missing, failures } = anchoredWithoutLog(peers, new Set([2, 3]));
    expect(failures).toEqual([]);
    expect(missing).toEqual([{ party: 1, index: LAST_ANCHORED, hash: verified(logs[0]!).hashes[LAST_ANCHORED], peer: 2, peerEntry: expect.any(Number) }]);
    expect(peers[0]!.entries[missing[0]!.peerEntry]).toMatchObject({ kind: 'anchor.peer', data: { peer: 1, index: LAST_ANCHORED } });
  });

  it('names nothing when every anchored party has a log, intact or not', () => {
    expect(anchoredWithoutLog(logs.map(verified), new Set([1, 2, 3]))).toEqual({ missing: [], failures: [] });
    expect(anchoredWithoutLog([verified(logs[1]!)], new Set([1, 2, 3]))).toEqual({ missing: [], failures: [] });
  });

  it("blames the peer's log for an anchor of an absent party whose head signature does not verify", () => {
    const peer = verified(logs[2]!);
    const entries = peer.entries.map((e) => (e.kind === 'anchor.peer' && e.data.peer === 1 ? { ...e, data: { ...e.data, hash: '00'.repeat(32) } } : e));
    const { missing, failures } = anchoredWithoutLog([{ ...peer, entries }], new Set([3]));
    expect(failures).toMatchObject([{ ok: false, party: 3, reason: 'anchored head of party 1 has a signature that does not verify' }]);
    expect(missing.map((m) => m.party)).toEqual([2]);
  });
});
