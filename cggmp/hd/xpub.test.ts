import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HDKey } from '@scure/bip32';
import { base58, createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { InvalidInputError } from '../errors.ts';
import { CURVE_ORDER, Point, mulG } from '../curve/index.ts';
import {
  HARDENED_OFFSET,
  deriveExtendedKey,
  deriveShift,
  formatPath,
  keyFingerprint,
  masterExtendedKey,
  parseXpub,
  serializeXpub,
  xpub,
  xpubAt,
} from './index.ts';

const MAX_INDEX = HARDENED_OFFSET - 1;
const base58check = createBase58check(sha256);

/** Extended public keys published in BIP32 "Test Vectors" 1 and 2 (H = hardened step). */
const VECTOR_1 = {
  m: 'xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8',
  m_0H: 'xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw',
  m_0H_1: 'xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ',
  m_0H_1_2H: 'xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5',
  m_0H_1_2H_2: 'xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQUMv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV',
  m_0H_1_2H_2_1000000000:
    'xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy',
} as const;

const VECTOR_2 = {
  m: 'xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB',
  m_0: 'xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH',
  m_0_2147483647H:
    'xpub6ASAVgeehLbnwdqV6UKMHVzgqAG8Gr6riv3Fxxpj8ksbH9ebxaEyBLZ85ySDhKiLDBrQSARLq1uNRts8RuJiHjaDMBU4Zn9h8LZNnBC5y4a',
  m_0_2147483647H_1:
    'xpub6DF8uhdarytz3FWdA8TvFSvvAh8dP3283MY7p2V4SeE2wyWmG5mg5EwVvmdMVCQcoNJxGoWaU9DCWh89LojfZ537wTfunKau47EL2dhHKon',
  m_0_2147483647H_1_2147483646H:
    'xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL',
  m_0_2147483647H_1_2147483646H_2:
    'xpub6FnCn6nSzZAw5Tw7cgR9bi15UV96gLZhjDstkXXxvCLsUXBGXPdSnLFbdpq8p9HmGsApME5hQTZ3emM2rnY5agb9rXpVGyy3bdW6EEgAtqt',
} as const;

/** Every non-hardened step of the two vectors: parent xpub, relative path, published child xpub. */
const PUBLIC_STEPS: ReadonlyArray<readonly [string, string, string]> = [
  [VECTOR_1.m_0H, 'm/1', VECTOR_1.m_0H_1],
  [VECTOR_1.m_0H_1_2H, 'm/2', VECTOR_1.m_0H_1_2H_2],
  [VECTOR_1.m_0H_1_2H_2, 'm/1000000000', VECTOR_1.m_0H_1_2H_2_1000000000],
  [VECTOR_1.m_0H_1_2H, 'm/2/1000000000', VECTOR_1.m_0H_1_2H_2_1000000000],
  [VECTOR_2.m, 'm/0', VECTOR_2.m_0],
  [VECTOR_2.m_0_2147483647H, 'm/1', VECTOR_2.m_0_2147483647H_1],
  [VECTOR_2.m_0_2147483647H_1_2147483646H, 'm/2', VECTOR_2.m_0_2147483647H_1_2147483646H_2],
];

/** Re-encodes a valid xpub after changing its 78-byte payload (checksum recomputed). */
function tamper(str: string, change: (payload: Uint8Array) => Uint8Array): string {
  return base58check.encode(change(base58check.decode(str).slice()));
}

function refusal(str: unknown): InvalidInputError {
  try {
    parseXpub(str);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    return e as InvalidInputError;
  }
  throw new Error('accepted');
}

describe('BIP32 test vectors, public derivation steps', () => {
  it('derives every published non-hardened child from its published parent', () => {
    for (const [parent, path, child] of PUBLIC_STEPS) {
      expect(serializeXpub(deriveExtendedKey(parseXpub(parent), path)), `${parent} ${path}`).toBe(child);
    }
  });

  it('vector 2: m → m/0 from the master xpub through xpubAt and deriveShift', () => {
    const master = parseXpub(VECTOR_2.m);
    const child = parseXpub(VECTOR_2.m_0);
    expect(xpub(master.publicKey, master.chainCode)).toBe(VECTOR_2.m);
    expect(xpubAt(master.publicKey, master.chainCode, 'm/0')).toBe(VECTOR_2.m_0);
    const d = deriveShift(master.publicKey, master.chainCode, [0]);
    expect(d.publicKey.equals(child.publicKey)).toBe(true);
    expect(d.chainCode).toEqual(child.chainCode);
    expect(master.publicKey.add(mulG(d.shift)).equals(child.publicKey)).toBe(true);
    expect(child.parentFingerprint).toBe(keyFingerprint(master.publicKey));
    expect(keyFingerprint(master.publicKey)).toBe(0xbd16bee5);
  });

  it('round-trips every published xpub', () => {
    for (const s of [...Object.values(VECTOR_1), ...Object.values(VECTOR_2)]) {
      expect(serializeXpub(parseXpub(s))).toBe(s);
    }
    const k = parseXpub(VECTOR_1.m_0H_1_2H_2_1000000000);
    expect(k.depth).toBe(5);
    expect(k.childNumber).toBe(1_000_000_000);
    const h = parseXpub(VECTOR_2.m_0_2147483647H);
    expect(h.childNumber).toBe(HARDENED_OFFSET + MAX_INDEX);
  });

  it('refuses the hardened steps', () => {
    expect(() => deriveExtendedKey(parseXpub(VECTOR_1.m), "m/0'")).toThrow(/path\[0\].*hardened/);
    expect(() => deriveExtendedKey(parseXpub(VECTOR_2.m_0), [MAX_INDEX + 1])).toThrow(/hardened/);
  });
});

describe('xpub and xpubAt', () => {
  const arbKey = fc.bigInt(1n, CURVE_ORDER - 1n).map((k) => mulG(k));
  const arbChainCode = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const arbIndex = fc.oneof(fc.constantFrom(0, MAX_INDEX), fc.integer({ min: 0, max: MAX_INDEX }));

  it('equal @scure/bip32 for random keys, chain codes and paths', () => {
    fc.assert(
      fc.property(arbKey, arbChainCode, fc.array(arbIndex, { maxLength: 6 }), (K, c, path) => {
        const root = xpub(K, c);
        const reference = HDKey.fromExtendedKey(root).derive(formatPath(path));
        expect(xpubAt(K, c, path)).toBe(reference.publicExtendedKey);
        const parsed = parseXpub(xpubAt(K, c, path));
        expect(parsed.depth).toBe(path.length);
        expect(parsed.childNumber).toBe(path.at(-1) ?? 0);
        expect(bytesToHex(parsed.publicKey.toBytes(true))).toBe(bytesToHex(reference.publicKey!));
      }),
      { numRuns: 40 },
    );
  });

  it('sets depth, parent fingerprint and child number at depth 1 and depth 5', () => {
    const K = mulG(987654321n);
    const c = new Uint8Array(32).fill(0x5a);
    for (const path of [[0], [MAX_INDEX], [MAX_INDEX, 0, 1, 2, MAX_INDEX], [0, 0, 0, 0, 0]]) {
      const key = parseXpub(xpubAt(K, c, path));
      const parent = deriveShift(K, c, path.slice(0, -1));
      expect(key.depth).toBe(path.length);
      expect(key.childNumber).toBe(path.at(-1));
      expect(key.parentFingerprint).toBe(keyFingerprint(parent.publicKey));
      expect(xpubAt(K, c, path)).toBe(HDKey.fromExtendedKey(xpub(K, c)).derive(formatPath(path)).publicExtendedKey);
    }
  });

  it('gives the depth-0 xpub for "m" with zero fingerprint and child number', () => {
    const K = mulG(31337n);
    const c = new Uint8Array(32).fill(7);
    expect(xpubAt(K, c, 'm')).toBe(xpub(K, c));
    expect(parseXpub(xpub(K, c))).toMatchObject({ depth: 0, parentFingerprint: 0, childNumber: 0 });
  });

  it('refuses a path that would go past depth 255 below a deep parent', () => {
    const deep = { ...masterExtendedKey(mulG(2n), new Uint8Array(32)), depth: 254, parentFingerprint: 1, childNumber: 1 };
    expect(deriveExtendedKey(deep, [0]).depth).toBe(255);
    expect(() => deriveExtendedKey(deep, [0, 0])).toThrow(/depth 256/);
  });

  it('validates its inputs', () => {
    expect(() => xpub(mulG(1n), new Uint8Array(16))).toThrow(/chainCode/);
    expect(() => xpub(Point.ZERO, new Uint8Array(32))).toThrow(/publicKey/);
    const root = masterExtendedKey(mulG(2n), new Uint8Array(32));
    expect(() => serializeXpub({ ...root, parentFingerprint: 1 })).toThrow(/parentFingerprint: must be 0 at depth 0/);
    expect(() => serializeXpub({ ...root, depth: 256 })).toThrow(/depth/);
    expect(() => serializeXpub({ ...root, depth: 1, childNumber: 2 ** 32 })).toThrow(/childNumber/);
  });
});

describe('parseXpub', () => {
  const good = VECTOR_2.m_0;

  it('rejects a bad checksum', () => {
    const raw = base58.decode(good);
    raw[raw.length - 1]! ^= 0x01;
    expect(refusal(base58.encode(raw)).message).toMatch(/checksum/);
    const payloadFlip = base58.decode(good);
    payloadFlip[40]! ^= 0x80;
    expect(refusal(base58.encode(payloadFlip)).message).toMatch(/checksum/);
  });

  it('rejects characters outside the Base58 alphabet and non-strings', () => {
    for (const ch of ['0', 'O', 'I', 'l', ' ', '+']) {
      expect(refusal(good.slice(0, 50) + ch + good.slice(51)).message).toMatch(/Base58/);
    }
    expect(refusal(42).message).toMatch(/not a string/);
    expect(refusal('').message).toMatch(/bytes/);
    expect(refusal('1'.repeat(5000)).message).toMatch(/too long/);
  });

  it('rejects wrong versions, naming an xprv without repeating it', () => {
    const testnet = tamper(good, (p) => (new DataView(p.buffer).setUint32(0, 0x043587cf), p));
    expect(refusal(testnet).message).toMatch(/version/);
    const xprv = tamper(good, (p) => (new DataView(p.buffer).setUint32(0, 0x0488ade4), p));
    expect(xprv.startsWith('xprv')).toBe(true);
    const e = refusal(xprv);
    expect(e.message).toMatch(/private/);
    expect(e.message).not.toContain(xprv.slice(4, 20));
  });

  it('rejects wrong lengths with a valid checksum', () => {
    expect(refusal(tamper(good, (p) => p.slice(0, 77))).message).toMatch(/got 81 bytes/);
    expect(refusal(tamper(good, (p) => p.slice(0, 30))).message).toMatch(/got 34 bytes/);
    // 79 bytes + checksum is already longer in Base58 than any 82-byte string can be.
    expect(refusal(tamper(good, (p) => Uint8Array.of(...p, 0))).message).toMatch(/too long/);
    expect(refusal(base58.encode(new Uint8Array(83))).message).toMatch(/got 83 bytes/);
  });

  it('rejects keys that are not compressed points on secp256k1', () => {
    // Smallest x for which x³ + 7 has no square root mod p: 0x02‖x decodes to no point.
    let x = 1n;
    const compressed = (prefix: number, xx: bigint): Uint8Array => {
      const out = new Uint8Array(33);
      out[0] = prefix;
      out.set(Uint8Array.from(xx.toString(16).padStart(64, '0').match(/../g)!.map((h) => parseInt(h, 16))), 1);
      return out;
    };
    for (;;) {
      try {
        Point.fromBytes(compressed(0x02, x));
        x++;
      } catch {
        break;
      }
    }
    const keyAt = (key: Uint8Array) => tamper(good, (p) => (p.set(key, 45), p));
    for (const key of [compressed(0x02, x), compressed(0x03, (1n << 256n) - 1n), compressed(0x04, 1n), compressed(0x00, 5n)]) {
      const e = refusal(keyAt(key));
      expect(e.field).toBe('xpub.publicKey');
      expect(e.message).toMatch(/point/);
    }
  });

  it('rejects a depth-0 key with a parent fingerprint or child number', () => {
    const master = VECTOR_2.m;
    expect(refusal(tamper(master, (p) => ((p[8] = 1), p))).field).toBe('xpub.parentFingerprint');
    expect(refusal(tamper(master, (p) => ((p[12] = 1), p))).field).toBe('xpub.childNumber');
  });
});
