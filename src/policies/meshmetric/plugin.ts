// MeshMetric → what a proxy (sidecar or zone proxy) exposes or pushes. Whole-proxy policy: the
// merged `default` of the policies selecting the proxy.
//
// Prometheus backend → listener `system_meshmetric_prometheus_<clientId|default-backend>` on the
//   Dataplane's address (0.0.0.0 without one) and `prometheus.port` (5670), an HCM whose route
//   `prefix: <path>` (/metrics) goes to the STATIC cluster `system_envoy_admin`, whose endpoint is
//   the proxy's admin Unix socket (`pipe`, node metadata `dataplane.admin.socketPath`), with
//   `prefix_rewrite: /stats/prometheus?<query>`. The query carries the profiles as the admin's own
//   parameters: `usedonly` unless `sidecar.includeUnused`, and `filter=<regex>` built from
//   `appendProfiles`, `include` and `exclude` (see metricsFilter). A proxy that did not send its
//   admin socket (not a Skein agent) gets no Prometheus listener. `tls.mode: ActiveMTLSBackend`
//   (with mesh mTLS on) terminates mTLS with the proxy's mesh identity and requires a client
//   certificate of the mesh CA; `ProvidedTLS` serves TLS with the certificate and key files the
//   proxy was started with (`--metrics-cert-path`, `--metrics-key-path`; node metadata
//   `dataplane.metrics.certPath` / `keyPath`), plaintext when it has none.
// OpenTelemetry backend → the STATIC (IP) or STRICT_DNS (host name) cluster (HTTP/2 for gRPC)
//   `system_meshmetric_otel_<name>` to the collector (a MeshOpenTelemetryBackend by `backendRef`,
//   or the deprecated inline `endpoint`), whose `metadata.filter_metadata["io.skein.meshmetric"]`
//   tells the DP agent to push the proxy's stats there over OTLP (gRPC, or HTTP with protobuf
//   bodies for a MeshOpenTelemetryBackend with `protocol: http`) every `refreshInterval`
//   (1m). Envoy ignores filter metadata it has no filter for, so the cluster is valid Envoy config;
//   kuma-dp's role (reading stats and exporting them) is the Skein agent's (src/dp/admin/otel-push.ts).
// `applications` (sidecars only) → the admin cluster's filter metadata `io.skein.meshmetric
//   {applications: [{name, address, port, path}]}` and an `applications` flag in the rewritten
//   query: the admin appends what each application serves to that scrape (kuma-dp's merge). The
//   list comes from the CP's cluster, never from the request, so a scrape cannot make the proxy
//   fetch anything else.
import type { Resource } from '../../api/resource.js';
import { isIpAddress, parseDuration } from '../../api/rules.js';
import { isZoneProxy, zoneProxyRole } from '../../api/zone-proxy.js';
import { matchPolicies } from '../../policy-engine/index.js';
import { selectionViewOf } from '../common/plugin-view.js';
import type { NamedResource } from '../../xds/cache/snapshot.js';
import {
  clusterResource,
  downstreamMtls,
  filterChain,
  httpConnectionManagerFilter,
  listener,
  listenerResource,
  routeConfiguration,
  staticCluster,
  typedExtension,
  virtualHost,
  type Cluster,
  type FilterChain,
} from '../../xds/envoy/index.js';
import { resolveBackendRef } from '../meshopentelemetrybackend/api.js';
import { meshMetricKind, type MeshMetricConf, type Selector } from './api.js';

/** The cluster of the proxy's own admin API (its Unix socket). */
export const ADMIN_CLUSTER = 'system_envoy_admin';
/** Filter metadata key of the clusters the DP agent reads: OpenTelemetry push settings, applications. */
export const OTEL_METADATA_KEY = 'io.skein.meshmetric';
export const DEFAULT_PROMETHEUS_PORT = 5670;
export const DEFAULT_PROMETHEUS_PATH = '/metrics';
export const DEFAULT_REFRESH_INTERVAL_MS = 60_000;
const DEFAULT_OTLP_PORT = 4317;

