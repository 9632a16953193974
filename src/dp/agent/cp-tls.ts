// TLS towards the control plane's DP server (bootstrap over HTTPS, xDS over gRPC with TLS), as
// kuma-dp: with --ca-cert-file the CP certificate is verified (chain and hostname/IP); without it
// the connection is encrypted but not verified, and a warning says so.
import * as grpc from '@grpc/grpc-js';

/** Node's (OpenSSL's) certificate verification error codes, with what each usually means here. */
const VERIFICATION_HINTS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the control plane presents a self-signed certificate that --ca-cert-file does not hold',
  SELF_SIGNED_CERT_IN_CHAIN: 'the certificate chain ends in a CA that --ca-cert-file does not hold',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate was not signed by the CA in --ca-cert-file',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate was not signed by the CA in --ca-cert-file',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate was not signed by the CA in --ca-cert-file',
  CERT_SIGNATURE_FAILURE: 'the certificate signature does not match the CA in --ca-cert-file',
  CERT_HAS_EXPIRED: 'the control plane certificate has expired',
  CERT_NOT_YET_VALID: 'the control plane certificate is not valid yet (check the clocks)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the host in --cp-address is not among the certificate names (hostname/IP mismatch)',
};

/** Message fragments of the same failures when only the text survives (gRPC errors). */
const VERIFICATION_PATTERNS: [RegExp, string][] = [
  [/self[- ]signed certificate in certificate chain/i, 'SELF_SIGNED_CERT_IN_CHAIN'],
  [/self[- ]signed certificate/i, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/unable to verify the first certificate/i, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  [/unable to get (local )?issuer certificate/i, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/certificate has expired/i, 'CERT_HAS_EXPIRED'],
  [/certificate is not yet valid/i, 'CERT_NOT_YET_VALID'],
  [/does not match certificate's altnames|Hostname\/IP does not match/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
  [/certificate signature failure/i, 'CERT_SIGNATURE_FAILURE'],
];

export interface TlsFailure {
  code: string;
  reason: string;
}

/** The certificate verification failure behind `err`, if that is what it is. */
export function certificateVerificationFailure(err: unknown): TlsFailure | undefined {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  if (!e) return undefined;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (VERIFICATION_HINTS[code]) return { code, reason: `${message}: ${VERIFICATION_HINTS[code]}` };
  for (const [pattern, c] of VERIFICATION_PATTERNS) {
    if (pattern.test(message)) return { code: c, reason: `${message}: ${VERIFICATION_HINTS[c]}` };
  }
  return e.cause ? certificateVerificationFailure(e.cause) : undefined;
}

/** A TLS client talking to a plaintext server (e.g. https:// against --dp-server-plaintext on another port). */
export function isPlaintextPeer(err: unknown): boolean {
  const message = String((err as { message?: unknown } | undefined)?.message ?? '');
  return /wrong version number|packet length too long|unknown protocol/i.test(message);
}

/** gRPC channel credentials for xDS: TLS verified against `ca`, or TLS without verification. */
export function xdsCredentials(tls: boolean, ca: Buffer | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return ca ? grpc.credentials.createSsl(ca) : grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false });
}
