import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { developmentSigner, verifyIdentitySignature, type Signer } from '../../cggmp/protocols/index.ts';
import { AuditLog, AUDIT_FILE_NAME } from './audit-log.ts';
import { headSigningBytes, type AuditEntry } from './entry.ts';
import { verifyAuditLog } from './verify.ts';

let root: string;
const opened: AuditLog[] = [];

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vilna-audit-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
  await rm(root, { recursive: true, force: true });
});

async function openLog(dir: string, party: number, signer: Signer, verify?: 'tail' | 'full'): Promise<AuditLog> {
  const log = await AuditLog.open(dir, { party, signer, ...(verify ? { verify } : {}) });
  opened.push(log);
  return log;
}

async function lines(dir: string): Promise<AuditEntry[]> {
  const text = await readFile(path.join(dir, AUDIT_FILE_NAME), 'utf8');
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditEntry);
}

async function expectIntact(dir: string, entries: number) {
  const r = await verifyAuditLog(path.join(dir, AUDIT_FILE_NAME));
  expect(r).toMatchObject({ ok: true });
  if (r.ok) expect(r.entries.length).toBe(entries);
  return r;
}

describe('AuditLog.open', () => {
  it('creates the directory 0700 and the file 0600 with a genesis entry naming the party and its key', async () => {
    const dir = path.join(root, 'party-2', 'audit');
    const signer = developmentSigner();
    const log = await openLog(dir, 2, signer);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(log.file)).mode & 0o777).toBe(0o600);
    const [genesis] = await lines(dir);
    expect(genesis).toMatchObject({ v: 1, index: 0, party: 2, kind: 'genesis', prev: '0'.repeat(64), data: { party: 2, publicKey: Buffer.from(signer.publicKey).toString('hex') } });
    expect(log.head().index).toBe(0);
    await expectIntact(dir, 1);
  });

  it('continues the chain after reopening, with tail and with full verification', async () => {
    const signer = developmentSigner();
    let log = await openLog(root, 1, signer);
    await log.append('session.start', { sessionId: 's1' });
    const before = log.head();
    await log.close();
    log = await openLog(root, 1, signer);
    expect(log.head()).toEqual(before);
    await log.append('session.end', { sessionId: 's1' });
    await log.close();
    log = await openLog(root, 1, signer, 'full');
    expect(log.head().index).toBe(2);
    await log.append('signature', { digest: 'ab' });
    const r = await expectIntact(root, 4);
    if (r.ok) expect(r.head).toEqual(log.head());
  });

  it('refuses a second writer on the same file in this process', async () => {
    const signer = developmentSigner();
    await openLog(root, 1, signer);
    await expect(AuditLog.open(root, { party: 1, signer })).rejects.toMatchObject({ code: 'E_AUDIT_BUSY' });
  });

  it('refuses to continue a log of another party or another identity key', async () => {
    const signer = developmentSigner();
    await (await AuditLog.open(root, { party: 1, signer })).close();
    await expect(AuditLog.open(root, { party: 2, signer })).rejects.toMatchObject({ code: 'E_AUDIT_IDENTITY' });
    await expect(AuditLog.open(root, { party: 1, signer: developmentSigner() })).rejects.toMatchObject({ code: 'E_AUDIT_IDENTITY' });
    await expect(AuditLog.open(root, { party: 1, signer: developmentSigner(), verify: 'full' })).rejects.toMatchObject({ code: 'E_AUDIT_IDENTITY' });
  });

  it('refuses to append to a log whose last line was changed, cut short, or followed by garbage', async () => {
    const signer = developmentSigner();
    const log = await AuditLog.open(root, { party: 1, signer });
    for (let i = 0; i < 3; i++) await log.append('signature', { n: i });
    await log.close();
    const file = path.join(root, AUDIT_FILE_NAME);
    const good = await readFile(file);

    await writeFile(file, Buffer.from(good.toString('utf8').replace(/"n":2/, '"n":3')));
    await expect(AuditLog.open(root, { party: 1, signer })).rejects.toThrow(/E_AUDIT_CORRUPT: .*entry 3: signature does not verify/);

    await writeFile(file, good.subarray(0, good.length - 10));
    await expect(AuditLog.open(root, { party: 1, signer })).rejects.toThrow(/E_AUDIT_CORRUPT: .*partial last line/);

    await writeFile(file, good);
    await appendFile(file, '{"not":"an entry"}\n');
    await expect(AuditLog.open(root, { party: 1, signer })).rejects.toMatchObject({ code: 'E_AUDIT_CORRUPT' });

    await writeFile(file, good);
    const reopened = await openLog(root, 1, signer);
    expect(reopened.head().index).toBe(3);
  });
});

