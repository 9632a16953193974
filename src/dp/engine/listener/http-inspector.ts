// envoy.filters.listener.http_inspector: on plaintext connections, tells HTTP/1.x from HTTP/2
// (prior knowledge) and sets the application protocol to `http/1.1` or `h2c`.
import { checkFields } from '../proto-values.js';
import { listenerFilters } from '../registry.js';
import { peek } from './peek.js';

const HTTP_INSPECTOR = 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector';
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const HTTP1_REQUEST_LINE = /^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/;

listenerFilters.register(HTTP_INSPECTOR, (config, path) => {
  checkFields(config, path, []);
  return {
    async inspect(socket, info, signal) {
      if (info.transportProtocol === 'tls') return;
      const protocol = await peek(socket, signal, (bytes) => {
        const n = Math.min(bytes.length, HTTP2_PREFACE.length);
        if (bytes.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) return n === HTTP2_PREFACE.length ? 'h2c' : 'incomplete';
        const text = bytes.subarray(0, 1024).toString('latin1');
        const lineEnd = text.indexOf('\r\n');
        if (lineEnd < 0) return bytes.length < 1024 ? 'incomplete' : undefined;
        return HTTP1_REQUEST_LINE.test(text.slice(0, lineEnd + 2)) ? 'http/1.1' : undefined;
      });
      if (protocol) info.applicationProtocols = [protocol];
    },
  };
});
