import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import type { Resource } from '../../api/resource.js';
import { golden, policyResource, sidecarDump } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb } from '../common/golden-fixtures.js';
import { unpackAny } from '../../envoy/protos.js';
import { makeSnapshot } from '../../xds/cache/snapshot.js';
import { configDump } from '../../xds/config-dump.js';
import { buildMeshContext } from '../../xds/context/mesh-context.js';
import { generateZoneProxy } from '../../xds/generator/zone-proxy.js';
import { proxyTracing, TRACING_CLUSTER } from './plugin.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);
const dataplanes = [goldenBackend, goldenWeb];
const meshTrace = (name: string, spec: Record<string, unknown>) => policyResource('MeshTrace', name, spec);
const otelBackend = (name: string, labels: Record<string, string>, spec: Record<string, unknown>): Resource => ({ ...policyResource('MeshOpenTelemetryBackend', name, spec), labels });

const inline = meshTrace('inline', {
  targetRef: { kind: 'Mesh' },
  default: {
    backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel-collector.observability:4317' } }],
    sampling: { overall: 80, client: '99.5', random: 50 },
    tags: [{ name: 'team', literal: 'core' }, { name: 'env', header: { name: 'x-env', default: 'prod' } }, { name: 'kuma.mesh', literal: 'mine' }],
  },
});

/** The HCM `tracing` of each listener (null when it has none), by listener name. */
function tracingByListener(dump: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const l of dump['listeners'] as { name: string; filter_chains: { filters: { typed_config: { tracing?: unknown } }[] }[] }[]) {
    out[l.name] = l.filter_chains[0]!.filters.at(-1)!.typed_config.tracing ?? null;
  }
  return out;
}

