// TLS transport sockets and SDS secrets for mesh mTLS. Certificates travel as SDS `Secret`
// resources on the same ADS stream; contexts refer to them by name.
import { packAny, TypeUrl } from '../../envoy/protos.js';
import type { NamedResource } from '../cache/snapshot.js';
import type { ExternalTlsOptions } from '../context/mesh-context.js';
import { adsConfigSource, typedExtension } from './common.js';
import type { StringMatcher, TypedExtensionConfig } from './types.js';

const TLS_SOCKET = 'envoy.transport_sockets.tls';
const DOWNSTREAM_TLS_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const UPSTREAM_TLS_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

function sdsRef(name: string): { name: string; sds_config: ReturnType<typeof adsConfigSource> } {
  return { name, sds_config: adsConfigSource() };
}

export interface MtlsContextOptions {
  /** SDS name of the proxy's own certificate and key. */
  identitySecret: string;
  /** SDS name of the mesh CA bundle that peers must chain to. */
  caSecret: string;
  /** Peer SANs accepted (any of); empty = any certificate of the CA. */
  peerUriSans?: StringMatcher[];
}

function commonTlsContext(options: MtlsContextOptions): Record<string, unknown> {
  const validation: Record<string, unknown> = {};
  if (options.peerUriSans?.length) {
    validation.match_typed_subject_alt_names = options.peerUriSans.map((matcher) => ({ san_type: 'URI', matcher }));
  }
  return {
    tls_certificate_sds_secret_configs: [sdsRef(options.identitySecret)],
    combined_validation_context: {
      default_validation_context: validation,
      validation_context_sds_secret_config: sdsRef(options.caSecret),
    },
    tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
  };
}

/** Inbound side: present our certificate, require and verify the client's. */
export function downstreamMtls(options: MtlsContextOptions): TypedExtensionConfig {
  return typedExtension(TLS_SOCKET, DOWNSTREAM_TLS_TYPE_URL, {
    common_tls_context: commonTlsContext(options),
    require_client_certificate: { value: true },
  });
}

/** Outbound side: present our certificate, verify the server's SAN, ask for it by SNI. */
export function upstreamMtls(options: MtlsContextOptions & { sni: string }): TypedExtensionConfig {
  return typedExtension(TLS_SOCKET, UPSTREAM_TLS_TYPE_URL, {
    common_tls_context: commonTlsContext(options),
    sni: options.sni,
  });
}

/** Outbound side toward a server outside the mesh: TLS with SNI, no client certificate. */
export function upstreamTls(options: { sni?: string }): TypedExtensionConfig {
  return typedExtension(TLS_SOCKET, UPSTREAM_TLS_TYPE_URL, {
    common_tls_context: { tls_params: { tls_minimum_protocol_version: 'TLSv1_2' } },
    ...(options.sni ? { sni: options.sni } : {}),
  });
}

/** TLS origination toward a server outside the mesh (a MeshExternalService endpoint). */
export function externalServiceTls(options: ExternalTlsOptions & { sni?: string }): TypedExtensionConfig {
  const common: Record<string, unknown> = {
    tls_params: { tls_minimum_protocol_version: options.minVersion ?? 'TLSv1_2', ...(options.maxVersion ? { tls_maximum_protocol_version: options.maxVersion } : {}) },
  };
  if (options.clientCertPem && options.clientKeyPem) {
    common['tls_certificates'] = [{ certificate_chain: { inline_string: options.clientCertPem }, private_key: { inline_string: options.clientKeyPem } }];
  }
  if (options.caPem || options.sans?.length) {
    common['validation_context'] = {
      ...(options.caPem ? { trusted_ca: { inline_string: options.caPem } } : {}),
      ...(options.sans?.length
        ? { match_typed_subject_alt_names: options.sans.map((s) => ({ san_type: 'DNS', matcher: s.type === 'Prefix' ? { prefix: s.value } : { exact: s.value } })) }
        : {}),
    };
  }
  return typedExtension(TLS_SOCKET, UPSTREAM_TLS_TYPE_URL, { common_tls_context: common, ...(options.sni ? { sni: options.sni } : {}) });
}

export function certificateSecret(name: string, certPem: string, keyPem: string): NamedResource {
  return {
    name,
    any: packAny(TypeUrl.Secret, {
      name,
      tls_certificate: { certificate_chain: { inline_string: certPem }, private_key: { inline_string: keyPem } },
    }),
  };
}

export function validationSecret(name: string, caPem: string): NamedResource {
  return { name, any: packAny(TypeUrl.Secret, { name, validation_context: { trusted_ca: { inline_string: caPem } } }) };
}
