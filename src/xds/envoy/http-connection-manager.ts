// http_connection_manager network filter, with routes from RDS or inline, and its HTTP filters.
import { adsConfigSource, durationFromMs, typedExtension } from './common.js';
import type { CodecType, Filter, HttpConnectionManager, HttpFilter, RouteConfiguration, TypedExtensionConfig } from './types.js';

export const HTTP_CONNECTION_MANAGER_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

export interface HttpConnectionManagerOptions {
  statPrefix: string;
  /** Routes fetched over ADS by this RouteConfiguration name... */
  rdsRouteConfigName?: string;
  /** ...or given inline. */
  routeConfig?: RouteConfiguration;
  /** Filters before the router; the router is always appended last, as Envoy and gRPC require. */
  httpFilters?: HttpFilter[];
  /** Request tracing (MeshTrace). */
  tracing?: HttpConnectionManager['tracing'];
  codecType?: CodecType;
  streamIdleTimeoutMs?: number;
  /** Downstream connection idle timeout (`common_http_protocol_options.idle_timeout`). */
  idleTimeoutMs?: number;
  /** Access log entries (MeshAccessLog). */
  accessLogs?: TypedExtensionConfig[];
}

export function httpConnectionManager(options: HttpConnectionManagerOptions): HttpConnectionManager {
  if (!options.rdsRouteConfigName === !options.routeConfig) {
    throw new Error('http_connection_manager needs exactly one of rdsRouteConfigName or routeConfig');
  }
  const hcm: HttpConnectionManager = {
    stat_prefix: options.statPrefix,
    http_filters: [...(options.httpFilters ?? []), routerFilter()],
  };
  if (options.rdsRouteConfigName) {
    hcm.rds = { route_config_name: options.rdsRouteConfigName, config_source: adsConfigSource() };
  }
  if (options.routeConfig) hcm.route_config = options.routeConfig;
  if (options.tracing) hcm.tracing = options.tracing;
  if (options.codecType) hcm.codec_type = options.codecType;
  if (options.streamIdleTimeoutMs !== undefined) hcm.stream_idle_timeout = durationFromMs(options.streamIdleTimeoutMs);
  if (options.idleTimeoutMs !== undefined) hcm.common_http_protocol_options = { idle_timeout: durationFromMs(options.idleTimeoutMs) };
  if (options.accessLogs?.length) hcm.access_log = options.accessLogs;
  return hcm;
}

export function httpConnectionManagerFilter(options: HttpConnectionManagerOptions): Filter {
  return typedExtension('envoy.filters.network.http_connection_manager', HTTP_CONNECTION_MANAGER_TYPE_URL, httpConnectionManager(options));
}

export function routerFilter(): HttpFilter {
  return typedExtension('envoy.filters.http.router', ROUTER_TYPE_URL, {});
}
