// The identity of a verified TLS peer as Envoy exposes it to filters (RBAC principals): URI SANs,
// DNS SANs and the RFC 2253 subject of the certificate.
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from '../registry.js';

export interface SubjectAltName {
  /** As Node names it: `DNS`, `URI`, `IP Address`, `email`, ... */
  type: string;
  value: string;
}

/**
 * Parses Node's `subjectaltname` / X509Certificate.subjectAltName text: `TYPE:value` entries
 * separated by `, `, where values that contain special characters are JSON-quoted.
 */
export function parseSubjectAltNames(text: string | undefined): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      const quoted = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(colon + 1));
      if (!quoted) break;
      value = JSON.parse(quoted[0]) as string;
      end = colon + 1 + quoted[0].length;
    } else {
      end = text.indexOf(', ', colon + 1);
      if (end < 0) end = text.length;
      value = text.slice(colon + 1, end);
    }
    out.push({ type, value });
    i = end + 2;
  }
  return out;
}

/**
 * RFC 2253 form of Node's X509Certificate.subject (one `KEY=value` per line, most significant RDN
 * first, values already escaped as RFC 2253 requires): least significant RDN first, comma-separated.
 */
export function rfc2253Subject(subject: string | undefined): string {
  // Node gives undefined for an empty subject (SPIFFE certificates usually have none).
  return (subject ?? '')
    .split('\n')
    .filter((line) => line.length > 0)
    .reverse()
    .join(',');
}

export function peerCertificateOf(cert: X509Certificate): PeerCertificate {
  const sans = parseSubjectAltNames(cert.subjectAltName);
  return {
    uriSans: sans.filter((s) => s.type === 'URI').map((s) => s.value),
    dnsSans: sans.filter((s) => s.type === 'DNS').map((s) => s.value),
    subject: rfc2253Subject(cert.subject),
  };
}
