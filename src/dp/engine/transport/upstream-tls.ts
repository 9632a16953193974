// envoy.transport_sockets.tls on clusters (UpstreamTlsContext): TLS origination with SNI, client
// certificate and server verification (CA + SAN matchers).
import type tls from 'node:tls';
import { checkFields, str } from '../proto-values.js';
import { upstreamTransports } from '../registry.js';
import { compileCommonTls } from './common-tls-context.js';
import { sansMatch } from './secrets.js';

const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

upstreamTransports.register(UPSTREAM_TLS, (config, path, ctx) => {
  checkFields(config, path, ['common_tls_context', 'sni']);
  const common = compileCommonTls(config.common_tls_context, `${path}.common_tls_context`, ctx);
  const sni = str(config.sni);
  const options: tls.ConnectionOptions = {
    cert: common.certificate?.cert,
    key: common.certificate?.key,
    ca: common.validation?.ca,
    servername: sni || undefined,
    ALPNProtocols: common.alpn.length > 0 ? common.alpn : undefined,
    minVersion: common.minVersion,
    maxVersion: common.maxVersion,
    // Like Envoy: the server certificate is verified only when a validation context is configured.
    rejectUnauthorized: common.validation !== undefined || common.missing.length > 0,
    checkServerIdentity: (_host, cert) => {
      if (common.missing.length > 0) return new Error(`TLS secrets not delivered yet: ${common.missing.join(', ')}`);
      return sansMatch(common.validation, cert.subjectaltname) ? undefined : new Error('upstream certificate SAN does not match');
    },
  };
  return { fingerprint: common.fingerprint + sni, tlsOptions: () => options };
});
