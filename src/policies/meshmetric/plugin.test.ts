import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import type { Resource } from '../../api/resource.js';
import { makeSnapshot } from '../../xds/cache/snapshot.js';
import { configDump } from '../../xds/config-dump.js';
import { buildMeshContext } from '../../xds/context/mesh-context.js';
import { generateSidecar, type ProxyIdentity } from '../../xds/generator/sidecar.js';
import { generateZoneProxy } from '../../xds/generator/zone-proxy.js';
import { golden, policyResource } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb } from '../common/golden-fixtures.js';
import { BASIC_PROFILE, adminStatsPath, metricsFilter, type ProxyMetadata } from './plugin.js';
import type { MeshMetricConf } from './api.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);
const SOCKET = '/run/skein/web-1/skein-dp-admin.sock';

/** MeshMetric's own resources (named system_*) of a proxy, as readable JSON. */
function metricsDump(dp: Resource, policies: Resource[], opts: { socket?: string; identity?: ProxyIdentity; dataplanes?: Resource[]; node?: ProxyMetadata } = {}): Record<string, unknown[]> {
  const dataplanes = opts.dataplanes ?? [goldenBackend, goldenWeb];
  const ctx = buildMeshContext(goldenMesh, dataplanes, [], undefined, { policies });
  const node = { ...(opts.socket === undefined ? {} : { adminSocketPath: opts.socket }), ...opts.node };
  const isZoneProxy = dp.labels['kuma.io/proxy-type'] === 'zoneproxy';
  const resources = isZoneProxy ? generateZoneProxy(dp, ctx, opts.identity, node) : generateSidecar(dp, ctx, opts.identity, node);
  const dump = configDump(makeSnapshot(resources)).resources as Record<string, { name: string; resource: unknown }[]>;
  const pick = (type: string) => (dump[type] ?? []).filter((r) => r.name.startsWith('system_')).map((r) => r.resource);
  return { listeners: pick('Listener'), clusters: pick('Cluster') };
}

const prometheus = (conf: Record<string, unknown> = {}, name = 'metrics', targetRef: Record<string, unknown> = { kind: 'Mesh' }) =>
  policyResource('MeshMetric', name, { targetRef, default: { backends: [{ type: 'Prometheus', prometheus: { port: 5670, path: '/metrics' } }], ...conf } });

/** Whether the admin filter of a conf keeps a Prometheus metric name. */
function keeps(conf: MeshMetricConf, name: string): boolean {
  const filter = metricsFilter(conf);
  return filter === undefined || new RegExp(filter).test(name);
}

