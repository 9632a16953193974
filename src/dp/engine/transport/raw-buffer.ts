// envoy.transport_sockets.raw_buffer: plaintext, both directions.
import { checkFields } from '../proto-values.js';
import { downstreamTransports, upstreamTransports } from '../registry.js';

const RAW_BUFFER = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';

downstreamTransports.register(RAW_BUFFER, (config, path) => {
  checkFields(config, path, []);
  return { secure: false, wrap: (socket) => socket };
});

upstreamTransports.register(RAW_BUFFER, (config, path) => {
  checkFields(config, path, []);
  return { fingerprint: 'raw', tlsOptions: () => undefined };
});
