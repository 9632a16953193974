// Small shared pieces of Envoy config: durations, addresses, the ADS config source, extensions.
import { packAny } from '../../envoy/protos.js';
import type { Address, ConfigSource, Duration, TypedExtensionConfig } from './types.js';

export function durationFromMs(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function socketAddress(address: string, port: number): Address {
  return { socket_address: { address, port_value: port } };
}

/** "Fetch it over the same ADS stream": how listeners point at routes and clusters at endpoints. */
export function adsConfigSource(): ConfigSource {
  return { ads: {}, resource_api_version: 'V3' };
}

/** A named extension whose config is the given message packed as an Any. */
export function typedExtension(name: string, typeUrl: string, config: object): TypedExtensionConfig {
  return { name, typed_config: packAny(typeUrl, config as Record<string, unknown>) };
}
