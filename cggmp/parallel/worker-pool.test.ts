/**
 * Proof work on worker threads (parallel/): a presignature made with the pool signs under the
 * key (OpenSSL and @noble/curves verify), results and errors cross threads unchanged, and a
 * corrupt signer is still named when its proofs are checked in another thread.
 */
import { createPublicKey, verify as osslVerify } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, describe, expect, it } from 'vitest';
import { simKey, unwrap } from '../../test/support/ceremony.ts';
import { TEST_LEVEL } from '../../test/support/test-level.ts';
import { randomShifted, randomZnStar } from '../arith/index.ts';
import { G, IDENTITY, mulG, Point } from '../curve/index.ts';
import { InvalidInputError, ProofInvalidError } from '../errors.ts';
import { ProtocolAbort } from '../protocols/abort.ts';
import { verifyAbortEvidence } from '../protocols/evidence.ts';
import { presign, PRESIGN_ROUNDS } from '../protocols/presign.ts';
import { sign } from '../protocols/sign.ts';
import { corruptWrap, runSession } from '../sim/run.ts';
import { proveEncElg } from '../zk/index.ts';
import { paillierSecretKeyUnchecked } from '../paillier/index.ts';
import { decode, encode } from './codec.ts';
import { errorFromWire, errorToWire } from './errors.ts';
import { inlineWork, workerPool } from './index.ts';
import type { Encodable } from '../transcript/index.ts';

const pool = workerPool({ size: 2 });
afterAll(() => pool.close());

function spki(pub: Point) {
  const prefix = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');
  return createPublicKey({ key: Buffer.concat([prefix, Buffer.from(pub.toBytes(true))]), format: 'der', type: 'spki' });
}

describe('the codec between threads', () => {
  it('rebuilds points (the identity too), bigints, bytes and nested records', () => {
    const v = { a: [mulG(5n), IDENTITY], b: { n: 7n, bytes: new Uint8Array([1, 2]), s: 'x', u: undefined } };
    const back = decode(structuredClone(encode(v))) as typeof v;
    expect(back.a[0]).toBeInstanceOf(Point);
    expect(back.a[0]!.equals(mulG(5n))).toBe(true);
    expect(back.a[1]!.is0()).toBe(true);
    expect(back.b).toEqual({ n: 7n, bytes: new Uint8Array([1, 2]), s: 'x', u: undefined });
  });

  it('never sends a key context: a secret key crosses as its primes, and no key comes back', async () => {
    const key = await simKey(TEST_LEVEL, 2, 2);
    const { p, q } = key.shares.get(1)!.secret.paillier!;
    const wire = encode({ sk: paillierSecretKeyUnchecked(p, q) }) as { sk: Record<string, unknown> };
    expect(Object.keys(wire.sk)).toEqual(['$paillier']);
    expect(() => decode(wire)).toThrow(/secret key crossed back/);
  });

  it('keeps the library’s error classes and fields, and turns anything else into a plain Error', () => {
    const proof = errorFromWire(errorToWire(new ProofInvalidError('Π^aff-g', 'z1 ∈ ±2^(ℓ+ε)')));
    expect(proof).toBeInstanceOf(ProofInvalidError);
    expect(proof).toMatchObject({ code: 'E_PROOF_INVALID', proof: 'Π^aff-g', check: 'z1 ∈ ±2^(ℓ+ε)', message: 'Π^aff-g: z1 ∈ ±2^(ℓ+ε) failed' });
    const input = errorFromWire(errorToWire(new InvalidInputError('D', 'not coprime to the modulus')));
    expect(input).toBeInstanceOf(InvalidInputError);
    expect(input).toMatchObject({ field: 'D', message: 'D: not coprime to the modulus' });
    const other = errorFromWire(errorToWire(new TypeError('x is undefined')));
    expect(other.constructor).toBe(Error);
    expect(other.message).toBe('proof worker: TypeError: x is undefined');
  });
});

