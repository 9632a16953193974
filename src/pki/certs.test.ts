import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateRootCa, issueWorkloadCert, kumaServiceUri, loadCaSigner, spiffeId, validateCaPair, type CaPem, type IssuedCert } from './certs.js';
import { certDurationOr, parseCertDuration } from './duration.js';
import { x509 } from './x509.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const WEB_URIS = [spiffeId('default', 'web'), kumaServiceUri('web')];

let root: CaPem;
let otherRoot: CaPem;

beforeAll(async () => {
  [root, otherRoot] = await Promise.all([generateRootCa({ mesh: 'default' }), generateRootCa({ mesh: 'other' })]);
});

describe('generateRootCa', () => {
  it('is a CA with Kuma-like subject, SPIFFE SAN and critical CA extensions', () => {
    const cert = new X509Certificate(root.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain('CN=default');
    expect(cert.subject).toContain('O=Skein');
    expect(cert.subjectAltName).toBe('URI:spiffe://default');
    expect(cert.checkIssued(cert)).toBe(true); // self-signed

    const parsed = new x509.X509Certificate(root.certPem);
    const bc = parsed.getExtension(x509.BasicConstraintsExtension);
    expect(bc?.ca).toBe(true);
    expect(bc?.critical).toBe(true);
    const ku = parsed.getExtension(x509.KeyUsagesExtension);
    expect(ku?.critical).toBe(true);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(parsed.notAfter.getTime() - parsed.notBefore.getTime()).toBeGreaterThan(9 * 365 * DAY);
  });

  it('writes an RSA PKCS#8 key of the requested size that node:tls loads', () => {
    expect(root.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const key = createPrivateKey(root.keyPem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(() => tls.createSecureContext({ cert: root.certPem, key: root.keyPem })).not.toThrow();
    expect(validateCaPair(root.certPem, root.keyPem)).toEqual([]);
  });

  it('can sign for an existing EC key (provided CAs are not always RSA)', async () => {
    const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const ca = await generateRootCa({ mesh: 'ec', keyPem });
    expect(ca.keyPem).toBe(keyPem);
    expect(validateCaPair(ca.certPem, ca.keyPem)).toEqual([]);
    const leaf = await issueWorkloadCert({ ca, uris: WEB_URIS, validForMs: HOUR });
    expect(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
  });
});

describe('issueWorkloadCert', () => {
  it('issues a P-256 leaf for the URIs, verifiable with the root', async () => {
    const now = new Date();
    const leaf = await issueWorkloadCert({ ca: root, uris: WEB_URIS, validForMs: DAY, now });
    const cert = new X509Certificate(leaf.certPem);
    const ca = new X509Certificate(root.certPem);

    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.verify(new X509Certificate(otherRoot.certPem).publicKey)).toBe(false);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subjectAltName).toBe('URI:spiffe://default/web, URI:kuma://kuma.io/service/web');
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(leaf.certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1); // leaf only, no chain

    const key = createPrivateKey(leaf.keyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.checkPrivateKey(key)).toBe(true);

    // Second precision in X.509 times; notBefore is back-dated a minute for clock skew.
    expect(Math.abs(leaf.notBefore.getTime() - (now.getTime() - 60_000))).toBeLessThan(1000);
    expect(Math.abs(leaf.notAfter.getTime() - (now.getTime() + DAY))).toBeLessThan(1000);

    const usages = new x509.X509Certificate(leaf.certPem).getExtension(x509.KeyUsagesExtension)?.usages;
    expect(usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
  });

  it('gives every leaf a fresh key and serial', async () => {
    const signer = await loadCaSigner(root);
    const [a, b] = await Promise.all([
      issueWorkloadCert({ ca: signer, uris: WEB_URIS, validForMs: HOUR }),
      issueWorkloadCert({ ca: signer, uris: WEB_URIS, validForMs: HOUR }),
    ]);
    expect(a.keyPem).not.toBe(b.keyPem);
    expect(new X509Certificate(a.certPem).serialNumber).not.toBe(new X509Certificate(b.certPem).serialNumber);
  });

  it('does not outlive the CA', async () => {
    const now = new Date();
    const shortCa = await generateRootCa({ mesh: 'short', rsaBits: 1024, validForMs: HOUR, now });
    const leaf = await issueWorkloadCert({ ca: shortCa, uris: WEB_URIS, validForMs: DAY, now });
    expect(leaf.notAfter.getTime()).toBe(new x509.X509Certificate(shortCa.certPem).notAfter.getTime());
  });

  it('accepts a PKCS#1 CA key', async () => {
    const pkcs1 = createPrivateKey(root.keyPem).export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(pkcs1).toMatch(/BEGIN RSA PRIVATE KEY/);
    const leaf = await issueWorkloadCert({ ca: { certPem: root.certPem, keyPem: pkcs1 }, uris: WEB_URIS, validForMs: HOUR });
    expect(new X509Certificate(leaf.certPem).verify(new X509Certificate(root.certPem).publicKey)).toBe(true);
  });
});

describe('validateCaPair', () => {
  it('reports a certificate that is not a CA', async () => {
    const leaf = await issueWorkloadCert({ ca: root, uris: WEB_URIS, validForMs: HOUR });
    expect(validateCaPair(leaf.certPem, leaf.keyPem)).toEqual(["basic constraint 'CA' not set to TRUE"]);
  });

  it('reports a key that belongs to another certificate', () => {
    expect(validateCaPair(root.certPem, otherRoot.keyPem)).toEqual(['certificate and private key do not match']);
  });

  it('reports expired and not-yet-valid certificates', async () => {
    const now = Date.now();
    const expired = await generateRootCa({ mesh: 'old', rsaBits: 1024, notBefore: new Date(now - 2 * DAY), notAfter: new Date(now - DAY) });
    expect(validateCaPair(expired.certPem, expired.keyPem)).toEqual(['certificate has expired']);
    const future = await generateRootCa({ mesh: 'new', rsaBits: 1024, notBefore: new Date(now + DAY), notAfter: new Date(now + 2 * DAY) });
    expect(validateCaPair(future.certPem, future.keyPem)).toEqual(['certificate is not yet valid']);
    expect(validateCaPair(future.certPem, future.keyPem, new Date(now + 1.5 * DAY))).toEqual([]);
  });

  it('reports unparseable input', () => {
    const problems = validateCaPair('not a cert', 'not a key');
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^could not parse certificate/);
    expect(problems[1]).toMatch(/^could not parse private key/);
  });
});

describe('mutual TLS between two workloads', () => {
  it('succeeds with leaves of the same CA and shows each side the peer identity', async () => {
    const server = await issueWorkloadCert({ ca: root, uris: [spiffeId('default', 'backend')], validForMs: HOUR });
    const client = await issueWorkloadCert({ ca: root, uris: [spiffeId('default', 'web')], validForMs: HOUR });
    const result = await handshake(server, client, root.certPem);
    expect(result.serverSawClient).toBe('URI:spiffe://default/web');
    expect(result.clientSawServer).toBe('URI:spiffe://default/backend');
  });

  it('fails when the client certificate comes from another CA', async () => {
    const server = await issueWorkloadCert({ ca: root, uris: [spiffeId('default', 'backend')], validForMs: HOUR });
    const intruder = await issueWorkloadCert({ ca: otherRoot, uris: [spiffeId('default', 'web')], validForMs: HOUR });
    await expect(handshake(server, intruder, root.certPem)).rejects.toThrow('server refused the client: UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('fails when the server certificate comes from another CA', async () => {
    const impostor = await issueWorkloadCert({ ca: otherRoot, uris: [spiffeId('default', 'backend')], validForMs: HOUR });
    const client = await issueWorkloadCert({ ca: root, uris: [spiffeId('default', 'web')], validForMs: HOUR });
    await expect(handshake(impostor, client, root.certPem)).rejects.toThrow(/certificate/);
  });
});

describe('parseCertDuration', () => {
  it('knows Kuma units and Go durations', () => {
    expect(parseCertDuration('1d')).toBe(DAY);
    expect(parseCertDuration('10y')).toBe(3650 * DAY);
    expect(parseCertDuration('24h')).toBe(DAY);
    expect(parseCertDuration('30s')).toBe(30_000);
    expect(parseCertDuration('1h30m')).toBe(1.5 * HOUR);
    expect(parseCertDuration('soon')).toBeUndefined();
    expect(certDurationOr(undefined, DAY)).toBe(DAY);
    expect(certDurationOr('0', DAY)).toBe(DAY);
    expect(certDurationOr('2h', DAY)).toBe(2 * HOUR);
  });
});

/**
 * Server and client both present a leaf and trust only `caPem`, as two sidecars do. Resolves with
 * the SANs each side saw; rejects when either side refuses the handshake. URI SANs replace
 * hostname checks (as in Envoy), so the default DNS check is turned off.
 */
async function handshake(server: IssuedCert, client: IssuedCert, caPem: string): Promise<{ serverSawClient: string; clientSawServer: string }> {
  // Node checks client certs after the handshake (as rejectUnauthorized: true would), but this way
  // the test gets the reason instead of a bare hang-up.
  let serverError = 'connection closed';
  const srv = tls.createServer({ key: server.keyPem, cert: server.certPem, ca: caPem, requestCert: true, rejectUnauthorized: false }, (socket) => {
    if (socket.authorized) socket.end(socket.getPeerCertificate().subjectaltname ?? '');
    else {
      serverError = String(socket.authorizationError); // an OpenSSL code at runtime, typed as Error
      socket.destroy();
    }
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, key: client.keyPem, cert: client.certPem, ca: caPem, checkServerIdentity: () => undefined });
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (received += chunk));
      socket.on('error', reject);
      socket.on('end', () => {
        // With TLS 1.3 the server's verdict on the client cert arrives after the client's handshake.
        if (received) resolve({ serverSawClient: received, clientSawServer: socket.getPeerCertificate().subjectaltname ?? '' });
        else reject(new Error(`server refused the client: ${serverError}`));
        socket.destroy();
      });
    });
  } finally {
    await new Promise((resolve) => srv.close(resolve));
  }
}
