/**
 * Development certificates of the peer listener (DESIGN §4 "Peer transport"): a CA that can only
 * sign node certificates, node certificates for TLS server and client use under the requested
 * addresses, chained to their CA; server options that demand a client certificate over TLS 1.3.
 */
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDevelopmentCa, issueCertificate, peerServerOptions, type CertificateAndKey } from './certificates.ts';

let ca: CertificateAndKey;
let node: CertificateAndKey;

beforeAll(async () => {
  ca = await createDevelopmentCa({ commonName: 'vilna-mpc dev CA' });
  node = await issueCertificate(ca, { commonName: 'party-1', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost', 'party-1.vilna.svc'] });
});

describe('development certificates', () => {
  it('makes a P-256 CA certificate that may sign certificates', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain('CN=vilna-mpc dev CA');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('issues a node certificate chained to the CA, for server and client authentication, valid for its addresses only', () => {
    const cert = new X509Certificate(node.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('127.0.0.2')).toBeUndefined();
    expect(cert.checkHost('party-1.vilna.svc')).toBe('party-1.vilna.svc');
    expect(cert.checkHost('party-2.vilna.svc')).toBeUndefined();
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(30);
  });

  it('gives every certificate its own key and serial number', async () => {
    const other = await issueCertificate(ca, { commonName: 'party-2', ipAddresses: ['127.0.0.1'], dnsNames: [] });
    expect(new X509Certificate(other.certPem).serialNumber).not.toBe(new X509Certificate(node.certPem).serialNumber);
    expect(other.keyPem).not.toBe(node.keyPem);
  });

  it('refuses names that are not addresses, and a certificate without any address', async () => {
    await expect(issueCertificate(ca, { commonName: 'p', ipAddresses: ['300.1.1.1'], dnsNames: [] })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    await expect(issueCertificate(ca, { commonName: 'p', ipAddresses: [], dnsNames: ['bad name'] })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    await expect(issueCertificate(ca, { commonName: 'p', ipAddresses: [], dnsNames: [] })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    await expect(createDevelopmentCa({ commonName: 'CN=x,O=y' })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
  });

  it('makes server options that require a client certificate from the CA over TLS 1.3', () => {
    const opts = peerServerOptions({ ...node, caPem: ca.certPem });
    expect(opts).toMatchObject({ requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', ca: ca.certPem, cert: node.certPem });
  });
});