/**
 * The Basic profile: the metrics a mesh dashboard needs (requests, responses by class, connections,
 * timeouts, health), as Prometheus names.
 */
export const BASIC_PROFILE = [
  '^envoy_cluster_upstream_(rq|cx)_',
  '^envoy_cluster_upstream_rq_xx$',
  '^envoy_cluster_(membership|health_check|outlier_detection)_',
  '^envoy_http_downstream_(rq|cx)_',
  '^envoy_http_downstream_rq_xx$',
  '^envoy_listener_downstream_cx_',
  '^envoy_tcp_downstream_cx_',
];

/** What the proxy tells about itself in its node metadata (read by DataplaneSync). */
import type { ProxyMetadata } from '../common/proxy-metadata.js';

export type { ProxyMetadata };

/** What the generator knows about the proxy besides its Dataplane. */
export interface MetricsProxyInfo {
  /** A zone proxy has no application: `applications` is ignored there. */
  zoneProxy?: boolean;
  /** Its admin Unix socket (node metadata `dataplane.admin.socketPath`). */
  adminSocketPath?: string;
  /** Secret names of the mesh identity and CA, when mesh mTLS is on (ActiveMTLSBackend). */
  mtls?: { identitySecret: string; caSecret: string };
  /** Certificate and key files the proxy was given for ProvidedTLS. */
  providedTls?: { certPath: string; keyPath: string };
}

/** The merged MeshMetric conf of a proxy; undefined when none selects it. */
export function meshMetricConf(policies: readonly Resource[], dp: Resource): MeshMetricConf | undefined {
  const rules = matchPolicies<MeshMetricConf>(selectionViewOf(dp), policies, meshMetricKind);
  return rules.proxy?.origins.length ? rules.proxy.conf : undefined;
}

function regexOf(s: Selector): string {
  const match = s.match ?? '';
  const quoted = match.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  switch (s.type) {
    case 'Prefix':
      return `^${quoted}`;
    case 'Exact':
      return `^${quoted}$`;
    case 'Contains':
      return quoted;
    default:
      return `(?:${match})`;
  }
}

/**
 * The admin `filter` regex for the profiles, matched against Prometheus metric names, or undefined
 * for every metric. A metric is kept when it matches an `include` selector, or when it is in one of
 * the profiles (All, Basic; none given = All) and matches no `exclude` selector.
 */
export function metricsFilter(conf: MeshMetricConf): string | undefined {
  const profiles = conf.sidecar?.profiles;
  const names = new Set((profiles?.appendProfiles ?? []).map((p) => p.name));
  const include = (profiles?.include ?? []).map(regexOf);
  const exclude = (profiles?.exclude ?? []).map(regexOf);
  const all = names.size === 0 || names.has('All');
  if (all && exclude.length === 0) return undefined;
  const profile = all ? '' : names.has('Basic') ? `(?=${BASIC_PROFILE.join('|')})` : '(?!)';
  const excluded = exclude.length ? `(?!.*?(?:${exclude.join('|')}))` : '';
  const kept = `^${excluded}${profile}`;
  return include.length ? `(?:^(?=.*?(?:${include.join('|')}))|${kept})` : kept;
}

/** `/stats/prometheus` with the admin's query parameters for the conf. */
export function adminStatsPath(conf: MeshMetricConf, withApplications = false): string {
  const params: string[] = [];
  if (!conf.sidecar?.includeUnused) params.push('usedonly');
  const filter = metricsFilter(conf);
  if (filter !== undefined) params.push(`filter=${encodeURIComponent(filter)}`);
  if (withApplications) params.push('applications');
  return `/stats/prometheus${params.length ? `?${params.join('&')}` : ''}`;
}

/** Envoy-safe part of a resource name. */
function clean(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]/g, '_');
}

