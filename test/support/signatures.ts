/**
 * Test assertions on reported ECDSA signatures; the verdicts themselves (@noble/curves and
 * OpenSSL, neither ours) are in signature-verdicts.ts.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { expect } from 'vitest';
import { digestOf, opensslVerdict, type ReportedSignature } from './signature-verdicts.ts';

export { opensslVerdict, secp256k1Key, signatureProblems, type ReportedSignature } from './signature-verdicts.ts';

export function expectSignatureValid(sig: ReportedSignature): void {
  expect(sig.digest).toBe(digestOf(Buffer.from(sig.message, 'hex'), sig.hash).toString('hex'));
  const compact = Buffer.concat([Buffer.from(sig.r, 'hex'), Buffer.from(sig.s, 'hex')]);
  expect(secp256k1.verify(compact, Buffer.from(sig.digest, 'hex'), Buffer.from(sig.publicKey, 'hex'), { prehash: false })).toBe(true);
  const openssl = opensslVerdict(sig);
  if (openssl !== undefined) expect(openssl).toBe(true);
}
