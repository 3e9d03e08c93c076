import { generateKeyPairSync, randomBytes, verify as osslVerify, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  approvalMessage,
  approverPublicKeyHex,
  signApproval,
  signingApprovalMessage,
  signingRequestHash,
  signSigningApproval,
  verifyApproval,
  verifySigningApproval,
  type Approval,
  type SigningRequest,
} from './approval.ts';
import { ContractError } from './canonical.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const approverHex = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
const hash = new Uint8Array(randomBytes(32));

function flipHexBit(hex: string, at: number): string {
  const b = Buffer.from(hex, 'hex');
  b[at] = b[at]! ^ 1;
  return b.toString('hex');
}

describe('plan approvals', () => {
  it('signs with a PEM or a KeyObject and names the approver by its public key', () => {
    const a = signApproval(hash, pem);
    expect(a.approver).toBe(approverHex);
    expect(a.planHash).toBe(bytesToHex(hash));
    expect(a.signature).toMatch(/^[0-9a-f]{128}$/);
    expect(signApproval(bytesToHex(hash), privateKey)).toEqual(a); // Ed25519 is deterministic
    expect(verifyApproval(a)).toBe(true);
  });

  it('signs exactly u32be(21) ‖ "vilna-mpc/approval/v1" ‖ planHash', () => {
    const expected = Buffer.concat([Buffer.from([0, 0, 0, 21]), Buffer.from('vilna-mpc/approval/v1'), hash]);
    expect(Buffer.from(approvalMessage(hash)).equals(expected)).toBe(true);
  });

  it('verifies under OpenSSL (node:crypto) too', () => {
    const a = signApproval(hash, pem);
    expect(osslVerify(null, approvalMessage(hash), publicKey, Buffer.from(a.signature, 'hex'))).toBe(true);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(a.approver, 'hex')]);
    expect(osslVerify(null, approvalMessage(a.planHash), createPublicKey({ key: spki, format: 'der', type: 'spki' }), Buffer.from(a.signature, 'hex'))).toBe(true);
  });

  it('accepts a signature made by another implementation (noble) over the same bytes', () => {
    const secret = ed25519.utils.randomSecretKey();
    const a: Approval = { planHash: bytesToHex(hash), approver: bytesToHex(ed25519.getPublicKey(secret)), signature: bytesToHex(ed25519.sign(approvalMessage(hash), secret)) };
    expect(verifyApproval(a)).toBe(true);
  });

  it('rejects a flipped bit in the signature, the hash or the approver', () => {
    const a = signApproval(hash, pem);
    expect(verifyApproval({ ...a, signature: flipHexBit(a.signature, 0) })).toBe(false);
    expect(verifyApproval({ ...a, signature: flipHexBit(a.signature, 40) })).toBe(false);
    expect(verifyApproval({ ...a, planHash: flipHexBit(a.planHash, 31) })).toBe(false);
    expect(verifyApproval({ ...a, approver: flipHexBit(a.approver, 5) })).toBe(false);
  });

  it('rejects another approver claiming the signature', () => {
    const a = signApproval(hash, pem);
    const other = signApproval(hash, generateKeyPairSync('ed25519').privateKey);
    expect(verifyApproval({ ...a, approver: other.approver })).toBe(false);
  });

  it('returns false, without throwing, for malformed approvals', () => {
    const a = signApproval(hash, pem);
    expect(verifyApproval({ ...a, signature: a.signature.toUpperCase() })).toBe(false);
    expect(verifyApproval({ ...a, extra: 1 } as Approval)).toBe(false);
    expect(verifyApproval(null as unknown as Approval)).toBe(false);
    expect(verifyApproval({ ...a, approver: 'ff'.repeat(32) })).toBe(false);
  });

  it('refuses a private key that is not Ed25519, and a hash that is not 32 bytes', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(() => signApproval(hash, ec)).toThrow(/E_APPROVER_KEY_INVALID: expected an Ed25519 private key/);
    expect(() => signApproval(hash, 'not a key')).toThrow(ContractError);
    expect(() => signApproval(hash, publicKey)).toThrow(/E_APPROVER_KEY_INVALID/);
    expect(() => signApproval(new Uint8Array(31), pem)).toThrow(/E_APPROVAL_INVALID/);
    expect(approverPublicKeyHex(pem)).toBe(approverHex);
  });
});

describe('signing approvals', () => {
  const request: SigningRequest = {
    keyId: 'treasury-1',
    derivationPath: 'm/0/7',
    messageDigest: bytesToHex(randomBytes(32)),
    requestId: 'req-2026-05-04-0001',
    expiresAt: '2030-01-01T00:00:00Z',
  };

  it('signs the request hash and verifies against the same request', () => {
    const a = signSigningApproval(request, pem);
    expect(a.requestHash).toBe(bytesToHex(signingRequestHash(request)));
    expect(a.approver).toBe(approverHex);
    expect(verifySigningApproval(a, request)).toBe(true);
    expect(osslVerify(null, signingApprovalMessage(a.requestHash), publicKey, Buffer.from(a.signature, 'hex'))).toBe(true);
  });

  it('does not cover any other request', () => {
    const a = signSigningApproval(request, pem);
    for (const change of [{ keyId: 'treasury-2' }, { derivationPath: 'm/0/8' }, { messageDigest: flipHexBit(request.messageDigest, 0) }, { requestId: 'req-2' }, { expiresAt: '2030-01-01T00:00:01Z' }]) {
      expect(verifySigningApproval(a, { ...request, ...change }), JSON.stringify(change)).toBe(false);
    }
  });

  it('cannot be made from a plan approval of the same hash (distinct signing tags)', () => {
    const requestHash = signingRequestHash(request);
    const planApproval = signApproval(requestHash, pem);
    expect(verifySigningApproval({ requestHash: planApproval.planHash, approver: planApproval.approver, signature: planApproval.signature }, request)).toBe(false);
    const signing = signSigningApproval(request, pem);
    expect(verifyApproval({ planHash: signing.requestHash, approver: signing.approver, signature: signing.signature })).toBe(false);
  });

  it('refuses requests with a hardened path or a malformed digest', () => {
    expect(() => signSigningApproval({ ...request, derivationPath: "m/0'" }, pem)).toThrow(/E_SIGNING_REQUEST_INVALID: derivationPath/);
    expect(() => signSigningApproval({ ...request, messageDigest: 'ab' }, pem)).toThrow(/messageDigest/);
    expect(verifySigningApproval(signSigningApproval(request, pem), { ...request, requestId: 'has space' })).toBe(false);
  });
});
