// The certificate the data plane server (bootstrap + xDS) presents. Either the operator's files
// (--dp-server-tls-cert-file/--dp-server-tls-key-file) or, as Kuma does, a self-signed certificate
// generated on first start and kept in the work dir so it survives restarts: data planes verify it
// with `skein dp run --ca-cert-file <work dir>/dp-server.crt`.
// @peculiar/x509 resolves its algorithm registry through tsyringe, which needs the Reflect metadata
// polyfill loaded first (ESM evaluates imports in order).
import 'reflect-metadata';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as x509 from '@peculiar/x509';
import type { Logger } from '../observability/logger.js';

x509.cryptoProvider.set(globalThis.crypto);

export const DP_SERVER_CERT_FILE = 'dp-server.crt';
export const DP_SERVER_KEY_FILE = 'dp-server.key';

const KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;
const CLOCK_SKEW_MS = 60 * 60 * 1000;
/** A persisted certificate this close to expiry is replaced. */
const RENEW_BEFORE_MS = 24 * 3600 * 1000;

export interface DpServerCert {
  certPem: string;
  keyPem: string;
  certFile: string;
  /** SHA-256 fingerprint, colon-separated hex (as node:crypto and openssl print it). */
  fingerprint256: string;
  source: 'provided' | 'generated' | 'work-dir';
  secureContext: tls.SecureContext;
}

export interface DpServerCertOptions {
  /** Operator-provided PEM files; both empty = use or generate the work dir's. */
  certFile: string;
  keyFile: string;
  workDir: string;
  /** The DP server's bind address: added to the SANs when it is a specific address. */
  bindAddress: string;
  logger: Logger;
}

export async function loadDpServerCert(opts: DpServerCertOptions): Promise<DpServerCert> {
  if (opts.certFile || opts.keyFile) {
    const certPem = fs.readFileSync(opts.certFile, 'utf8');
    const keyPem = fs.readFileSync(opts.keyFile, 'utf8');
    return finish(certPem, keyPem, opts.certFile, 'provided', `${opts.certFile} / ${opts.keyFile}`);
  }

  const certFile = path.join(opts.workDir, DP_SERVER_CERT_FILE);
  const keyFile = path.join(opts.workDir, DP_SERVER_KEY_FILE);
  const hosts = serverNames(opts.bindAddress);
  const existing = readPersisted(certFile, keyFile, opts.logger);
  if (existing) {
    const missing = hosts.filter((h) => !coversHost(existing.cert, h));
    if (missing.length > 0) {
      // Regenerating would invalidate every data plane's --ca-cert-file; say what to do instead.
      opts.logger.warn({ certFile, missing }, `the data plane server certificate does not cover these names; delete ${certFile} and ${keyFile} to regenerate it, or provide one with --dp-server-tls-cert-file`);
    }
    return finish(existing.certPem, existing.keyPem, certFile, 'work-dir', certFile);
  }

  const { certPem, keyPem } = await generateSelfSigned(hosts);
  fs.mkdirSync(opts.workDir, { recursive: true, mode: 0o700 });
  writePrivate(keyFile, keyPem);
  writePrivate(certFile, certPem);
  opts.logger.info({ certFile, keyFile, names: hosts }, 'generated a self-signed data plane server certificate');
  return finish(certPem, keyPem, certFile, 'generated', certFile);
}

function finish(certPem: string, keyPem: string, certFile: string, source: DpServerCert['source'], what: string): DpServerCert {
  let secureContext: tls.SecureContext;
  let fingerprint256: string;
  try {
    fingerprint256 = new X509Certificate(certPem).fingerprint256;
    secureContext = tls.createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new Error(`data plane server certificate ${what}: ${(err as Error).message}`, { cause: err });
  }
  return { certPem, keyPem, certFile, fingerprint256, source, secureContext };
}

/** The work dir's certificate and key if they are usable (parse, match, not about to expire). */
function readPersisted(certFile: string, keyFile: string, logger: Logger): { cert: X509Certificate; certPem: string; keyPem: string } | undefined {
  if (!fs.existsSync(certFile) && !fs.existsSync(keyFile)) return undefined;
  try {
    const certPem = fs.readFileSync(certFile, 'utf8');
    const keyPem = fs.readFileSync(keyFile, 'utf8');
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the key does not match the certificate');
    if (new Date(cert.validTo).getTime() - Date.now() < RENEW_BEFORE_MS) throw new Error(`the certificate expires ${cert.validTo}`);
    return { cert, certPem, keyPem };
  } catch (err) {
    logger.warn({ certFile, reason: (err as Error).message }, 'replacing the unusable data plane server certificate in the work dir; data planes must be given the new one with --ca-cert-file');
    return undefined;
  }
}

/** localhost, the loopback addresses, this host's name, and the bind address unless it is a wildcard. */
export function serverNames(bindAddress: string): string[] {
  const names = ['localhost', '127.0.0.1', '::1', os.hostname()];
  const wildcard = ['', '0.0.0.0', '::', '[::]'];
  if (!wildcard.includes(bindAddress)) names.push(bindAddress.replace(/^\[|\]$/g, ''));
  return [...new Set(names.filter(Boolean))];
}

function coversHost(cert: X509Certificate, host: string): boolean {
  return net.isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
}

export async function generateSelfSigned(hosts: string[], now = new Date()): Promise<{ certPem: string; keyPem: string }> {
  const keys = await globalThis.crypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify']);
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // positive
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: 'CN=skein-control-plane, O=Skein',
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + VALIDITY_MS),
    keys,
    signingAlgorithm: KEY_ALG,
    extensions: [
      // Its own trust anchor: data planes pass this very certificate as --ca-cert-file.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(hosts.map((h) => ({ type: net.isIP(h) ? ('ip' as const) : ('dns' as const), value: h }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** Written whole or not at all, readable by the owner only. */
function writePrivate(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** Tells operators which file data planes need to verify the DP server. */
export function logDpServerTls(logger: Logger, cert: DpServerCert, port: number, plaintext: boolean): void {
  const fields = { certFile: cert.certFile, fingerprint256: cert.fingerprint256, source: cert.source };
  if (cert.source === 'provided') {
    logger.info(fields, `data plane server serves TLS with the provided certificate; data planes verify it with skein dp run --cp-address https://<host>:${port} --ca-cert-file <CA of ${cert.certFile}>`);
  } else {
    logger.info(fields, `data plane server serves TLS with a self-signed certificate; data planes verify it with skein dp run --cp-address https://<host>:${port} --ca-cert-file ${cert.certFile}`);
  }
  if (plaintext) logger.warn('data plane server also accepts plaintext connections (--dp-server-plaintext): use only for local demos and benchmarks');
}
