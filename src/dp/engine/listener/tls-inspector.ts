// envoy.filters.listener.tls_inspector: detects TLS and reads SNI / ALPN from the ClientHello.
import { checkFields } from '../proto-values.js';
import { listenerFilters } from '../registry.js';
import { parseClientHello } from './client-hello.js';
import { peek } from './peek.js';

const TLS_INSPECTOR = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
const MAX_HELLO_BYTES = 16 * 1024 + 5;

listenerFilters.register(TLS_INSPECTOR, (config, path) => {
  checkFields(config, path, []);
  return {
    async inspect(socket, info, signal) {
      const hello = await peek(socket, signal, (bytes) => {
        const parsed = parseClientHello(bytes);
        return parsed === 'incomplete' && bytes.length > MAX_HELLO_BYTES ? undefined : parsed;
      });
      if (!hello) return;
      info.transportProtocol = 'tls';
      info.serverName = hello.serverName;
      info.applicationProtocols = hello.alpn;
    },
  };
});