describe('AuditLog.append', () => {
  it('returns consecutive heads that match what the verifier computes', async () => {
    const log = await openLog(root, 3, developmentSigner());
    const heads = [];
    for (const kind of ['session.start', 'signature', 'session.end']) heads.push(await log.append(kind, { sessionId: 'abc', keyId: 'k', epoch: 0 }));
    expect(heads.map((h) => h.index)).toEqual([1, 2, 3]);
    const r = await expectIntact(root, 4);
    if (r.ok) expect(r.hashes.slice(1)).toEqual(heads.map((h) => h.hash));
  });

  it('keeps the chain valid and the call order under concurrent appends', async () => {
    const log = await openLog(root, 1, developmentSigner());
    const heads = await Promise.all(Array.from({ length: 40 }, (_, n) => log.append('signature', { n })));
    expect(heads.map((h) => h.index)).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
    await expectIntact(root, 41);
    expect((await lines(root)).slice(1).map((e) => e.data.n)).toEqual(Array.from({ length: 40 }, (_, n) => n));
  });

  it('refuses data with a key named like a secret at any depth and writes nothing', async () => {
    const log = await openLog(root, 1, developmentSigner());
    const head = log.head();
    for (const data of [{ secret: 'x' }, { nested: { Share: 'x' } }, { list: [{ privateKey: 'x' }] }, { PIN: '1' }, { approver_pin: '1' }, { sharedSecret: 'x' }]) {
      await expect(log.append('signature', data)).rejects.toMatchObject({ code: 'E_AUDIT_DATA' });
    }
    expect(log.head()).toEqual(head);
    await log.append('signature', { publicShares: ['02ab'], pinned: true, sessionId: 's' });
    await expectIntact(root, 2);
  });

  it('refuses data that is not plain JSON, and kinds the log writes itself', async () => {
    const log = await openLog(root, 1, developmentSigner());
    await expect(log.append('signature', { n: 1n } as never)).rejects.toMatchObject({ code: 'E_AUDIT_DATA' });
    await expect(log.append('signature', { bytes: new Uint8Array(1) } as never)).rejects.toMatchObject({ code: 'E_AUDIT_DATA' });
    await expect(log.append('signature', [] as never)).rejects.toMatchObject({ code: 'E_AUDIT_DATA' });
    await expect(log.append('signature', { big: 'x'.repeat(40_000) })).rejects.toMatchObject({ code: 'E_AUDIT_DATA' });
    await expect(log.append('genesis', {})).rejects.toMatchObject({ code: 'E_AUDIT_DATA' });
    await expect(log.append('anchor.peer', {})).rejects.toMatchObject({ code: 'E_AUDIT_DATA' });
    await expect(log.append('Bad Kind', {})).rejects.toMatchObject({ code: 'E_AUDIT_DATA' });
    expect(log.head().index).toBe(0);
  });

  it('records the data as it was at the call, not as the caller later changes it', async () => {
    const log = await openLog(root, 1, developmentSigner());
    const data = { signers: [1, 2] };
    const pending = log.append('signature', data);
    data.signers.push(3);
    await pending;
    expect((await lines(root))[1]?.data).toEqual({ signers: [1, 2] });
  });

  it('writes nothing when the identity key fails to sign, and goes on afterwards', async () => {
    const inner = developmentSigner();
    let fail = false;
    const flaky: Signer = {
      publicKey: inner.publicKey,
      sign: async (m) => {
        if (fail) throw new Error('CKR_DEVICE_ERROR');
        return inner.sign(m);
      },
    };
    const log = await openLog(root, 1, flaky);
    fail = true;
    await expect(log.append('signature', { n: 1 })).rejects.toMatchObject({ code: 'E_AUDIT_UNAVAILABLE' });
    fail = false;
    expect((await log.append('signature', { n: 2 })).index).toBe(1);
    await expectIntact(root, 2);
  });

  it('refuses appends after close', async () => {
    const log = await AuditLog.open(root, { party: 1, signer: developmentSigner() });
    await log.close();
    await expect(log.append('signature', {})).rejects.toMatchObject({ code: 'E_AUDIT_UNAVAILABLE' });
  });
});

describe('signed heads and peer anchors', () => {
  it('signs the current head so that the party identity key verifies it', async () => {
    const signer = developmentSigner();
    const log = await openLog(root, 2, signer);
    await log.append('session.end', { sessionId: 's' });
    const head = await log.signedHead();
    expect(head).toMatchObject({ party: 2, ...log.head() });
    expect(verifyIdentitySignature(signer.publicKey, headSigningBytes(2, head), Buffer.from(head.sig, 'hex'))).toBe(true);
  });

  it('records a verified peer head as an anchor.peer entry', async () => {
    const peerSigner = developmentSigner();
    const peer = await openLog(path.join(root, 'p2'), 2, peerSigner);
    const own = await openLog(path.join(root, 'p1'), 1, developmentSigner());
    const head = await peer.signedHead();
    const at = await own.recordPeerHead(2, head, peerSigner.publicKey);
    expect(at.index).toBe(1);
    const entry = (await lines(path.join(root, 'p1')))[1];
    expect(entry).toMatchObject({ kind: 'anchor.peer', data: { peer: 2, publicKey: Buffer.from(peerSigner.publicKey).toString('hex'), index: head.index, hash: head.hash, sig: head.sig } });
  });

  it('refuses a peer head that is forged, altered, from another party or malformed', async () => {
    const peerSigner = developmentSigner();
    const peer = await openLog(path.join(root, 'p2'), 2, peerSigner);
    const own = await openLog(path.join(root, 'p1'), 1, developmentSigner());
    const head = await peer.signedHead();
    await expect(own.recordPeerHead(2, head, developmentSigner().publicKey)).rejects.toMatchObject({ code: 'E_AUDIT_PEER_HEAD' });
    await expect(own.recordPeerHead(2, { ...head, index: head.index + 1 }, peerSigner.publicKey)).rejects.toMatchObject({ code: 'E_AUDIT_PEER_HEAD' });
    await expect(own.recordPeerHead(3, head, peerSigner.publicKey)).rejects.toMatchObject({ code: 'E_AUDIT_PEER_HEAD' });
    await expect(own.recordPeerHead(1, { ...head, party: 1 }, peerSigner.publicKey)).rejects.toMatchObject({ code: 'E_AUDIT_PEER_HEAD' });
    await expect(own.recordPeerHead(2, { ...head, hash: 'zz' }, peerSigner.publicKey)).rejects.toMatchObject({ code: 'E_AUDIT_PEER_HEAD' });
    await expect(own.recordPeerHead(2, null, peerSigner.publicKey)).rejects.toMatchObject({ code: 'E_AUDIT_PEER_HEAD' });
    expect(own.head().index).toBe(0);
  });
});