describe('MeshTrace plugin', () => {
  it('a mesh-wide MeshTrace with an inline endpoint: tracing on every HTTP listener and the collector cluster', () => {
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [inline]);
    expect(dump).toEqual(golden(testdata('inline-endpoint.golden.json'), dump));
    const tracing = tracingByListener(dump);
    // HTTP inbound and HTTP outbound traced; the TCP outbound has no HCM.
    expect(tracing['inbound:10.0.0.2:8080']).toMatchObject({ overall_sampling: { value: 80 }, client_sampling: { value: 99.5 }, random_sampling: { value: 50 } });
    expect(tracing['outbound:127.0.0.1:20001']).toEqual(tracing['inbound:10.0.0.2:8080']);
    expect(tracing['outbound:127.0.0.1:20002']).toBeNull();
    const text = JSON.stringify(tracing['inbound:10.0.0.2:8080']);
    expect(text).toContain('"service_name":"web"');
    expect(text).toContain(`"cluster_name":"${TRACING_CLUSTER}"`);
    // A user tag named kuma.mesh wins over the built-in one.
    expect(text).toContain('{"tag":"kuma.mesh","literal":{"value":"mine"}}');
    expect(text.match(/kuma\.mesh/g)).toHaveLength(1);
    const cluster = (dump['clusters'] as { name: string }[]).find((c) => c.name === TRACING_CLUSTER);
    expect(JSON.stringify(cluster)).toContain('"address":"otel-collector.observability","port_value":4317');
    // A host name: resolved by DNS (an IP address gets a STATIC cluster, see below).
    expect(cluster).toMatchObject({ type: 'STRICT_DNS', alt_stat_name: 'meshtrace_opentelemetry' });
  });

  it('backendRef to a MeshOpenTelemetryBackend (empty address = the proxy\'s own); a Dataplane policy overrides the mesh one', () => {
    const motb = otelBackend('otel', { 'kuma.io/display-name': 'otel' }, { endpoint: { port: 14317 }, protocol: 'grpc' });
    const viaRef = meshTrace('via-ref', { targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { 'kuma.io/display-name': 'otel' } } } }] } });
    const forBackend = meshTrace('backend-sampling', { targetRef: { kind: 'Dataplane', name: 'backend-1' }, default: { sampling: { overall: 0 } } });
    const dump = sidecarDump(goldenMesh, dataplanes, goldenBackend, [viaRef, forBackend, motb]);
    expect(dump).toEqual(golden(testdata('backend-ref.golden.json'), dump));
    const tracing = tracingByListener(dump)['inbound:10.0.0.1:8080'];
    // overall_sampling {value: 0} (a proto3 default: shown empty).
    expect(tracing).toMatchObject({ overall_sampling: {}, custom_tags: [{ tag: 'kuma.mesh', literal: { value: 'default' } }] });
    expect(JSON.stringify(tracing)).toContain('"service_name":"backend"');
    expect(tracingByListener(dump)['inbound:10.0.0.1:9090']).toBeNull();
    expect(JSON.stringify(dump['clusters'])).toContain('"address":"10.0.0.1","port_value":14317');
    expect((dump['clusters'] as { name: string; type: string }[]).find((c) => c.name === TRACING_CLUSTER)?.type).toBe('STATIC');
    // web is not selected by the Dataplane policy: no overall_sampling.
    expect(tracingByListener(sidecarDump(goldenMesh, dataplanes, goldenWeb, [viaRef, forBackend, motb]))['inbound:10.0.0.2:8080']).not.toHaveProperty('overall_sampling');
  });

  it('a MeshOpenTelemetryBackend with protocol http: OTLP/HTTP through http_service, an HTTP/1 collector cluster', () => {
    const motb = otelBackend('otel-http', { 'kuma.io/display-name': 'otel-http' }, { endpoint: { address: 'collector.obs', port: 4318, path: '/otlp' }, protocol: 'http' });
    const viaRef = meshTrace('via-ref', { targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { 'kuma.io/display-name': 'otel-http' } } } }] } });
    const trace = proxyTracing([viaRef, motb], goldenWeb, '')!;
    expect(unpackAny(trace.tracing.provider.typed_config)).toMatchObject({
      http_service: { http_uri: { uri: 'http://collector.obs:4318/otlp/v1/traces', cluster: TRACING_CLUSTER, timeout: { seconds: '10' } } },
      service_name: 'web',
    });
    const cluster = JSON.stringify(sidecarDump(goldenMesh, dataplanes, goldenWeb, [viaRef, motb])['clusters']);
    expect(cluster).toContain('"address":"collector.obs","port_value":4318');
    expect(cluster).not.toContain('http2_protocol_options');
  });

  it('no tracing without a usable backend: empty backends, a dangling backendRef', () => {
    const empty = meshTrace('empty', { targetRef: { kind: 'Mesh' }, default: { backends: [] } });
    const dangling = meshTrace('dangling', { targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { 'kuma.io/display-name': 'nope' } } } }] } });
    const noTracing = JSON.stringify(sidecarDump(goldenMesh, dataplanes, goldenWeb, []));
    for (const policies of [[empty], [dangling]]) {
      const text = JSON.stringify(sidecarDump(goldenMesh, dataplanes, goldenWeb, policies));
      expect(text).not.toContain('tracing');
      expect(text).toBe(noTracing);
    }
    // Same level: the policy whose name sorts first merges last, its empty backends replace the other's.
    const later = { ...empty, name: 'a-empty' };
    expect(JSON.stringify(sidecarDump(goldenMesh, dataplanes, goldenWeb, [inline, later]))).toBe(noTracing);
  });

  it('kuma.zone is the CP zone; zone proxies are named by their workload label, else their name', () => {
    const zoneProxy: Resource = {
      ...policyResource('Dataplane', 'zp-1', { networking: { address: '10.0.0.9', listeners: [{ type: 'ZoneEgress', port: 10002 }] } }),
      labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'egress' },
    };
    const serviceName = (dp: Resource) => unpackAny(proxyTracing([inline], dp, 'zone-1')!.tracing.provider.typed_config)['service_name'];
    expect(serviceName(zoneProxy)).toBe('zp-1');
    expect(serviceName({ ...zoneProxy, labels: { ...zoneProxy.labels, 'kuma.io/workload': 'egress-workload' } })).toBe('egress-workload');
    expect(proxyTracing([inline], goldenWeb, 'zone-1')!.tracing.custom_tags).toContainEqual({ tag: 'kuma.zone', literal: { value: 'zone-1' } });
  });

  it('zone proxy: the egress chains of HTTP external services get an HCM with tracing; TCP ones and the ingress stay passthrough', () => {
    const mesh = policyResource('Mesh', 'default', { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] }, routing: { zoneEgress: true } });
    const zoneProxy: Resource = {
      ...policyResource('Dataplane', 'zp-1', { networking: { address: '10.0.0.9' } }),
      labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'all' },
    };
    const external = (name: string, protocol: string, port: number) =>
      policyResource('MeshExternalService', name, { match: { type: 'HostnameGenerator', port: 80, protocol }, endpoints: [{ address: '192.0.2.1', port }] });
    const ctx = buildMeshContext(mesh, [goldenBackend, goldenWeb, zoneProxy], [], undefined, {
      zone: 'zone-1',
      externalServices: [external('httpbin', 'http', 8080), external('grpcbin', 'grpc', 9000), external('redis', 'tcp', 6379)],
      policies: [inline],
    });
    const identity = { mode: 'STRICT' as const, certPem: 'CERT', keyPem: 'KEY', caPem: 'CA' };
    const resources = configDump(makeSnapshot(generateZoneProxy(zoneProxy, ctx, identity))).resources as Record<string, { resource: { name: string } }[]>;
    const pick = (type: string) => (resources[type] ?? []).map((r) => r.resource).sort((a, b) => (a.name < b.name ? -1 : 1));
    const dump = { listeners: pick('Listener'), clusters: pick('Cluster') };
    expect(dump).toEqual(golden(testdata('zone-egress.golden.json'), dump));
    type Chain = { name: string; filters: { name: string; typed_config: { tracing?: { provider: { typed_config: { service_name: string } } } } }[] };
    const egress = (dump.listeners as unknown as { name: string; filter_chains: Chain[] }[]).find((l) => l.name === 'self_zoneegress_dp_10002')!;
    const terminal = (sni: string) => egress.filter_chains.find((c) => c.name === sni)!.filters.at(-1)!;
    expect(terminal('sni.extsvc.default.httpbin.80').typed_config.tracing?.provider.typed_config.service_name).toBe('zp-1');
    expect(terminal('sni.extsvc.default.grpcbin.80').typed_config.tracing).toBeDefined();
    expect(terminal('sni.extsvc.default.redis.80').name).toBe('envoy.filters.network.tcp_proxy');
    // gRPC upstream: HTTP/2 toward the external endpoint; the ingress listener has no HCM at all.
    expect(JSON.stringify(dump.clusters.find((c) => c.name === 'egress:grpcbin'))).toContain('http2_protocol_options');
    expect(JSON.stringify(dump.clusters.find((c) => c.name === 'egress:httpbin'))).not.toContain('http2_protocol_options');
    expect(JSON.stringify(dump.listeners.find((l) => l.name.startsWith('self_zoneingress')))).not.toContain('http_connection_manager');
    expect(dump.clusters.map((c) => c.name)).toContain(TRACING_CLUSTER);
    // Without a MeshTrace the egress relays bytes only.
    const plain = configDump(makeSnapshot(generateZoneProxy(zoneProxy, buildMeshContext(mesh, [goldenBackend, goldenWeb, zoneProxy], [], undefined, { zone: 'zone-1', externalServices: [external('httpbin', 'http', 8080)] }), identity)));
    expect(JSON.stringify(plain)).not.toContain('http_connection_manager');
  });
});
