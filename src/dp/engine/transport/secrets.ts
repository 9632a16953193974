// SDS Secret resources (and inline TLS material) compiled into PEM buffers plus SAN matchers.
import tls from 'node:tls';
import { reject } from '../config-error.js';
import { checkFields, dataSource, list, obj, str, type Obj } from '../proto-values.js';
import { compileStringMatcher, type StringMatch } from '../string-matcher.js';
import { fingerprint } from '../fingerprint.js';
import { parseSubjectAltNames } from './peer-certificate.js';

export interface TlsCertificate {
  cert: Buffer;
  key: Buffer;
}

export interface ValidationContext {
  ca: Buffer | undefined;
  /** Peer SANs (as `URI:...`, `DNS:...`) of which one must match when the list is not empty. */
  sanMatchers: { type: string; match: StringMatch }[];
}

export interface TlsSecret {
  name: string;
  certificate?: TlsCertificate;
  validation?: ValidationContext;
  fingerprint: string;
}

export function compileSecret(secret: Obj): TlsSecret {
  const name = str(secret.name);
  const path = `Secret "${name}"`;
  checkFields(secret, path, ['name', 'tls_certificate', 'validation_context']);
  const result: TlsSecret = { name, fingerprint: fingerprint(secret) };
  if (secret.tls_certificate) result.certificate = compileCertificate(secret.tls_certificate, `${path}.tls_certificate`);
  if (secret.validation_context) result.validation = compileValidation(secret.validation_context, `${path}.validation_context`);
  if (!result.certificate && !result.validation) reject(path, 'tls_certificate or validation_context is required');
  return result;
}

export function compileCertificate(value: unknown, path: string): TlsCertificate {
  const c = obj(value, path);
  checkFields(c, path, ['certificate_chain', 'private_key']);
  const cert = dataSource(c.certificate_chain, `${path}.certificate_chain`);
  const key = dataSource(c.private_key, `${path}.private_key`);
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    reject(path, `invalid certificate or key: ${(err as Error).message}`);
  }
  return { cert, key };
}

export function compileValidation(value: unknown, path: string): ValidationContext {
  const v = obj(value, path);
  checkFields(v, path, ['trusted_ca', 'match_typed_subject_alt_names', 'match_subject_alt_names']);
  const ca = v.trusted_ca ? dataSource(v.trusted_ca, `${path}.trusted_ca`) : undefined;
  if (ca) {
    try {
      tls.createSecureContext({ ca });
    } catch (err) {
      reject(`${path}.trusted_ca`, `invalid CA: ${(err as Error).message}`);
    }
  }
  const sanMatchers = list(v.match_typed_subject_alt_names, `${path}.match_typed_subject_alt_names`).map((m, i) => {
    const mpath = `${path}.match_typed_subject_alt_names[${i}]`;
    checkFields(m, mpath, ['san_type', 'matcher']);
    const type = SAN_TYPES[str(m.san_type)];
    if (!type) reject(`${mpath}.san_type`, `${str(m.san_type) || 'unset'} is not supported`);
    return { type, match: compileStringMatcher(m.matcher, `${mpath}.matcher`) };
  });
  list(v.match_subject_alt_names, `${path}.match_subject_alt_names`).forEach((m, i) =>
    sanMatchers.push({ type: '', match: compileStringMatcher(m, `${path}.match_subject_alt_names[${i}]`) }),
  );
  return { ca, sanMatchers };
}

const SAN_TYPES: Record<string, string> = { URI: 'URI', DNS: 'DNS', EMAIL: 'email', IP_ADDRESS: 'IP Address' };

/** True when the certificate's SANs satisfy the matchers (always when there are none). */
export function sansMatch(validation: ValidationContext | undefined, subjectAltName: string | undefined): boolean {
  if (!validation || validation.sanMatchers.length === 0) return true;
  // Node JSON-quotes values with special characters, so splitting on ', ' could forge entries.
  const sans = parseSubjectAltNames(subjectAltName);
  return validation.sanMatchers.some((m) => sans.some((san) => (!m.type || m.type === san.type) && m.match(san.value)));
}
