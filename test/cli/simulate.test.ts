/**
 * `vilna-mpc simulate` as a user runs it, at the 128-bit level, on the committed fixture primes
 * (`--primes`, the precomputed-prime path) so the run takes a minute rather than several: the
 * report's signatures verify under OpenSSL and noble, the derived key matches @scure/bip32 from
 * the reported xpub, and --corrupt exits non-zero naming the corrupt party.
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify as osslVerify, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { HDKey } from '@scure/bip32';
import { CLI_TEST_TIMEOUT_MS } from '../support/timeouts.ts';

const bin = fileURLToPath(new URL('../../bin/vilna-mpc.js', import.meta.url));
const primes = fileURLToPath(new URL('../fixtures/safe-primes.json', import.meta.url));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [bin, 'simulate', '--primes', primes, '--json', ...args], { encoding: 'utf8', timeout: CLI_TEST_TIMEOUT_MS });
  const lines = r.stdout.trim().split('\n');
  return { status: r.status, stderr: r.stderr, report: JSON.parse(lines[lines.length - 1] ?? 'null') as Record<string, unknown> };
}

function spki(compressedHex: string) {
  const prefix = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex');
  return createPublicKey({ key: Buffer.concat([prefix, Buffer.from(compressedHex, 'hex')]), format: 'der', type: 'spki' });
}

interface Sig {
  message: string;
  hash: 'sha256' | 'sha256d' | 'keccak256';
  digest: string;
  r: string;
  s: string;
  recoveryId: number;
  derivationPath: string;
  publicKey: string;
  epoch: number;
  signers: number[];
}

// Each test is one whole `simulate` run: measured at 140 s on a loaded machine, beyond the default.
describe('vilna-mpc simulate (128-bit)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('runs the life cycle and reports signatures that OpenSSL and noble verify', () => {
    const { status, report, stderr } = run(['--parties', '3', '--threshold', '2']);
    expect(status, stderr).toBe(0);
    expect(report.threshold).toBe(2);
    expect(report.parties).toEqual([1, 2, 3]);
    expect(report.rotation).toEqual({ epochBefore: 0, epochAfter: 1, publicKeyUnchanged: true });
    expect(report.reshare).toMatchObject({ parties: [1, 2, 3, 4], threshold: 2, epochBefore: 1, epochAfter: 2, publicKeyUnchanged: true });
    const sigs = report.signatures as Sig[];
    expect(sigs.length).toBeGreaterThanOrEqual(4);
    const root = HDKey.fromExtendedKey(report.xpub as string);
    for (const sig of sigs) {
      expect(sig.r).toMatch(/^[0-9a-f]{64}$/);
      expect(sig.s).toMatch(/^[0-9a-f]{64}$/);
      expect(sig.publicKey).toMatch(/^0[23][0-9a-f]{64}$/);
      const message = Buffer.from(sig.message, 'hex');
      const digest =
        sig.hash === 'sha256'
          ? createHash('sha256').update(message).digest()
          : sig.hash === 'sha256d'
            ? createHash('sha256').update(createHash('sha256').update(message).digest()).digest()
            : Buffer.from(keccak_256(message));
      expect(digest.toString('hex')).toBe(sig.digest);
      const compact = hexToBytes(sig.r + sig.s);
      expect(secp256k1.verify(compact, digest, hexToBytes(sig.publicKey), { prehash: false })).toBe(true);
      const der = new secp256k1.Signature(BigInt('0x' + sig.r), BigInt('0x' + sig.s)).toBytes('der');
      // OpenSSL hashes the data itself: sha256 of the message, or of sha256(message) for sha256d.
      if (sig.hash === 'sha256') expect(osslVerify('sha256', message, spki(sig.publicKey), der)).toBe(true);
      if (sig.hash === 'sha256d') expect(osslVerify('sha256', createHash('sha256').update(message).digest(), spki(sig.publicKey), der)).toBe(true);
      expect(BigInt('0x' + sig.s) <= secp256k1.Point.Fn.ORDER / 2n).toBe(true);
      const expectedKey = sig.derivationPath === 'm' ? root.publicKey! : root.derive(sig.derivationPath).publicKey!;
      expect(sig.publicKey).toBe(Buffer.from(expectedKey).toString('hex'));
      const recovered = new secp256k1.Signature(BigInt('0x' + sig.r), BigInt('0x' + sig.s)).addRecoveryBit(sig.recoveryId).recoverPublicKey(digest);
      expect(recovered.toHex(true)).toBe(sig.publicKey);
    }
  });

  it('names the corrupt party and exits non-zero (keygen Schnorr proof)', () => {
    const { status, report } = run(['--parties', '3', '--threshold', '2', '--corrupt', '2:sch']);
    expect(status).not.toBe(0);
    expect(report).toMatchObject({ aborted: true, protocol: 'keygen', culprits: [2], reason: 'invalid-proof' });
  });

  it('identifies a wrong δ share in presigning at the 128-bit level', () => {
    const { status, report } = run(['--parties', '3', '--threshold', '2', '--corrupt', '3:delta']);
    expect(status).not.toBe(0);
    expect(report).toMatchObject({ aborted: true, protocol: 'presign', culprits: [3], reason: 'delta-share' });
  });
});
