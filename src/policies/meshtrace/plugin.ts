// MeshTrace → request tracing on every HTTP connection manager of a proxy (a single proxy-wide
// conf: the merged `default` of the policies selecting the proxy, as Kuma's single-item kinds):
//   sidecars: every HTTP inbound and every HTTP outbound (MeshExternalService outbounds excepted, as
//   in Kuma); zone proxies: the HTTP chains of the zone egress (zone ingress is TLS passthrough:
//   no HTTP, no spans).
// Envoy output (Kuma 2.14, legacy names): HCM `tracing {provider, *_sampling, custom_tags,
// spawn_upstream_span: false}` with provider `envoy.tracers.opentelemetry` (OpenTelemetryConfig
// {grpc_service.envoy_grpc.cluster_name, service_name}) and one HTTP/2 cluster
// `meshtrace:opentelemetry` (STATIC for an IP, STRICT_DNS for a host name) toward the collector
// (OTLP/gRPC, connect timeout 5s); a MeshOpenTelemetryBackend with `protocol: http` gets
// `http_service {http_uri {uri, cluster, timeout: 10s}}` (OTLP/HTTP) and an HTTP/1 cluster
// instead, as in Kuma.
//   service_name  = the proxy's first `kuma.io/service` (zone proxies: `kuma.io/workload`, else
//                   the Dataplane name)
//   sampling      = `{value: <percent>}` only for the fields the policy sets
//   custom_tags   = the policy's tags (literal / request header with default), then `kuma.mesh`
//                   and `kuma.zone` literals unless a tag of that name is already there
// Backends: OpenTelemetry with `endpoint` (host:port, port 4317 by default) or `backendRef` to a
// MeshOpenTelemetryBackend (an empty address is the proxy's own). A dangling backendRef, or
// an empty `backends` list, means no tracing. Zipkin and Datadog are refused by validation (api.ts):
// the Skein data plane only exports OTLP.
import { isIP } from 'node:net';
import type { DataplaneSpec } from '../../api/kinds/dataplane-spec.js';
import type { Resource } from '../../api/resource.js';
import { isZoneProxy } from '../../api/zone-proxy.js';
import { WORKLOAD_LABEL } from '../../api/well-known.js';
import { matchPolicies } from '../../policy-engine/index.js';
import { selectionViewOf } from '../common/plugin-view.js';
import { httpConnectionManagerFilter, route, routeConfiguration, staticCluster, typedExtension, virtualHost, type Cluster, type Filter, type HcmTracing, type HttpConnectionManagerOptions } from '../../xds/envoy/index.js';
import { DEFAULT_OTLP_PORT, resolveBackendRef } from '../meshopentelemetrybackend/api.js';
import type { MeshTraceConf } from './api.js';

export const TRACING_CLUSTER = 'meshtrace:opentelemetry';
const OPENTELEMETRY_CONFIG = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
const COLLECTOR_CONNECT_TIMEOUT_MS = 5_000;
const HTTP_EXPORT_TIMEOUT_S = 10;

/** Where spans go: OTLP/gRPC to address:port, or OTLP/HTTP (`http`) to that URI through it. */
interface Collector {
  address: string;
  port: number;
  http?: { uri: string };
}

export interface ProxyTracing {
  /** The HCM `tracing` every HTTP listener of the proxy gets. */
  tracing: HcmTracing;
  /** Determines `tracing` and `cluster` completely: part of shared resources' cache keys. */
  key: string;
  /** The collector cluster `tracing` exports to. */
  cluster: () => Cluster;
}

/**
 * The tracing of a proxy, or undefined when no MeshTrace with a usable backend selects it.
 * `resources` are the mesh's policies and MeshOpenTelemetryBackends; `zone` is the CP's zone.
 */
