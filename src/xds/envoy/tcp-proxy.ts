// tcp_proxy network filter: plain TCP forwarding to one cluster or split across several.
import { durationFromMs, typedExtension } from './common.js';
import type { Filter, TcpProxy, TypedExtensionConfig } from './types.js';

const TCP_PROXY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

export interface TcpProxyOptions {
  statPrefix: string;
  /** Either one cluster or weighted clusters. */
  cluster?: string;
  weightedClusters?: { name: string; weight: number }[];
  idleTimeoutMs?: number;
  /** Access log entries (MeshAccessLog), written when the connection closes. */
  accessLogs?: TypedExtensionConfig[];
}

export function tcpProxy(options: TcpProxyOptions): TcpProxy {
  if (!options.cluster === !options.weightedClusters) {
    throw new Error('tcp_proxy needs exactly one of cluster or weightedClusters');
  }
  const proxy: TcpProxy = { stat_prefix: options.statPrefix };
  if (options.cluster) proxy.cluster = options.cluster;
  if (options.weightedClusters) proxy.weighted_clusters = { clusters: options.weightedClusters };
  if (options.idleTimeoutMs !== undefined) proxy.idle_timeout = durationFromMs(options.idleTimeoutMs);
  if (options.accessLogs?.length) proxy.access_log = options.accessLogs;
  return proxy;
}

export function tcpProxyFilter(options: TcpProxyOptions): Filter {
  return typedExtension('envoy.filters.network.tcp_proxy', TCP_PROXY_TYPE_URL, tcpProxy(options));
}
