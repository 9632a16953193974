// Certificates for the injector webhook: a small CA whose PEM goes into the
// MutatingWebhookConfiguration's caBundle, and a server certificate it signs for the webhook
// Service's DNS names. Used by `skein install control-plane` (rendered into a Secret) and by the
// control plane when it is given no certificate files (kept in its work dir).
// @peculiar/x509 resolves its algorithm registry through tsyringe, which needs the Reflect metadata
// polyfill loaded first (ESM evaluates imports in order).
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

const KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;
const CLOCK_SKEW_MS = 60 * 60 * 1000;

export interface WebhookCerts {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

function serial(): string {
  const s = randomBytes(16);
  s[0]! &= 0x7f; // positive
  return s.toString('hex');
}

/** A CA and a server certificate for `hosts` (DNS names or IPs) signed by it. */
export async function generateWebhookCerts(hosts: string[], now = new Date()): Promise<WebhookCerts> {
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(now.getTime() + VALIDITY_MS);
  const caKeys = await globalThis.crypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=skein-injector-ca, O=Skein',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: KEY_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = await globalThis.crypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${hosts[0] ?? 'skein-injector'}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: KEY_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(hosts.map((h) => ({ type: net.isIP(h) ? ('ip' as const) : ('dns' as const), value: h }))),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const pkcs8 = await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { caCertPem: ca.toString('pem'), certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** The names a webhook Service is reached by, shortest first (what the API server dials is `<svc>.<ns>.svc`). */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}
