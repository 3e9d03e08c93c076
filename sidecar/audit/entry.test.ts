import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { developmentSigner, verifyIdentitySignature } from '../../cggmp/protocols/index.ts';
import { auditDataSnapshot, canonicalJson, decodeLine, encodeLine, headSigningBytes, isLowS, isSecretLikeKey, signLowS, type AuditEntry } from './entry.ts';

const utf8 = new TextEncoder();

function sampleEntry(): AuditEntry {
  return { v: 1, index: 3, time: '2026-01-02T03:04:05.678Z', party: 2, kind: 'session.end', data: { sessionId: 'ab', outcome: 'ok' }, prev: 'a'.repeat(64), sig: 'b'.repeat(128) };
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: null, y: true }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":true,"z":null}]},"b":1}');
  });

  it('gives back the same text for anything it produced, after a JSON round trip', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
    );
  });

  it('refuses values JSON cannot carry unchanged', () => {
    for (const bad of [{ a: 1n }, { a: Number.NaN }, { a: Infinity }, { a: undefined }, { a: new Uint8Array(2) }, { a: new Date(0) }]) {
      expect(() => canonicalJson(bad)).toThrow(/E_AUDIT_DATA/);
    }
  });
});

describe('secret guard', () => {
  it('flags keys named like secrets, shares, private keys or PINs in any spelling', () => {
    for (const key of ['secret', 'Secret', 'sharedSecret', 'share', 'SHARE', 'secretShare', 'shares', 'shard', 'privateKey', 'private_key', 'PRIVATE-KEY', 'privKey', 'pin', 'userPin', 'user_pin', 'PIN', 'password', 'mnemonic', 'seed', 'share1']) {
      expect(isSecretLikeKey(key), key).toBe(true);
    }
  });

  it('lets ordinary and public names through', () => {
    for (const key of ['publicKey', 'publicShares', 'sessionId', 'pinned', 'pinnedApprovers', 'shipping', 'digest', 'signers', 'epoch', 'hash', 'sig']) {
      expect(isSecretLikeKey(key), key).toBe(false);
    }
  });

  it('refuses a secret-looking key at any depth, including inside arrays', () => {
    expect(() => auditDataSnapshot({ a: { b: [{ c: 1 }, { secretShare: 'x' }] } })).toThrow(/E_AUDIT_DATA: data\.a\.b\[1\]\.secretShare/);
    expect(() => auditDataSnapshot({ Pin: '1234' })).toThrow(/E_AUDIT_DATA/);
  });

  it('never puts the refused value in the error message', () => {
    try {
      auditDataSnapshot({ privateKey: 'deadbeefcafe' });
      expect.unreachable();
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('deadbeefcafe');
    }
  });
});

describe('decodeLine', () => {
  it('accepts the canonical line of an entry and returns the same entry', () => {
    const e = sampleEntry();
    const decoded = decodeLine(encodeLine(e));
    expect(decoded).toEqual({ ok: true, entry: e });
  });

  it('refuses whitespace, reordered keys, duplicated keys and extra fields', () => {
    const text = new TextDecoder().decode(encodeLine(sampleEntry()));
    expect(decodeLine(utf8.encode(text.replace('{"data"', '{ "data"')))).toMatchObject({ ok: false, reason: 'line is not in canonical form' });
    const reordered = JSON.stringify({ ...sampleEntry(), v: undefined }).replace(/^\{/, '{"v":1,');
    expect(decodeLine(utf8.encode(reordered))).toMatchObject({ ok: false, reason: 'line is not in canonical form' });
    expect(decodeLine(utf8.encode(text.replace('"index":3', '"index":3,"index":3')))).toMatchObject({ ok: false, reason: 'line is not in canonical form' });
    expect(decodeLine(utf8.encode(text.replace('"v":1', '"v":1,"w":1')))).toMatchObject({ ok: false, reason: 'entry has missing or unexpected fields' });
  });

  it('refuses invalid UTF-8, non-JSON and badly typed fields with a reason naming the field', () => {
    expect(decodeLine(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({ ok: false, reason: 'line is not valid UTF-8' });
    expect(decodeLine(utf8.encode('{"a":'))).toMatchObject({ ok: false, reason: 'line is not JSON' });
    const e = sampleEntry();
    expect(decodeLine(encodeLine({ ...e, prev: 'A'.repeat(64) }))).toMatchObject({ ok: false, reason: 'prev is not 64 lowercase hex digits' });
    expect(decodeLine(encodeLine({ ...e, time: '2026-01-02 03:04:05' }))).toMatchObject({ ok: false, reason: 'time is not an ISO-8601 UTC timestamp' });
    expect(decodeLine(encodeLine({ ...e, party: 0 }))).toMatchObject({ ok: false, reason: 'party is not a party number' });
    expect(decodeLine(encodeLine({ ...e, index: -1 }))).toMatchObject({ ok: false, reason: 'index is not a non-negative integer' });
  });
});

describe('signatures', () => {
  it('stores the low-s form whatever s the signer returns, and it still verifies', async () => {
    const inner = developmentSigner();
    const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    // A signer that always answers with the high-s twin of a valid signature.
    const highS = {
      publicKey: inner.publicKey,
      sign: async (m: Uint8Array) => {
        const sig = Buffer.from(await inner.sign(m));
        const s = BigInt('0x' + sig.subarray(32).toString('hex'));
        const high = s > N / 2n ? s : N - s;
        return new Uint8Array(Buffer.concat([sig.subarray(0, 32), Buffer.from(high.toString(16).padStart(64, '0'), 'hex')]));
      },
    };
    const message = utf8.encode('audit');
    const sig = await signLowS(highS, message);
    expect(isLowS(sig)).toBe(true);
    expect(verifyIdentitySignature(inner.publicKey, message, Buffer.from(sig, 'hex'))).toBe(true);
  });

  it('binds party, index and hash into the signed head bytes', () => {
    const base = headSigningBytes(1, { index: 5, hash: 'c'.repeat(64) });
    expect(headSigningBytes(2, { index: 5, hash: 'c'.repeat(64) })).not.toEqual(base);
    expect(headSigningBytes(1, { index: 6, hash: 'c'.repeat(64) })).not.toEqual(base);
    expect(headSigningBytes(1, { index: 5, hash: 'd'.repeat(64) })).not.toEqual(base);
  });
});