describe('MeshMetric plugin', () => {
  it('a Prometheus backend: a listener on the Dataplane address routed to the admin socket', () => {
    const dump = metricsDump(goldenWeb, [prometheus()], { socket: SOCKET });
    expect(dump).toEqual(golden(testdata('prometheus.golden.json'), dump));
    const text = JSON.stringify(dump);
    expect(text).toContain('"address":"10.0.0.2","port_value":5670');
    expect(text).toContain(`"pipe":{"path":"${SOCKET}"}`);
    expect(text).toContain('"prefix_rewrite":"/stats/prometheus?usedonly"');
  });

  it('profiles and includeUnused become the admin query of the route', () => {
    const conf: MeshMetricConf = {
      sidecar: {
        includeUnused: true,
        profiles: { appendProfiles: [{ name: 'Basic' }], exclude: [{ type: 'Prefix', match: 'envoy_cluster_upstream_cx_' }], include: [{ type: 'Regex', match: 'envoy_server_.*' }] },
      },
    };
    const dump = metricsDump(goldenWeb, [prometheus(conf)], { socket: SOCKET });
    expect(dump).toEqual(golden(testdata('profiles.golden.json'), dump));
    expect(JSON.stringify(dump)).toContain(`"prefix_rewrite":${JSON.stringify(adminStatsPath(conf))}`);
    expect(adminStatsPath(conf)).not.toContain('usedonly');
  });

  it('profile semantics: All by default, Basic, None, exclude, and include winning over exclude', () => {
    expect(metricsFilter({})).toBeUndefined();
    expect(metricsFilter({ sidecar: { profiles: { appendProfiles: [{ name: 'All' }] } } })).toBeUndefined();
    const basic: MeshMetricConf = { sidecar: { profiles: { appendProfiles: [{ name: 'Basic' }] } } };
    expect(keeps(basic, 'envoy_cluster_upstream_rq_total')).toBe(true);
    expect(keeps(basic, 'envoy_http_downstream_rq_xx')).toBe(true);
    expect(keeps(basic, 'envoy_cluster_lb_healthy_panic')).toBe(false);
    expect(BASIC_PROFILE.length).toBeGreaterThan(3);
    const none: MeshMetricConf = { sidecar: { profiles: { appendProfiles: [{ name: 'None' }], include: [{ type: 'Exact', match: 'envoy_cluster_upstream_rq_total' }] } } };
    expect(keeps(none, 'envoy_cluster_upstream_rq_total')).toBe(true);
    expect(keeps(none, 'envoy_cluster_upstream_rq_total_x')).toBe(false);
    expect(keeps(none, 'envoy_http_downstream_rq_total')).toBe(false);
    const excluding: MeshMetricConf = {
      sidecar: { profiles: { exclude: [{ type: 'Contains', match: 'upstream_cx' }, { type: 'Prefix', match: 'envoy_http_' }], include: [{ type: 'Exact', match: 'envoy_http_downstream_rq_total' }] } },
    };
    expect(keeps(excluding, 'envoy_cluster_upstream_rq_total')).toBe(true);
    expect(keeps(excluding, 'envoy_cluster_upstream_cx_total')).toBe(false);
    expect(keeps(excluding, 'envoy_http_downstream_rq_xx')).toBe(false);
    expect(keeps(excluding, 'envoy_http_downstream_rq_total')).toBe(true);
    // Selector text is literal for Prefix / Exact / Contains.
    expect(keeps({ sidecar: { profiles: { appendProfiles: [{ name: 'None' }], include: [{ type: 'Prefix', match: 'a.b' }] } } }, 'axb')).toBe(false);
  });

  it('the most specific policy wins; appendProfiles concatenate', () => {
    const mesh = prometheus({ sidecar: { profiles: { appendProfiles: [{ name: 'Basic' }] } } }, 'mesh-wide');
    const own = policyResource('MeshMetric', 'web-only', {
      targetRef: { kind: 'Dataplane', name: 'web-1' },
      default: { sidecar: { profiles: { appendProfiles: [{ name: 'All' }] } }, backends: [{ type: 'Prometheus', prometheus: { port: 9100, path: '/stats', clientId: 'web' } }] },
    });
    const dump = JSON.stringify(metricsDump(goldenWeb, [mesh, own], { socket: SOCKET }));
    expect(dump).toContain('"name":"system_meshmetric_prometheus_web"');
    expect(dump).toContain('"port_value":9100');
    expect(dump).not.toContain('default-backend');
    // Basic + All = All: no filter.
    expect(dump).toContain('"prefix_rewrite":"/stats/prometheus?usedonly"');
    // The backend's own policy does not select the other proxy.
    expect(JSON.stringify(metricsDump(goldenBackend, [mesh, own], { socket: SOCKET }))).toContain('default-backend');
  });

  it('ActiveMTLSBackend with mesh mTLS: the listener terminates mTLS with the mesh identity', () => {
    const identity: ProxyIdentity = { mode: 'STRICT', certPem: 'cert', keyPem: 'key', caPem: 'ca' };
    const p = policyResource('MeshMetric', 'tls', { targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'Prometheus', prometheus: { tls: { mode: 'ActiveMTLSBackend' } } }] } });
    const text = JSON.stringify(metricsDump(goldenWeb, [p], { socket: SOCKET, identity }));
    expect(text).toContain('"require_client_certificate":{"value":true}');
    expect(text).toContain('identity_cert:secret:default');
    expect(text).toContain('"port_value":5670');
  });

  it('applications: listed in the admin cluster metadata, flagged in the route; not on zone proxies', () => {
    const apps = { applications: [{ name: 'app', port: 9102 }, { address: '127.0.0.2', port: 9103, path: '/stats' }] };
    const dump = metricsDump(goldenWeb, [prometheus(apps)], { socket: SOCKET });
    expect(dump).toEqual(golden(testdata('applications.golden.json'), dump));
    const text = JSON.stringify(dump);
    expect(text).toContain('"prefix_rewrite":"/stats/prometheus?usedonly&applications"');
    expect(text).toContain('"port":{"numberValue":9102}');
    const zp: Resource = {
      ...policyResource('Dataplane', 'zp-1', { networking: { address: '10.0.0.5', listeners: [{ type: 'ZoneIngress', port: 10001 }] } }),
      labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress' },
    };
    const zpText = JSON.stringify(metricsDump(zp, [prometheus(apps)], { socket: SOCKET, dataplanes: [goldenBackend, goldenWeb, zp] }));
    expect(zpText).toContain('system_meshmetric_prometheus_default-backend');
    expect(zpText).not.toContain('applications');
  });

  it('ProvidedTLS: TLS with the certificate files the proxy sent, plaintext without them', () => {
    const p = policyResource('MeshMetric', 'tls', { targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'Prometheus', prometheus: { tls: { mode: 'ProvidedTLS' } } }] } });
    const node = { metricsCertPath: '/etc/skein/metrics.crt', metricsKeyPath: '/etc/skein/metrics.key' };
    const text = JSON.stringify(metricsDump(goldenWeb, [p], { socket: SOCKET, node }));
    expect(text).toContain('"certificate_chain":{"filename":"/etc/skein/metrics.crt"},"private_key":{"filename":"/etc/skein/metrics.key"}');
    expect(JSON.stringify(metricsDump(goldenWeb, [p], { socket: SOCKET }))).not.toContain('transport_socket');
  });

  it('no listener without the admin socket, none without a policy', () => {
    expect(metricsDump(goldenWeb, [prometheus()])).toEqual({ listeners: [], clusters: [] });
    expect(metricsDump(goldenWeb, [], { socket: SOCKET })).toEqual({ listeners: [], clusters: [] });
  });

  it('an OpenTelemetry backend: the collector cluster carries what the agent pushes', () => {
    const motb = { ...policyResource('MeshOpenTelemetryBackend', 'collector', { endpoint: { address: '10.0.0.9', port: 4317 }, protocol: 'grpc' }), labels: { app: 'otel' } };
    const p = policyResource('MeshMetric', 'otel', {
      targetRef: { kind: 'Mesh' },
      default: {
        sidecar: { profiles: { appendProfiles: [{ name: 'Basic' }] } },
        backends: [
          { type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { app: 'otel' } }, refreshInterval: '10s' } },
          { type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel-collector.local:4318' } },
          { type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { app: 'missing' } } } },
        ],
      },
    });
    const dump = metricsDump(goldenWeb, [p, motb], { socket: SOCKET });
    expect(dump).toEqual(golden(testdata('opentelemetry.golden.json'), dump));
    expect(dump.listeners).toEqual([]);
    expect(dump.clusters.length).toBe(2);
    const text = JSON.stringify(dump);
    expect(text).toContain('"refreshInterval":{"stringValue":"10s"}');
    expect(text).toContain('"refreshInterval":{"stringValue":"60s"}');
    expect(text).toContain('"type":"STRICT_DNS"');
    expect(text).toContain('"kuma.proxy_role":{"stringValue":"sidecar"}');
  });

  it('applies to a zone proxy selected by labels (whole proxy)', () => {
    const zp: Resource = {
      ...policyResource('Dataplane', 'zp-1', { networking: { address: '10.0.0.5', listeners: [{ type: 'ZoneIngress', port: 10001 }] } }),
      labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress' },
    };
    const p = prometheus({}, 'zp-metrics', { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } });
    const dump = metricsDump(zp, [p], { socket: SOCKET, dataplanes: [goldenBackend, goldenWeb, zp] });
    expect(dump).toEqual(golden(testdata('zone-proxy.golden.json'), dump));
    expect(JSON.stringify(dump)).toContain('"address":"10.0.0.5","port_value":5670');
    // The sidecars are not selected by it.
    expect(metricsDump(goldenWeb, [p], { socket: SOCKET })).toEqual({ listeners: [], clusters: [] });
  });
});
