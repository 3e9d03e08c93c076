/**
 * The TLS binding: it names the signer's identity key only for the certificate it was made for,
 * and nothing else passes for one (another certificate, another key's signature, another
 * statement, a malformed header).
 */
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { developmentSigner, type Signer } from '../../cggmp/protocols/index.ts';
import { createDevelopmentCa, issueCertificate, type CertificateAndKey } from './certificates.ts';
import { createPeerBinding, peerBindingBytes, spkiSha256, verifyPeerBinding } from './peer-binding.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const der = (c: CertificateAndKey): Uint8Array => new Uint8Array(new X509Certificate(c.certPem).raw);

let a: CertificateAndKey;
let b: CertificateAndKey;
let signer: Signer;

beforeAll(async () => {
  const ca = await createDevelopmentCa({ commonName: 'binding test CA' });
  a = await issueCertificate(ca, { commonName: 'party-a', ipAddresses: ['127.0.0.1'], dnsNames: [] });
  b = await issueCertificate(ca, { commonName: 'party-b', ipAddresses: ['127.0.0.1'], dnsNames: [] });
  signer = developmentSigner();
});

describe('peer TLS binding', () => {
  it('names the identity key for the certificate it was made for', async () => {
    const binding = await createPeerBinding(signer, a.certPem);
    expect(verifyPeerBinding(binding, der(a))).toEqual({ ok: true, identityKey: hex(signer.publicKey) });
  });

  it('does not verify on a connection that presents another certificate of the same CA', async () => {
    const binding = await createPeerBinding(signer, a.certPem);
    expect(verifyPeerBinding(binding, der(b))).toEqual({ ok: false, problem: 'invalid' });
  });

  it('refuses a header that claims one identity key with another key\'s signature', async () => {
    const other = developmentSigner();
    const signature = await other.sign(peerBindingBytes(signer.publicKey, spkiSha256(a.certPem)));
    expect(verifyPeerBinding(`${hex(signer.publicKey)}.${hex(signature)}`, der(a))).toEqual({ ok: false, problem: 'invalid' });
  });

  it('refuses the identity key\'s signature over anything but the binding statement', async () => {
    const signature = await signer.sign(spkiSha256(a.certPem));
    expect(verifyPeerBinding(`${hex(signer.publicKey)}.${hex(signature)}`, der(a))).toEqual({ ok: false, problem: 'invalid' });
  });

  it('tells a missing binding from a malformed one, and needs a presented certificate', async () => {
    const binding = await createPeerBinding(signer, a.certPem);
    expect(verifyPeerBinding(undefined, der(a))).toEqual({ ok: false, problem: 'missing' });
    for (const bad of ['', 'x', `${binding}0`, binding.toUpperCase(), [binding, binding], 42]) {
      expect(verifyPeerBinding(bad, der(a))).toEqual({ ok: false, problem: 'invalid' });
    }
    expect(verifyPeerBinding(binding, undefined)).toEqual({ ok: false, problem: 'invalid' });
    expect(verifyPeerBinding(binding, new Uint8Array([1, 2, 3]))).toEqual({ ok: false, problem: 'invalid' });
  });
});