export function prometheusListenerName(clientId: string | undefined): string {
  return `system_meshmetric_prometheus_${clean(clientId || 'default-backend')}`;
}

export function otelClusterName(backend: string): string {
  return `system_meshmetric_otel_${clean(backend)}`;
}

/** Listeners and clusters of the MeshMetric selecting the proxy (none when no policy does). */
export function meshMetricResources(policies: readonly Resource[], dp: Resource, proxy: MetricsProxyInfo): NamedResource[] {
  const conf = meshMetricConf(policies, dp);
  if (!conf) return [];
  const out: NamedResource[] = [];
  const address = ((dp.spec['networking'] as { address?: string } | undefined)?.address) || '0.0.0.0';
  const prometheus = (conf.backends ?? []).filter((b) => b.type === 'Prometheus' && b.prometheus);
  if (prometheus.length > 0 && proxy.adminSocketPath) {
    const applications = proxy.zoneProxy ? [] : (conf.applications ?? []).filter((a) => a.port);
    out.push(clusterResource(adminCluster(proxy.adminSocketPath, applications)));
    const seen = new Set<string>();
    for (const b of prometheus) {
      const p = b.prometheus!;
      const name = prometheusListenerName(p.clientId);
      const port = p.port ?? DEFAULT_PROMETHEUS_PORT;
      if (seen.has(name)) continue;
      seen.add(name);
      const hcm = httpConnectionManagerFilter({
        statPrefix: name,
        routeConfig: routeConfiguration(name, [
          virtualHost(name, ['*'], [{ match: { prefix: p.path ?? DEFAULT_PROMETHEUS_PATH }, route: { cluster: ADMIN_CLUSTER, prefix_rewrite: adminStatsPath(conf, applications.length > 0) } }]),
        ]),
      });
      let chain: FilterChain = filterChain({ filters: [hcm] });
      if (p.tls?.mode === 'ActiveMTLSBackend' && proxy.mtls) {
        chain = { ...chain, transport_socket: downstreamMtls({ identitySecret: proxy.mtls.identitySecret, caSecret: proxy.mtls.caSecret }) };
      } else if (p.tls?.mode === 'ProvidedTLS' && proxy.providedTls) {
        chain = { ...chain, transport_socket: providedTls(proxy.providedTls) };
      }
      out.push(listenerResource(listener({ name, address, port, trafficDirection: 'INBOUND', filterChains: [chain] })));
    }
  }
  for (const b of conf.backends ?? []) {
    if (b.type !== 'OpenTelemetry' || !b.openTelemetry) continue;
    const collector = otelCollector(policies, b.openTelemetry, address);
    if (!collector) continue;
    const refreshMs = (b.openTelemetry.refreshInterval ? parseDuration(b.openTelemetry.refreshInterval) : undefined) ?? DEFAULT_REFRESH_INTERVAL_MS;
    out.push(clusterResource(otelCluster(otelClusterName(collector.name), collector, refreshMs, conf, extraLabels(dp))));
  }
  return out;
}

interface Collector {
  name: string;
  address: string;
  port: number;
  /** OTLP/HTTP: the path to POST to (`/v1/metrics`); absent for gRPC. */
  httpPath?: string;
}

/**
 * The collector of an OpenTelemetry backend: a MeshOpenTelemetryBackend (gRPC, or plaintext HTTP)
 * or the inline `host:port` (gRPC).
 */
