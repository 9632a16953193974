// Clusters: EDS over ADS (endpoints come as ClusterLoadAssignment resources), STATIC (inline), or
// ORIGINAL_DST (each connection goes where it was going before iptables redirected it).
import { packAny } from '../../envoy/protos.js';
import { adsConfigSource, durationFromMs } from './common.js';
import { clusterLoadAssignment, type LocalityOptions } from './endpoint.js';
import type { Cluster, LbPolicy } from './types.js';

const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const HTTP_PROTOCOL_OPTIONS_TYPE_URL = `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`;

interface ClusterCommonOptions {
  name: string;
  connectTimeoutMs?: number;
  lbPolicy?: Extract<LbPolicy, 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM'>;
  /** Talk HTTP/2 to the upstream (gRPC services). */
  http2?: boolean;
}

export interface EdsClusterOptions extends ClusterCommonOptions {
  /** Name of the ClusterLoadAssignment, when it differs from the cluster name. */
  serviceName?: string;
}

export interface StaticClusterOptions extends ClusterCommonOptions {
  localities: LocalityOptions[];
}

export function edsCluster(options: EdsClusterOptions): Cluster {
  const cluster = commonCluster(options, 'EDS');
  cluster.eds_cluster_config = { eds_config: adsConfigSource() };
  if (options.serviceName) cluster.eds_cluster_config.service_name = options.serviceName;
  return cluster;
}

export function staticCluster(options: StaticClusterOptions): Cluster {
  const cluster = commonCluster(options, 'STATIC');
  cluster.load_assignment = clusterLoadAssignment(options.name, options.localities);
  return cluster;
}

export interface OriginalDstClusterOptions {
  name: string;
  connectTimeoutMs?: number;
  altStatName?: string;
}

/** A passthrough cluster: type ORIGINAL_DST, lb_policy CLUSTER_PROVIDED, no endpoints. */
export function originalDstCluster(options: OriginalDstClusterOptions): Cluster {
  const cluster: Cluster = {
    name: options.name,
    type: 'ORIGINAL_DST',
    connect_timeout: durationFromMs(options.connectTimeoutMs ?? 5_000),
    lb_policy: 'CLUSTER_PROVIDED',
  };
  if (options.altStatName) cluster.alt_stat_name = options.altStatName;
  return cluster;
}

function commonCluster(options: ClusterCommonOptions, type: Cluster['type']): Cluster {
  const cluster: Cluster = {
    name: options.name,
    type,
    connect_timeout: durationFromMs(options.connectTimeoutMs ?? 5_000),
    lb_policy: options.lbPolicy ?? 'ROUND_ROBIN',
  };
  if (options.http2) {
    cluster.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS_KEY]: packAny(HTTP_PROTOCOL_OPTIONS_TYPE_URL, {
        explicit_http_config: { http2_protocol_options: {} },
      }),
    };
  }
  return cluster;
}

/** What the cluster policies (MeshCircuitBreaker, MeshHealthCheck) set on a cluster. */
export type ClusterPatch = Pick<Cluster, 'circuit_breakers' | 'outlier_detection' | 'health_checks' | 'common_lb_config'>;

/** Applies the patches in order (later ones win, common_lb_config is merged field by field). */
export function applyClusterPatches(cluster: Cluster, ...patches: (ClusterPatch | undefined)[]): Cluster {
  for (const patch of patches) {
    if (!patch) continue;
    const { common_lb_config: lb, ...rest } = patch;
    Object.assign(cluster, rest);
    if (lb) cluster.common_lb_config = { ...cluster.common_lb_config, ...lb };
  }
  return cluster;
}
