// envoy.transport_sockets.tls on listeners (DownstreamTlsContext): TLS termination, optionally
// requiring and verifying client certificates (mesh mTLS).
import tls from 'node:tls';
import { bool, checkFields } from '../proto-values.js';
import { reject } from '../config-error.js';
import { downstreamTransports } from '../registry.js';
import { compileCommonTls } from './common-tls-context.js';
import { sansMatch } from './secrets.js';

const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

downstreamTransports.register(DOWNSTREAM_TLS, (config, path, ctx) => {
  checkFields(config, path, ['common_tls_context', 'require_client_certificate']);
  const common = compileCommonTls(config.common_tls_context, `${path}.common_tls_context`, ctx);
  const requireClientCert = bool(config.require_client_certificate, false);
  if (requireClientCert && !common.validation && common.missing.length === 0) {
    reject(`${path}.require_client_certificate`, 'needs a validation context to verify client certificates');
  }
  const secureContext = common.certificate
    ? tls.createSecureContext({
        cert: common.certificate.cert,
        key: common.certificate.key,
        ca: common.validation?.ca,
        minVersion: common.minVersion,
        maxVersion: common.maxVersion,
      })
    : undefined;
  if (!secureContext && common.missing.length === 0) reject(`${path}.common_tls_context`, 'a TLS certificate is required');
  const verifyPeer = common.validation !== undefined;
  return {
    secure: true,
    wrap(socket) {
      if (!secureContext || common.missing.length > 0) {
        socket.destroy();
        return undefined;
      }
      const tlsSocket = new tls.TLSSocket(socket, {
        isServer: true,
        secureContext,
        requestCert: verifyPeer || requireClientCert,
        rejectUnauthorized: requireClientCert,
        ALPNProtocols: common.alpn.length > 0 ? common.alpn : undefined,
      });
      tlsSocket.once('secure', () => {
        const peer = tlsSocket.getPeerCertificate();
        const presented = peer && Object.keys(peer).length > 0;
        if (presented && verifyPeer && (!tlsSocket.authorized || !sansMatch(common.validation, peer.subjectaltname))) {
          tlsSocket.destroy();
        }
      });
      tlsSocket.on('error', () => tlsSocket.destroy());
      return tlsSocket;
    },
  };
});
