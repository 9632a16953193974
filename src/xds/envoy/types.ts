// TypeScript shapes of the Envoy v3 messages Skein writes: plain objects with the proto's
// snake_case field names and enums by name, exactly what protobufjs `fromObject` accepts.
// Only the fields Skein uses are listed; add fields here when a generator needs them.
import type { AnyMessage } from '../../envoy/protos.js';

export interface Duration {
  seconds: number;
  nanos?: number;
}

export interface UInt32Value {
  value: number;
}

export interface BoolValue {
  value: boolean;
}

// envoy.config.core.v3

export interface SocketAddress {
  address: string;
  port_value: number;
  protocol?: 'TCP' | 'UDP';
}

export interface Address {
  socket_address?: SocketAddress;
  pipe?: { path: string; mode?: number };
}

export interface ConfigSource {
  ads?: Record<string, never>;
  self?: Record<string, never>;
  resource_api_version: 'V3';
  initial_fetch_timeout?: Duration;
}

export interface TypedExtensionConfig {
  name: string;
  typed_config: AnyMessage;
}

export interface Locality {
  region?: string;
  zone?: string;
  sub_zone?: string;
}

export type HealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

export type TrafficDirection = 'UNSPECIFIED' | 'INBOUND' | 'OUTBOUND';

// envoy.config.listener.v3

export interface FilterChainMatch {
  destination_port?: UInt32Value;
  server_names?: string[];
  transport_protocol?: string;
  application_protocols?: string[];
}

/** Network filters and listener filters share this shape. */
export type Filter = TypedExtensionConfig;

export interface FilterChain {
  name?: string;
  filter_chain_match?: FilterChainMatch;
  filters: Filter[];
  transport_socket?: TypedExtensionConfig;
}

export interface Listener {
  name: string;
  address?: Address;
  stat_prefix?: string;
  filter_chains?: FilterChain[];
  default_filter_chain?: FilterChain;
  use_original_dst?: BoolValue;
  listener_filters?: Filter[];
  traffic_direction?: TrafficDirection;
  bind_to_port?: BoolValue;
  /** Proxyless gRPC: the listener is an API listener wrapping an HttpConnectionManager. */
  api_listener?: { api_listener: AnyMessage };
}

// envoy.extensions.filters.network.tcp_proxy.v3

export interface TcpProxy {
  stat_prefix: string;
  cluster?: string;
  weighted_clusters?: { clusters: { name: string; weight: number }[] };
  idle_timeout?: Duration;
  access_log?: TypedExtensionConfig[];
}

// envoy.extensions.filters.network.http_connection_manager.v3

export interface Rds {
  route_config_name: string;
  config_source: ConfigSource;
}

export interface HttpFilter {
  name: string;
  typed_config: AnyMessage;
  is_optional?: boolean;
}

export type CodecType = 'AUTO' | 'HTTP1' | 'HTTP2';

/** HttpConnectionManager.Tracing (MeshTrace). */
export interface HcmTracing {
  provider: TypedExtensionConfig;
  random_sampling?: { value: number };
  client_sampling?: { value: number };
  overall_sampling?: { value: number };
  custom_tags?: ({ tag: string; literal: { value: string } } | { tag: string; request_header: { name: string; default_value?: string } })[];
  spawn_upstream_span?: { value: boolean };
}

export interface HttpConnectionManager {
  stat_prefix: string;
  codec_type?: CodecType;
  tracing?: HcmTracing;
  rds?: Rds;
  route_config?: RouteConfiguration;
  http_filters: HttpFilter[];
  stream_idle_timeout?: Duration;
  common_http_protocol_options?: { idle_timeout?: Duration };
  access_log?: TypedExtensionConfig[];
}

// envoy.config.route.v3

export interface StringMatcher {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  safe_regex?: { regex: string };
  ignore_case?: boolean;
}

export interface HeaderMatcher {
  name: string;
  string_match?: StringMatcher;
  present_match?: boolean;
  invert_match?: boolean;
}

export interface RouteMatch {
  prefix?: string;
  path?: string;
  safe_regex?: { regex: string };
  headers?: HeaderMatcher[];
}

export interface RouteAction {
  cluster?: string;
  weighted_clusters?: { clusters: { name: string; weight: UInt32Value }[] };
  timeout?: Duration;
  /** Replaces the matched prefix (or path) of the request path. */
  prefix_rewrite?: string;
}

export interface Route {
  name?: string;
  match: RouteMatch;
  route: RouteAction;
}

export interface VirtualHost {
  name: string;
  domains: string[];
  routes: Route[];
}

export interface RouteConfiguration {
  name: string;
  virtual_hosts: VirtualHost[];
  validate_clusters?: BoolValue;
}

// envoy.config.cluster.v3

export type DiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV' | 'CLUSTER_PROVIDED';

export interface Cluster {
  name: string;
  type: DiscoveryType;
  eds_cluster_config?: { eds_config: ConfigSource; service_name?: string };
  connect_timeout?: Duration;
  lb_policy?: LbPolicy;
  /** Name used in stats instead of `name` (which may hold characters stats names avoid). */
  alt_stat_name?: string;
  load_assignment?: ClusterLoadAssignment;
  /** Keyed by extension name, e.g. envoy.extensions.upstreams.http.v3.HttpProtocolOptions. */
  typed_extension_protocol_options?: Record<string, AnyMessage>;
  transport_socket?: TypedExtensionConfig;
  /** Written by policy plugins (MeshCircuitBreaker, MeshHealthCheck) as Envoy's JSON shape. */
  circuit_breakers?: { thresholds: Record<string, unknown>[] };
  outlier_detection?: Record<string, unknown>;
  health_checks?: Record<string, unknown>[];
  common_lb_config?: { healthy_panic_threshold?: { value: number }; zone_aware_lb_config?: { fail_traffic_on_panic?: boolean } };
}

// envoy.config.endpoint.v3

export interface LbEndpoint {
  endpoint: { address: Address };
  health_status?: HealthStatus;
  load_balancing_weight?: UInt32Value;
}

export interface LocalityLbEndpoints {
  locality: Locality;
  lb_endpoints: LbEndpoint[];
  load_balancing_weight?: UInt32Value;
  priority?: number;
}

export interface ClusterLoadAssignment {
  cluster_name: string;
  endpoints: LocalityLbEndpoints[];
}
