/**
 * Certificates of the peer listener's mutual TLS (DESIGN §4 "Peer transport"): a development CA
 * and the node certificates it issues (ECDSA P-256, serverAuth + clientAuth, addresses in the
 * SAN), and the HTTPS server options that require a client certificate from that CA.
 * Production loads PEM files issued by the operator's configured issuer; the CLI demo and the
 * tests make a development CA here.
 */
// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata
// polyfill loaded first.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { TransportError } from './errors.ts';

/** PEM certificate and its PKCS#8 PEM private key. */
export interface CertificateAndKey {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What one node needs for the peer listener and its client: its own pair and the trusted CA. */
export interface PeerTls {
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
}

/** Development certificates are short-lived: a demo's state directory is not a long-term PKI. */
const DEFAULT_VALIDITY_DAYS = 30;
/** Back-dating of notBefore, so that small clock differences between nodes do not matter. */
const CLOCK_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;
/** Serial numbers: 16 random bytes, positive (RFC 5280 §4.1.2.2 allows up to 20 octets). */
const SERIAL_BYTES = 16;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGNATURE = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** id-kp-serverAuth, id-kp-clientAuth (RFC 5280 §4.2.1.12): every node is both. */
const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** Subject common names: printable and short, so no escaping question arises. */
const COMMON_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}$/;
const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

let providerSet = false;
function provider(): webcrypto.Crypto {
  if (!providerSet) {
    x509.cryptoProvider.set(globalThis.crypto);
    providerSet = true;
  }
  return globalThis.crypto;
}

function serialNumber(): string {
  const b = randomBytes(SERIAL_BYTES);
  b[0] = ((b[0] as number) & 0x7f) | 0x01; // positive and without a leading zero octet
  return b.toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new TransportError('E_INVALID_ARGUMENT', 'validityDays must be an integer in 1..3650');
  const now = Date.now();
  return { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + days * DAY_MS) };
}

function assertCommonName(commonName: string): void {
  if (!COMMON_NAME.test(commonName)) throw new TransportError('E_INVALID_ARGUMENT', 'commonName must be 1..64 letters, digits, space, ".", "_", ":" or "-"');
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await provider().subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A self-signed CA for development and tests (may sign node certificates, nothing below them). */
export async function createDevelopmentCa(opts: { commonName: string; validityDays?: number }): Promise<CertificateAndKey> {
  assertCommonName(opts.commonName);
  const crypto = provider();
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [opts.commonName] }],
      ...validity(opts.validityDays ?? DEFAULT_VALIDITY_DAYS),
      keys,
      signingAlgorithm: EC_SIGNATURE,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** A node certificate signed by `ca`, valid for TLS server and client use under the given names. */
export async function issueCertificate(
  ca: CertificateAndKey,
  opts: { commonName: string; ipAddresses: readonly string[]; dnsNames: readonly string[]; validityDays?: number; organization?: string },
): Promise<CertificateAndKey> {
  assertCommonName(opts.commonName);
  // O= is how a Kubernetes API server reads a client certificate's groups (the kube test harness).
  if (opts.organization !== undefined) assertCommonName(opts.organization);
  for (const ip of opts.ipAddresses) if (isIP(ip) === 0) throw new TransportError('E_INVALID_ARGUMENT', 'ipAddresses: not an IP address');
  for (const dns of opts.dnsNames) if (!DNS_NAME.test(dns)) throw new TransportError('E_INVALID_ARGUMENT', 'dnsNames: not a DNS name');
  if (opts.ipAddresses.length + opts.dnsNames.length === 0) throw new TransportError('E_INVALID_ARGUMENT', 'a node certificate needs at least one address');
  const crypto = provider();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.keyPem), EC_KEY, false, ['sign']);
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const names = [...opts.dnsNames.map((value) => ({ type: 'dns' as const, value })), ...opts.ipAddresses.map((value) => ({ type: 'ip' as const, value }))];
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: [{ CN: [opts.commonName] }, ...(opts.organization !== undefined ? [{ O: [opts.organization] }] : [])],
      issuer: caCert.subjectName,
      ...validity(opts.validityDays ?? DEFAULT_VALIDITY_DAYS),
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: EC_SIGNATURE,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([EKU_SERVER_AUTH, EKU_CLIENT_AUTH], false),
        new x509.SubjectAlternativeNameExtension(names, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/**
 * HTTPS options of the peer listener: TLS 1.3 only, and a client certificate from the CA is
 * required, so a client without one never reaches a handler.
 */
export function peerServerOptions(tls: PeerTls): ServerOptions {
  return {
    key: tls.keyPem,
    cert: tls.certPem,
    ca: tls.caPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  };
}
