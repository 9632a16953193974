// envoy.transport_sockets.tls on listeners (DownstreamTlsContext): TLS termination, optionally
// requiring and verifying client certificates (mesh mTLS).
import { constants } from 'node:crypto';
import tls from 'node:tls';
import { bool, checkFields } from '../proto-values.js';
import { reject } from '../config-error.js';
import { downstreamTransports } from '../registry.js';
import { compileCommonTls } from './common-tls-context.js';
import { peerCertificateOf } from './peer-certificate.js';
import { sansMatch } from './secrets.js';

const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
/** tls.Server's default handshakeTimeout: network filters may wait for the handshake (RBAC). */
const HANDSHAKE_TIMEOUT_MS = 120_000;

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
        // No session tickets: a resumed session skips the client certificate this proxy verifies
        // itself, so it would refuse the connection (any client resuming, Envoy included).
        secureOptions: constants.SSL_OP_NO_TICKET,
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
      const handshakeTimer = setTimeout(() => tlsSocket.destroy(), HANDSHAKE_TIMEOUT_MS).unref();
      tlsSocket.once('close', () => clearTimeout(handshakeTimer));
      tlsSocket.once('secure', () => {
        clearTimeout(handshakeTimer);
        // What tls.Server does once a server socket is secure: node:http2 waits for a TLS socket
        // that is still `secureConnecting` to emit 'secureConnect', which server sockets never do.
        (tlsSocket as { secureConnecting?: boolean }).secureConnecting = false;
        const cert = tlsSocket.getPeerX509Certificate();
        if (!cert) {
          // OpenSSL already fails the handshake then; belt and braces.
          if (requireClientCert) tlsSocket.destroy();
          return;
        }
        if (!verifyPeer || !chainVerified(tlsSocket) || !sansMatch(common.validation, cert.subjectAltName)) {
          tlsSocket.destroy();
          return;
        }
        tlsSocket.authorized = true;
      });
      tlsSocket.on('error', () => tlsSocket.destroy());
      return tlsSocket;
    },
    onEstablished(socket, done) {
      const tlsSocket = socket as tls.TLSSocket;
      let settled = false;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        tlsSocket.off('secure', settle);
        tlsSocket.off('close', settle);
        // Registered after wrap()'s own 'secure' listener: a peer that failed verification is gone.
        if (tlsSocket.destroyed) return done(false);
        const cert = tlsSocket.getPeerX509Certificate();
        done(cert && tlsSocket.authorized ? peerCertificateOf(cert) : undefined);
      };
      tlsSocket.once('secure', settle);
      tlsSocket.once('close', settle);
    },
  };
});

/**
 * Whether OpenSSL verified the peer's chain against the trusted CA during the handshake. Node
 * accepts any client certificate during the handshake and leaves the verdict to tls.Server, which
 * sets `authorized`; a TLSSocket wrapped by hand must read it itself (what tls.Server does).
 */
function chainVerified(tlsSocket: tls.TLSSocket): boolean {
  const handle = (tlsSocket as unknown as { _handle?: { verifyError?: () => unknown } })._handle;
  if (typeof handle?.verifyError !== 'function') return false;
  // Node 20 returns an Error (null when verified); later versions return the error code.
  return !handle.verifyError();
}
