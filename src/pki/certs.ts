// X.509 material for mesh mTLS: one self-signed root per mesh (the builtin CA) and short-lived
// workload leaves carrying SPIFFE / kuma:// URI SANs. Certificates are built by @peculiar/x509 on
// Node's WebCrypto (no hand-rolled ASN.1); key parsing and comparison use node:crypto.
import { KeyObject, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { x509 } from './x509.js';

/** A CA as PEM text: the root certificate and its private key. */
export interface CaPem {
  certPem: string;
  keyPem: string;
}

/** A CA ready to sign: parsed certificate and imported WebCrypto key (parsing is the slow part). */
export interface CaSigner {
  cert: x509.X509Certificate;
  key: CryptoKey;
  signingAlgorithm: Algorithm | EcdsaParams;
}

export interface IssuedCert {
  /** The leaf only; the CA certificate is distributed separately as the trust root. */
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

export interface RootCaOptions {
  mesh: string;
  rsaBits?: number;
  /** Lifetime from `now`; ignored when `notAfter` is given. Default 10 years. */
  validForMs?: number;
  now?: Date;
  /** Explicit validity window (tests use a window in the past to get an expired CA). */
  notBefore?: Date;
  notAfter?: Date;
  /** Sign for this existing key instead of generating one (completes a half-written CA). */
  keyPem?: string;
}

export interface WorkloadCertOptions {
  ca: CaPem | CaSigner;
  uris: string[];
  validForMs: number;
  now?: Date;
}

const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;
/** Leaves start a minute early so a peer whose clock is slightly behind still accepts them. */
const CLOCK_SKEW_MS = 60_000;
const RSA_ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
const LEAF_KEY_ALG: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

export function spiffeId(mesh: string, service: string): string {
  return `spiffe://${mesh}/${service}`;
}

export function kumaServiceUri(service: string): string {
  return `kuma://kuma.io/service/${service}`;
}

/** Self-signed RSA root for a mesh, subject `CN=<mesh>, OU=Mesh, O=Skein`, URI SAN `spiffe://<mesh>` (as Kuma). */
export async function generateRootCa(opts: RootCaOptions): Promise<CaPem> {
  const now = opts.now ?? new Date();
  const { keys, signingAlgorithm } = opts.keyPem
    ? await importKeyPair(opts.keyPem)
    : {
        keys: await crypto.subtle.generateKey(
          { ...RSA_ALG, modulusLength: opts.rsaBits ?? 2048, publicExponent: new Uint8Array([1, 0, 1]) },
          true,
          ['sign', 'verify'],
        ),
        signingAlgorithm: RSA_ALG,
      };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${opts.mesh}, OU=Mesh, O=Skein`,
    notBefore: opts.notBefore ?? now,
    notAfter: opts.notAfter ?? new Date(now.getTime() + (opts.validForMs ?? TEN_YEARS_MS)),
    keys,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${opts.mesh}` }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: opts.keyPem ?? privateKeyPem(keys.privateKey) };
}

/** Parses a CA once so that many leaves can be signed without re-importing the key. */
export async function loadCaSigner(ca: CaPem): Promise<CaSigner> {
  const cert = parseCert(ca.certPem);
  const { keys, signingAlgorithm } = await importKeyPair(ca.keyPem);
  return { cert, key: keys.privateKey, signingAlgorithm };
}

/** A leaf for a workload: fresh ECDSA P-256 key, serverAuth + clientAuth, URI SANs only. */
export async function issueWorkloadCert(opts: WorkloadCertOptions): Promise<IssuedCert> {
  const signer = 'certPem' in opts.ca ? await loadCaSigner(opts.ca) : opts.ca;
  const now = opts.now ?? new Date();
  // A leaf must not outlive its CA: peers would reject the chain after the CA expires anyway.
  const notAfter = new Date(Math.min(now.getTime() + opts.validForMs, signer.cert.notAfter.getTime()));
  const keys = await crypto.subtle.generateKey(LEAF_KEY_ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    // Empty subject, identity lives in the SANs (then RFC 5280 requires the SAN to be critical).
    subject: [],
    issuer: signer.cert.subjectName,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(
        opts.uris.map((value) => ({ type: 'url' as const, value })),
        true,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(signer.cert.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: privateKeyPem(keys.privateKey), notBefore: cert.notBefore, notAfter: cert.notAfter };
}

/** Problems that make a certificate + key unusable as a CA; empty when the pair is fine. */
export function validateCaPair(certPem: string, keyPem: string, now = new Date()): string[] {
  const problems: string[] = [];
  let cert: x509.X509Certificate | undefined;
  let key: KeyObject | undefined;
  try {
    cert = parseCert(certPem);
  } catch (err) {
    problems.push(`could not parse certificate: ${errorMessage(err)}`);
  }
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    problems.push(`could not parse private key: ${errorMessage(err)}`);
  }
  if (cert) {
    if (!cert.getExtension(x509.BasicConstraintsExtension)?.ca) problems.push("basic constraint 'CA' not set to TRUE");
    if (now < cert.notBefore) problems.push('certificate is not yet valid');
    if (now > cert.notAfter) problems.push('certificate has expired');
  }
  if (cert && key) {
    const certSpki = Buffer.from(cert.publicKey.rawData);
    const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    if (!certSpki.equals(keySpki)) problems.push('certificate and private key do not match');
  }
  return problems;
}

/** The first certificate of a PEM (a provided CA may come with its chain). */
function parseCert(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(x509.PemConverter.decodeFirst(pem));
}

/** Any PEM private key node:crypto reads (PKCS#8, PKCS#1, SEC1) as a WebCrypto key pair. */
async function importKeyPair(keyPem: string): Promise<{ keys: CryptoKeyPair; signingAlgorithm: Algorithm | EcdsaParams }> {
  const key = createPrivateKey(keyPem);
  let importAlg: RsaHashedImportParams | EcKeyImportParams;
  let signingAlgorithm: Algorithm | EcdsaParams;
  if (key.asymmetricKeyType === 'rsa') {
    importAlg = RSA_ALG;
    signingAlgorithm = RSA_ALG;
  } else if (key.asymmetricKeyType === 'ec') {
    const curve = EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!curve) throw new Error(`unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve ?? '(unknown)'}`);
    importAlg = { name: 'ECDSA', namedCurve: curve.name };
    signingAlgorithm = { name: 'ECDSA', hash: curve.hash } as EcdsaParams;
  } else {
    throw new Error(`unsupported CA key type ${key.asymmetricKeyType ?? '(unknown)'}, use RSA or EC`);
  }
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, importAlg, true, ['sign']);
  const publicKey = await crypto.subtle.importKey('spki', spki, importAlg, true, ['verify']);
  return { keys: { privateKey, publicKey }, signingAlgorithm };
}

const EC_CURVES: Record<string, { name: string; hash: string }> = {
  prime256v1: { name: 'P-256', hash: 'SHA-256' },
  secp384r1: { name: 'P-384', hash: 'SHA-384' },
  secp521r1: { name: 'P-521', hash: 'SHA-512' },
};

function privateKeyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** 127 random bits, positive and without a leading zero byte (DER INTEGER rules). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
