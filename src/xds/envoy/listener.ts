// Listeners: real socket listeners (filter chains chosen by SNI / transport / port) and
// API listeners for proxyless gRPC clients.
import { packAny } from '../../envoy/protos.js';
import { socketAddress, typedExtension } from './common.js';
import { HTTP_CONNECTION_MANAGER_TYPE_URL } from './http-connection-manager.js';
import type { Filter, FilterChain, FilterChainMatch, HttpConnectionManager, Listener, TrafficDirection } from './types.js';

const TLS_INSPECTOR_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';

export interface ListenerOptions {
  name: string;
  address: string;
  port: number;
  filterChains: FilterChain[];
  listenerFilters?: Filter[];
  trafficDirection?: TrafficDirection;
  /** Outbound listeners of a transparent proxy take connections redirected to other ports. */
  useOriginalDst?: boolean;
  /** False for listeners that only receive connections handed over by another listener. */
  bindToPort?: boolean;
}

export function listener(options: ListenerOptions): Listener {
  const built: Listener = {
    name: options.name,
    address: socketAddress(options.address, options.port),
    filter_chains: options.filterChains,
  };
  if (options.listenerFilters?.length) built.listener_filters = options.listenerFilters;
  if (options.trafficDirection) built.traffic_direction = options.trafficDirection;
  if (options.useOriginalDst !== undefined) built.use_original_dst = { value: options.useOriginalDst };
  if (options.bindToPort !== undefined) built.bind_to_port = { value: options.bindToPort };
  return built;
}

export interface FilterChainMatchOptions {
  serverNames?: string[];
  /** 'tls' or 'raw_buffer' (needs the TLS inspector listener filter). */
  transportProtocol?: string;
  destinationPort?: number;
  applicationProtocols?: string[];
}

export function filterChain(options: { name?: string; match?: FilterChainMatchOptions; filters: Filter[] }): FilterChain {
  const chain: FilterChain = { filters: options.filters };
  if (options.name) chain.name = options.name;
  if (options.match) chain.filter_chain_match = filterChainMatch(options.match);
  return chain;
}

function filterChainMatch(options: FilterChainMatchOptions): FilterChainMatch {
  const match: FilterChainMatch = {};
  if (options.serverNames?.length) match.server_names = options.serverNames;
  if (options.transportProtocol) match.transport_protocol = options.transportProtocol;
  if (options.destinationPort !== undefined) match.destination_port = { value: options.destinationPort };
  if (options.applicationProtocols?.length) match.application_protocols = options.applicationProtocols;
  return match;
}

/** Listener filter that reads SNI / ALPN so filter chains can match on them. */
export function tlsInspector(): Filter {
  return typedExtension('envoy.filters.listener.tls_inspector', TLS_INSPECTOR_TYPE_URL, {});
}

/** A proxyless gRPC client's listener: named after the `xds:///<name>` target it dials. */
export function apiListener(name: string, httpConnectionManager: HttpConnectionManager): Listener {
  return { name, api_listener: { api_listener: packAny(HTTP_CONNECTION_MANAGER_TYPE_URL, { ...httpConnectionManager }) } };
}