describe('a worker pool', async () => {
  const key = await simKey(TEST_LEVEL, 3, 2);

  it('makes presignatures that sign under the key (OpenSSL and noble verify)', async () => {
    const signers = [1, 3];
    const presigs = unwrap(await runSession({ protocol: 'presign', group: key.group, parties: signers }, (s) => presign(s, { level: TEST_LEVEL, share: key.shares.get(s.params.self)!, work: pool })));
    const sid = presigs.get(1)!.binding.sid;
    const message = new TextEncoder().encode('proofs on worker threads');
    const sigs = unwrap(await runSession({ protocol: 'sign', group: key.group, parties: signers, sid }, (s) => sign(s, presigs.get(s.params.self)!, { message, hash: 'sha256' })));
    for (const sig of sigs.values()) {
      expect(osslVerify('sha256', message, spki(sig.publicKey), Buffer.from(sig.der))).toBe(true);
      const digest = Buffer.from(sig.digest);
      expect(secp256k1.verify(new secp256k1.Signature(sig.r, sig.s).toBytes('compact'), digest, sig.publicKey.toBytes(true), { prehash: false })).toBe(true);
      expect(sig.publicKey.equals(key.shares.get(1)!.public.publicKey)).toBe(true);
    }
  });

  it('gives what inline work gives for a deterministic task, and the same error for a bad proof', async () => {
    const share = key.shares.get(2)!;
    const sk = paillierSecretKeyUnchecked(share.secret.paillier!.p, share.secret.paillier!.q);
    const R = share.public.aux![0]!.R;
    const x = randomShifted(1n << BigInt(TEST_LEVEL.ell));
    const rho = randomZnStar(sk.N);
    const [inline, threaded] = await Promise.all([inlineWork.run('commitNonce', sk, x, rho), pool.run('commitNonce', sk, x, rho)]);
    expect(threaded).toBe(inline);
    // A Π^enc-elg made here, checked in a worker: valid, then with z1 changed.
    const Y = mulG(11n);
    const ctx = { sessionId: new Uint8Array(32), prover: 2, rid: new Uint8Array(0) };
    const A1 = mulG(3n);
    const stmt = { N0: sk.N, C: inline, A: Y, B: A1, X: Y.multiply(3n).add(G.multiply(((x.value - x.offset) % secp256k1.Point.Fn.ORDER + secp256k1.Point.Fn.ORDER) % secp256k1.Point.Fn.ORDER)) };
    const proof = proveEncElg(TEST_LEVEL, ctx, R, stmt, { x, rho, b: 3n }, sk);
    await expect(pool.run('verifyEncElg', TEST_LEVEL, ctx, R, stmt, proof)).resolves.toBeUndefined();
    const bad = { ...proof, z1: proof.z1 + 1n };
    const inlineError = await inlineWork.run('verifyEncElg', TEST_LEVEL, ctx, R, stmt, bad).catch((e: unknown) => e);
    const threadError = await pool.run('verifyEncElg', TEST_LEVEL, ctx, R, stmt, bad).catch((e: unknown) => e);
    expect(inlineError).toBeInstanceOf(ProofInvalidError);
    expect(threadError).toBeInstanceOf(ProofInvalidError);
    expect((threadError as Error).message).toBe((inlineError as Error).message);
  });

  it('still names the signer whose Π^aff-g is bad, with evidence', async () => {
    const signers = [1, 2, 3];
    const key3 = await simKey(TEST_LEVEL, 3, 3);
    type Rec = Record<string, Encodable>;
    const outcomes = await runSession(
      {
        protocol: 'presign',
        group: key3.group,
        parties: signers,
        awaitParties: [1, 3],
        wrap: corruptWrap(key3.group, signers, 2, (m) => {
          if (m.round !== PRESIGN_ROUNDS.mta || m.recipient === 0) return undefined;
          const v = m.value as Rec;
          return { value: { ...v, psi: { ...(v.psi as Rec), z2: ((v.psi as Rec).z2 as bigint) + 1n } } };
        }),
      },
      (s) => presign(s, { level: TEST_LEVEL, share: key3.shares.get(s.params.self)!, work: pool }),
    );
    for (const p of [1, 3]) {
      const o = outcomes.get(p)!;
      expect(o.ok).toBe(false);
      const abort = (o as { error: unknown }).error as ProtocolAbort;
      expect(abort).toBeInstanceOf(ProtocolAbort);
      expect(abort.culprits).toEqual([2]);
      expect(abort.reason).toBe('invalid-proof');
      expect(verifyAbortEvidence(abort, { identities: key3.group.identities, level: TEST_LEVEL, key: key3.shares.get(p)!.public })).toBe(true);
    }
  });

  it('refuses work once closed, and a bad size up front', async () => {
    const small = workerPool({ size: 1 });
    await small.close();
    const { p, q } = key.shares.get(1)!.secret.paillier!;
    await expect(small.run('decryptMtaShare', paillierSecretKeyUnchecked(p, q), 1n)).rejects.toThrow(/closed/);
    expect(() => workerPool({ size: 0 })).toThrow(RangeError);
    expect(() => workerPool({ size: 1.5 })).toThrow(RangeError);
  });
});