function otelCollector(
  policies: readonly Resource[],
  otel: { endpoint?: string; backendRef?: { kind?: string; labels?: Record<string, string> } },
  nodeAddress: string,
): Collector | undefined {
  if (otel.backendRef) {
    const resolved = resolveBackendRef(policies, otel.backendRef, 'metrics');
    // OTLP over HTTPS would need upstream TLS: not pushed yet.
    if (!resolved || resolved.useHttps) return undefined;
    const address = resolved.address || (nodeAddress === '0.0.0.0' ? '127.0.0.1' : nodeAddress);
    return { name: resolved.name, address, port: resolved.port, ...(resolved.protocol === 'http' ? { httpPath: resolved.path ?? '/v1/metrics' } : {}) };
  }
  const endpoint = otel.endpoint ?? '';
  const m = /^(.*):(\d+)$/.exec(endpoint);
  const host = (m ? m[1] : endpoint).replace(/^\[(.*)\]$/, '$1');
  if (!host) return undefined;
  return { name: endpoint.replace(/\//g, '').replace(/:/g, '-'), address: host, port: m ? Number(m[2]) : DEFAULT_OTLP_PORT };
}

/** Server TLS with the certificate files the proxy was started with (ProvidedTLS). */
function providedTls(files: { certPath: string; keyPath: string }): FilterChain['transport_socket'] {
  return typedExtension('envoy.transport_sockets.tls', 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', {
    common_tls_context: { tls_certificates: [{ certificate_chain: { filename: files.certPath }, private_key: { filename: files.keyPath } }] },
  });
}

function adminCluster(socketPath: string, applications: NonNullable<MeshMetricConf['applications']>): Cluster {
  const cluster = {
    name: ADMIN_CLUSTER,
    type: 'STATIC',
    connect_timeout: { seconds: 5 },
    load_assignment: { cluster_name: ADMIN_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socketPath } } } }] }] },
  } as Cluster;
  if (applications.length === 0) return cluster;
  const s = (v: string) => ({ stringValue: v });
  const values = applications.map((a) => ({
    structValue: { fields: { ...(a.name ? { name: s(a.name) } : {}), address: s(a.address || '127.0.0.1'), port: { numberValue: a.port }, path: s(a.path || DEFAULT_PROMETHEUS_PATH) } },
  }));
  return { ...cluster, metadata: { filter_metadata: { [OTEL_METADATA_KEY]: { fields: { applications: { listValue: { values } } } } } } } as Cluster;
}

/** Kuma's extra labels of pushed metrics: the mesh, the proxy's role, its workload. */
export function extraLabels(dp: Resource): Record<string, string> {
  const roles = { ingress: 'zone-ingress', egress: 'zone-egress', all: 'zone-proxy' } as const;
  const role = isZoneProxy(dp) ? roles[zoneProxyRole(dp) ?? 'all'] : 'sidecar';
  const workload = dp.labels['kuma.io/workload'];
  return { mesh: dp.mesh, 'kuma.proxy_role': role, ...(workload && !isZoneProxy(dp) ? { 'kuma.workload': workload } : {}) };
}

/**
 * The collector's cluster, its filter metadata telling the agent what to push: `backend`,
 * `refreshInterval`, the profiles as for Prometheus (`usedOnly`, `filter`), `extraLabels`
 * (resource attributes of the export), and for OTLP/HTTP `protocol: http` and `path`.
 */
function otelCluster(name: string, collector: Collector, refreshMs: number, conf: MeshMetricConf, labels: Record<string, string>): Cluster {
  const grpc = collector.httpPath === undefined;
  const cluster = staticCluster({ name, http2: grpc, localities: [{ endpoints: [{ address: collector.address, port: collector.port }] }] });
  if (!isIpAddress(collector.address)) cluster.type = 'STRICT_DNS';
  // google.protobuf.Struct as protobufjs encodes it (camelCase Value fields).
  const s = (v: string) => ({ stringValue: v });
  const filter = metricsFilter(conf);
  const fields = {
    backend: s(collector.name),
    ...(grpc ? {} : { protocol: s('http'), path: s(collector.httpPath!) }),
    refreshInterval: s(`${refreshMs / 1000}s`),
    usedOnly: { boolValue: !conf.sidecar?.includeUnused },
    extraLabels: { structValue: { fields: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, s(v)])) } },
    ...(filter !== undefined ? { filter: s(filter) } : {}),
  };
  return { ...cluster, metadata: { filter_metadata: { [OTEL_METADATA_KEY]: { fields } } } } as Cluster;
}
