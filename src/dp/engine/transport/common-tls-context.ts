// CommonTlsContext shared by the downstream and upstream TLS transport sockets. SDS secrets are
// resolved from the config being applied; a missing one leaves the TLS material incomplete (the
// handshake fails) until it arrives, like a warming Envoy listener/cluster.
import { reject } from '../config-error.js';
import { checkFields, list, obj, str } from '../proto-values.js';
import type { CompileContext } from '../registry.js';
import { compileCertificate, compileValidation, type TlsCertificate, type ValidationContext } from './secrets.js';
import { fingerprint } from '../fingerprint.js';
import type tls from 'node:tls';

export interface CommonTls {
  certificate: TlsCertificate | undefined;
  validation: ValidationContext | undefined;
  alpn: string[];
  minVersion: tls.SecureVersion | undefined;
  maxVersion: tls.SecureVersion | undefined;
  /** Changes when any TLS material changes. */
  fingerprint: string;
  /** SDS names not delivered yet. */
  missing: string[];
}

const TLS_VERSIONS: Record<string, tls.SecureVersion | undefined> = {
  TLS_AUTO: undefined,
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};

export function compileCommonTls(value: unknown, path: string, ctx: CompileContext): CommonTls {
  const c = obj(value, path);
  checkFields(c, path, [
    'tls_certificates', 'tls_certificate_sds_secret_configs', 'validation_context',
    'validation_context_sds_secret_config', 'combined_validation_context', 'alpn_protocols', 'tls_params',
  ]);
  const result: CommonTls = { certificate: undefined, validation: undefined, alpn: [], minVersion: undefined, maxVersion: undefined, fingerprint: '', missing: [] };
  const parts: unknown[] = [c];

  const certs = list(c.tls_certificates, `${path}.tls_certificates`);
  const sdsCerts = list(c.tls_certificate_sds_secret_configs, `${path}.tls_certificate_sds_secret_configs`);
  if (certs.length + sdsCerts.length > 1) reject(path, 'only one TLS certificate is supported');
  if (certs.length === 1) result.certificate = compileCertificate(certs[0], `${path}.tls_certificates[0]`);
  if (sdsCerts.length === 1) {
    const secret = sdsSecret(sdsCerts[0], `${path}.tls_certificate_sds_secret_configs[0]`, ctx, result, parts);
    if (secret && !secret.certificate) reject(path, `secret "${secret.name}" has no tls_certificate`);
    result.certificate = secret?.certificate;
  }

  let sanSource: ValidationContext | undefined;
  let caSource: ValidationContext | undefined;
  if (c.validation_context) caSource = compileValidation(c.validation_context, `${path}.validation_context`);
  if (c.validation_context_sds_secret_config) {
    caSource = sdsValidation(c.validation_context_sds_secret_config, `${path}.validation_context_sds_secret_config`, ctx, result, parts);
  }
  if (c.combined_validation_context) {
    const cpath = `${path}.combined_validation_context`;
    const combined = obj(c.combined_validation_context, cpath);
    checkFields(combined, cpath, ['default_validation_context', 'validation_context_sds_secret_config']);
    sanSource = compileValidation(combined.default_validation_context, `${cpath}.default_validation_context`);
    caSource = sdsValidation(combined.validation_context_sds_secret_config, `${cpath}.validation_context_sds_secret_config`, ctx, result, parts);
  }
  if (caSource || sanSource) {
    result.validation = {
      ca: caSource?.ca ?? sanSource?.ca,
      sanMatchers: [...(sanSource?.sanMatchers ?? []), ...(caSource?.sanMatchers ?? [])],
    };
  }

  result.alpn = (c.alpn_protocols as string[] | undefined) ?? [];
  const params = obj(c.tls_params, `${path}.tls_params`);
  checkFields(params, `${path}.tls_params`, ['tls_minimum_protocol_version', 'tls_maximum_protocol_version']);
  for (const [field, key] of [['tls_minimum_protocol_version', 'minVersion'], ['tls_maximum_protocol_version', 'maxVersion']] as const) {
    const v = str(params[field]) || 'TLS_AUTO';
    if (!(v in TLS_VERSIONS)) reject(`${path}.tls_params.${field}`, `${v} is not supported`);
    result[key] = TLS_VERSIONS[v];
  }
  result.fingerprint = fingerprint(parts);
  return result;
}

function sdsSecret(value: unknown, path: string, ctx: CompileContext, result: CommonTls, parts: unknown[]) {
  const sds = obj(value, path);
  checkFields(sds, path, ['name', 'sds_config']);
  const source = obj(sds.sds_config, `${path}.sds_config`);
  checkFields(source, `${path}.sds_config`, ['ads', 'resource_api_version', 'initial_fetch_timeout']);
  if (!source.ads) reject(`${path}.sds_config`, 'only the ADS config source is supported');
  const name = str(sds.name);
  ctx.refs.secrets.add(name);
  const secret = ctx.secrets.get(name);
  if (!secret) result.missing.push(name);
  parts.push(secret?.fingerprint ?? `missing:${name}`);
  return secret;
}

function sdsValidation(value: unknown, path: string, ctx: CompileContext, result: CommonTls, parts: unknown[]): ValidationContext | undefined {
  const secret = sdsSecret(value, path, ctx, result, parts);
  if (secret && !secret.validation) reject(path, `secret "${secret.name}" has no validation_context`);
  // A missing CA is recorded in `missing`; the transports refuse connections while it is.
  return secret?.validation;
}