export function proxyTracing(resources: readonly Resource[], dp: Resource, zone: string): ProxyTracing | undefined {
  const conf = matchPolicies<MeshTraceConf>(selectionViewOf(dp), resources, 'MeshTrace').proxy?.conf;
  const otel = conf?.backends?.[0]?.openTelemetry;
  if (!conf || !otel) return undefined;
  const collector = otel.backendRef ? backendRefCollector(resources, otel.backendRef, dp) : endpointCollector(otel.endpoint);
  if (!collector) return undefined;

  const exporter = collector.http
    ? { http_service: { http_uri: { uri: collector.http.uri, cluster: TRACING_CLUSTER, timeout: { seconds: HTTP_EXPORT_TIMEOUT_S } } } }
    : { grpc_service: { envoy_grpc: { cluster_name: TRACING_CLUSTER } } };
  const tracing: HcmTracing = {
    provider: typedExtension('envoy.tracers.opentelemetry', OPENTELEMETRY_CONFIG, { ...exporter, service_name: serviceNameOf(dp) }),
    spawn_upstream_span: { value: false },
  };
  for (const [field, key] of [['overall_sampling', 'overall'], ['client_sampling', 'client'], ['random_sampling', 'random']] as const) {
    const value = conf.sampling?.[key];
    if (value !== undefined) tracing[field] = { value: Number(value) };
  }
  const tags: NonNullable<HcmTracing['custom_tags']> = (conf.tags ?? []).map((t) =>
    t.header
      ? { tag: t.name ?? '', request_header: { name: t.header.name ?? '', ...(t.header.default ? { default_value: t.header.default } : {}) } }
      : { tag: t.name ?? '', literal: { value: t.literal ?? '' } },
  );
  // Envoy's literal tags need a value: no `kuma.zone` on a standalone CP (no zone name).
  for (const [tag, value] of [['kuma.mesh', dp.mesh], ['kuma.zone', zone]]) {
    if (value && !tags.some((t) => t.tag === tag)) tags.push({ tag, literal: { value } });
  }
  if (tags.length) tracing.custom_tags = tags;

  return {
    tracing,
    key: JSON.stringify(['meshtrace', serviceNameOf(dp), dp.mesh, zone, conf.sampling, conf.tags, collector]),
    cluster: () => {
      const endpoints = [{ address: collector.address, port: collector.port }];
      const cluster = staticCluster({ name: TRACING_CLUSTER, connectTimeoutMs: COLLECTOR_CONNECT_TIMEOUT_MS, http2: !collector.http, localities: [{ endpoints }] });
      cluster.alt_stat_name = TRACING_CLUSTER.replace(/:/g, '_');
      // As Kuma: a collector named by host name is resolved by DNS.
      if (isIP(collector.address) === 0) cluster.type = 'STRICT_DNS';
      return cluster;
    },
  };
}

const HTTP_PROTOCOLS = new Set(['http', 'http2', 'grpc']);

/**
 * Whether a zone egress chain toward an external service of `protocol` is HTTP (an HCM that can
 * carry tracing) rather than a tcp_proxy: only when the egress is traced, so egresses without a
 * MeshTrace keep relaying bytes.
 */
export function tracedEgressProtocol(trace: ProxyTracing | undefined, protocol: string): boolean {
  return trace !== undefined && HTTP_PROTOCOLS.has(protocol);
}

/**
 * The HCM of a traced egress chain: every request to `cluster` (no route timeout: the calling
 * sidecar has one); `extra` HCM options from other policies (access logs).
 */
export function tracedEgressFilter(trace: ProxyTracing, statPrefix: string, cluster: string, extra: Partial<HttpConnectionManagerOptions> = {}): Filter {
  return httpConnectionManagerFilter({
    ...extra,
    statPrefix,
    codecType: 'AUTO',
    tracing: trace.tracing,
    routeConfig: routeConfiguration(statPrefix, [virtualHost(cluster, ['*'], [route({ prefix: '/', cluster, timeoutMs: 0 })])]),
  });
}

/** Kuma's identifying name: the first `kuma.io/service` of the proxy's inbounds. */
function serviceNameOf(dp: Resource): string {
  const networking = (dp.spec as DataplaneSpec).networking ?? {};
  const services = [...new Set((networking.inbound ?? []).map((i) => i.tags?.['kuma.io/service']).filter((s): s is string => Boolean(s)))].sort();
  if (services[0]) return services[0];
  if (isZoneProxy(dp)) return dp.labels[WORKLOAD_LABEL] || dp.name;
  return 'unknown';
}

/** `endpoint: host:port` (inline, deprecated): OTLP/gRPC, port 4317 when left out. */
function endpointCollector(endpoint: string | undefined): Collector | undefined {
  if (!endpoint) return undefined;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(endpoint) ?? /^([^:]+)(?::(\d+))?$/.exec(endpoint);
  if (!m) return undefined;
  return { address: m[1]!, port: m[2] ? Number(m[2]) : DEFAULT_OTLP_PORT };
}

/**
 * A MeshOpenTelemetryBackend: its address (empty = the proxy's own address) and port; with
 * `protocol: http`, OTLP/HTTP to `http(s)://address:port<path>/v1/traces` (https on port 443).
 */
function backendRefCollector(resources: readonly Resource[], ref: { kind?: string; labels?: Record<string, string> }, dp: Resource): Collector | undefined {
  const backend = resolveBackendRef(resources, ref, 'traces');
  if (!backend) return undefined;
  const address = backend.address || ((dp.spec as DataplaneSpec).networking?.address ?? '127.0.0.1');
  if (backend.protocol !== 'http') return { address, port: backend.port };
  const host = address.includes(':') ? `[${address}]` : address;
  return { address, port: backend.port, http: { uri: `${backend.useHttps ? 'https' : 'http'}://${host}:${backend.port}${backend.path ?? '/v1/traces'}` } };
}
