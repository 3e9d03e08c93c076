/**
 * Key share serialisation (DESIGN §3): the public and the secret part each encode canonically
 * (transcript/encode.ts) under a version tag, separately, so the public part can be shared and
 * the secret part sealed on its own; loading checks the schema and the share's own consistency
 * (public shares interpolate to the key, x·G is this party's public share, the Paillier primes
 * are safe and make this party's N) before anything uses it.
 */
import { bitLength } from '../arith/index.ts';
import { CURVE_ORDER, IDENTITY, mulG, mulPointPublic } from '../curve/index.ts';
import { InvalidInputError } from '../errors.ts';
import { paillierPublicKey, paillierSecretKeyFromPrimes } from '../paillier/index.ts';
import type { SecurityLevel } from '../params.ts';
import { ringPedersenParams } from '../ring-pedersen/index.ts';
import { decodeValue, encodeValue, type Decoded, type Encodable } from '../transcript/index.ts';
import { assertScalar } from '../validate.ts';
import { bytes, exactRecord, int, list, num, point, points, record } from './fields.ts';
import { KEY_SHARE_VERSION, type AuxPublic, type KeyShare, type KeySharePublic, type KeyShareSecret } from './key-share.ts';
import { lagrangeAtZero } from './polynomial.ts';

const PUBLIC_KIND = 'vilna-mpc/key-share/public';
const SECRET_KIND = 'vilna-mpc/key-share/secret';

export function encodeKeySharePublic(p: KeySharePublic): Uint8Array {
  const value: { [k: string]: Encodable } = {
    kind: PUBLIC_KIND,
    version: p.version,
    curve: p.curve,
    keyId: p.keyId,
    epoch: p.epoch,
    threshold: p.threshold,
    parties: [...p.parties],
    publicKey: p.publicKey,
    publicShares: [...p.publicShares],
    chainCode: p.chainCode,
  };
  if (p.aux) value.aux = p.aux.map((a) => ({ N: a.N, Nhat: a.R.N, s: a.R.s, t: a.R.t }));
  return encodeValue(value);
}

export function encodeKeyShareSecret(s: KeyShareSecret): Uint8Array {
  const value: { [k: string]: Encodable } = { kind: SECRET_KIND, version: KEY_SHARE_VERSION, index: s.index, x: s.x };
  if (s.paillier) value.paillier = { p: s.paillier.p, q: s.paillier.q };
  return encodeValue(value);
}

function readPublic(v: Decoded, level: SecurityLevel): KeySharePublic {
  const keys = ['kind', 'version', 'curve', 'keyId', 'epoch', 'threshold', 'parties', 'publicKey', 'publicShares', 'chainCode'];
  const r0 = record(v, 'public key share');
  const r = exactRecord(v, 'public key share', 'aux' in r0 ? [...keys, 'aux'] : keys);
  if (r.kind !== PUBLIC_KIND) throw new InvalidInputError('kind', 'not a public key share');
  if (num(r, 'version') !== KEY_SHARE_VERSION) throw new InvalidInputError('version', 'unsupported key share version');
  if (r.curve !== 'secp256k1') throw new InvalidInputError('curve', 'unsupported curve');
  if (typeof r.keyId !== 'string' || r.keyId.length === 0 || r.keyId.length > 253) throw new InvalidInputError('keyId', 'missing or too long');
  const epoch = num(r, 'epoch');
  const parties = list(r, 'parties').map((p, i) => {
    if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 1) throw new InvalidInputError(`parties[${i}]`, 'not a party number');
    return p;
  });
  if (parties.length < 2 || parties.length > 16 || parties.some((p, i) => i > 0 && p <= parties[i - 1]!)) {
    throw new InvalidInputError('parties', '2 to 16 distinct party numbers, ascending');
  }
  const threshold = num(r, 'threshold');
  if (!Number.isSafeInteger(threshold) || threshold < 2 || threshold > parties.length) throw new InvalidInputError('threshold', 'must satisfy 2 ≤ t ≤ n');
  const publicKey = point(r, 'publicKey');
  const publicShares = points(r, 'publicShares', parties.length);
  // Any t public shares interpolate to the key (checked on every t-subset of consecutive holders).
  for (let start = 0; start + threshold <= parties.length; start++) {
    const subset = parties.slice(start, start + threshold).map(BigInt);
    const Y = subset.reduce((acc, x, k) => acc.add(mulPointPublic(publicShares[start + k]!, lagrangeAtZero(subset, x))), IDENTITY);
    if (!Y.equals(publicKey)) throw new InvalidInputError('publicShares', 'do not interpolate to the public key');
  }
  const base: KeySharePublic = {
    version: KEY_SHARE_VERSION,
    curve: 'secp256k1',
    keyId: r.keyId,
    epoch,
    threshold,
    parties,
    publicKey,
    publicShares,
    chainCode: bytes(r, 'chainCode', 32),
  };
  if (!('aux' in r)) return base;
  const aux: AuxPublic[] = list(r, 'aux', parties.length).map((a, i) => {
    const e = exactRecord(a, `aux[${i}]`, ['N', 'Nhat', 's', 't']);
    return { N: paillierPublicKey(int(e, 'N'), level, `aux[${i}].N`).N, R: ringPedersenParams({ N: int(e, 'Nhat'), s: int(e, 's'), t: int(e, 't') }, level) };
  });
  return { ...base, aux };
}

function readSecret(v: Decoded): KeyShareSecret {
  const r0 = record(v, 'secret key share');
  const keys = ['kind', 'version', 'index', 'x'];
  const r = exactRecord(v, 'secret key share', 'paillier' in r0 ? [...keys, 'paillier'] : keys);
  if (r.kind !== SECRET_KIND) throw new InvalidInputError('kind', 'not a secret key share');
  if (num(r, 'version') !== KEY_SHARE_VERSION) throw new InvalidInputError('version', 'unsupported key share version');
  const x = int(r, 'x');
  assertScalar(x, CURVE_ORDER, 'x');
  const out: KeyShareSecret = { index: num(r, 'index'), x };
  if (!('paillier' in r)) return out;
  const p = exactRecord(r.paillier, 'paillier', ['p', 'q']);
  return { ...out, paillier: { p: int(p, 'p'), q: int(p, 'q') } };
}

/** Loads a key share from its two encodings, checking schema and consistency. */
export function decodeKeyShare(publicBytes: Uint8Array, secretBytes: Uint8Array, level: SecurityLevel): KeyShare {
  const pub = readPublic(decodeValue(publicBytes), level);
  const secret = readSecret(decodeValue(secretBytes));
  const at = pub.parties.indexOf(secret.index);
  if (at < 0) throw new InvalidInputError('index', 'this party holds no share of the key');
  if (!mulG(secret.x).equals(pub.publicShares[at]!)) throw new InvalidInputError('x', 'does not match this party’s public share');
  if (secret.paillier) {
    if (!pub.aux) throw new InvalidInputError('paillier', 'present without aux data');
    const sk = paillierSecretKeyFromPrimes(secret.paillier.p, secret.paillier.q, level);
    if (sk.N !== pub.aux[at]!.N || bitLength(sk.N) !== level.modulusBits) throw new InvalidInputError('paillier', 'primes do not make this party’s N');
  }
  return { public: pub, secret };
}
