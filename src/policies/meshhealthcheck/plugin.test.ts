/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protos are inspected field by field */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import { TypeUrl, unpackAny } from '../../envoy/protos.js';
import { makeSnapshot } from '../../xds/cache/snapshot.js';
import { buildMeshContext } from '../../xds/context/mesh-context.js';
import { generateZoneProxy } from '../../xds/generator/zone-proxy.js';
import { golden, policyResource, sidecarDump } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb } from '../common/golden-fixtures.js';
import { defaultCircuitBreakerPolicy } from '../meshcircuitbreaker/api.js';
import { healthCheckPatch } from './plugin.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);
const dataplanes = [goldenBackend, goldenWeb];
const clusters = (dump: Record<string, unknown>) => Object.fromEntries((dump['clusters'] as any[]).map((c) => [c.name, c]));

const everything = policyResource('MeshHealthCheck', 'all', {
  targetRef: { kind: 'Mesh' },
  to: [{
    targetRef: { kind: 'Mesh' },
    default: {
      interval: '10s', timeout: '2s', unhealthyThreshold: 3, healthyThreshold: 2, initialJitter: '1s', intervalJitter: '500ms', intervalJitterPercent: 10,
      noTrafficInterval: '20s', reuseConnection: false, failTrafficOnPanic: true, eventLogPath: '/tmp/hc.log', alwaysLogHealthCheckFailures: true,
      http: { path: '/health', expectedStatuses: [200, 204], requestHeadersToAdd: { add: [{ name: 'x-a', value: '1,2' }], set: [{ name: 'x-s', value: 'v' }] } },
      tcp: { send: 'ping', receive: ['pong'] },
    },
  }],
});

describe('MeshHealthCheck plugin', () => {
  it('an http check on the http destination, a tcp check on the tcp one, with every timing field', () => {
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [everything]);
    expect(dump).toEqual(golden(testdata('http-and-tcp.golden.json'), dump));
    const c = clusters(dump);
    const http = c['backend'].health_checks[0];
    expect(http).toMatchObject({ timeout: { seconds: '2' }, interval: { seconds: '10' }, unhealthy_threshold: { value: 3 }, healthy_threshold: { value: 2 }, interval_jitter_percent: 10 });
    expect(http.http_health_check.path).toBe('/health');
    expect(http.http_health_check.expected_statuses).toEqual([{ start: '200', end: '201' }, { start: '204', end: '205' }]);
    expect(http.http_health_check.request_headers_to_add.map((h: any) => [h.header.key, h.header.value, h.append_action])).toEqual([
      ['x-kuma-tags', '&kuma.io/protocol=http&kuma.io/service=web&', 'OVERWRITE_IF_EXISTS_OR_ADD'],
      // APPEND_IF_EXISTS_OR_ADD is the enum's default: not in the dump.
      ['x-a', '1', undefined],
      ['x-a', '2', undefined],
      ['x-s', 'v', 'OVERWRITE_IF_EXISTS_OR_ADD'],
    ]);
    expect(http.tcp_health_check).toBeUndefined();
    expect(http.event_logger).toEqual([{ name: 'envoy.health_check.event_sinks.file', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink', event_log_path: '/tmp/hc.log' } }]);
    expect(http.always_log_health_check_failures).toBe(true);
    expect(c['backend'].common_lb_config).toEqual({ zone_aware_lb_config: { fail_traffic_on_panic: true } });
    const tcp = c['backend-tcp'].health_checks[0];
    expect(tcp.tcp_health_check).toEqual({ send: { text: Buffer.from('ping').toString('hex') }, receive: [{ text: Buffer.from('pong').toString('hex') }] });
    expect(c['localhost:18080'].health_checks).toBeUndefined();
  });

  it("Kuma's defaults; the checker follows the cluster's protocol; none without a matching checker", () => {
    expect(healthCheckPatch({ http: {} }, 'http')?.health_checks).toEqual([{
      timeout: { seconds: 15, nanos: 0 }, interval: { seconds: 60, nanos: 0 }, unhealthy_threshold: { value: 5 }, healthy_threshold: { value: 1 }, http_health_check: { path: '/' },
    }]);
    expect(healthCheckPatch({ http: {} }, 'http2')?.health_checks?.[0]?.['http_health_check']).toEqual({ path: '/', codec_client_type: 'HTTP2' });
    expect(healthCheckPatch({ http: {} }, 'tcp')).toBeUndefined();
    expect(healthCheckPatch({ http: { disabled: true }, tcp: {} }, 'http')?.health_checks?.[0]?.['tcp_health_check']).toEqual({});
    expect(healthCheckPatch({ grpc: { serviceName: 's', authority: 'a' }, tcp: {} }, 'grpc')?.health_checks?.[0]?.['grpc_health_check']).toEqual({ service_name: 's', authority: 'a' });
    expect(healthCheckPatch({ grpc: { disabled: true }, tcp: { disabled: true } }, 'grpc')).toBeUndefined();
    // Deprecated here, but still written; MeshCircuitBreaker (applied after) wins on the same cluster.
    expect(healthCheckPatch({ tcp: {}, healthyPanicThreshold: 30 }, 'tcp')?.common_lb_config).toEqual({ healthy_panic_threshold: { value: 30 } });
  });

  it('a destination-specific policy merges over the mesh-wide one, beside the circuit breaker', () => {
    const p = defaultCircuitBreakerPolicy('default');
    const breaker = policyResource(p.type, p.name, p.spec as unknown as Record<string, unknown>);
    const mesh = policyResource('MeshHealthCheck', 'mesh', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { interval: '5s', tcp: {} } }] });
    const backend = policyResource('MeshHealthCheck', 'backend', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: { http: { path: '/ready' } } }] });
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [breaker, mesh, backend]);
    expect(dump).toEqual(golden(testdata('merged.golden.json'), dump));
    const c = clusters(dump);
    expect(c['backend'].health_checks[0]).toMatchObject({ interval: { seconds: '5' }, http_health_check: { path: '/ready' } });
    expect(c['backend'].circuit_breakers.thresholds[0].track_remaining).toBe(true);
    expect(c['backend-tcp'].health_checks[0]).toMatchObject({ interval: { seconds: '5' }, tcp_health_check: {} });
    // Another mesh's policy: nothing.
    expect(JSON.stringify(sidecarDump(goldenMesh, dataplanes, goldenWeb, [{ ...mesh, mesh: 'other' }]))).not.toContain('health_checks');
  });

  it('a top-level MeshService or Dataplane sectionName selects the sidecar by its inbounds for to[] too', () => {
    const byService = policyResource('MeshHealthCheck', 'from-web', { targetRef: { kind: 'MeshService', name: 'web' }, to: [{ targetRef: { kind: 'Mesh' }, default: { tcp: {} } }] });
    expect(clusters(sidecarDump(goldenMesh, dataplanes, goldenWeb, [byService]))['backend-tcp'].health_checks).toHaveLength(1);
    const otherService = { ...byService, spec: { ...byService.spec, targetRef: { kind: 'MeshService', name: 'backend' } } };
    expect(clusters(sidecarDump(goldenMesh, dataplanes, goldenWeb, [otherService]))['backend-tcp'].health_checks).toBeUndefined();
  });

  it('zone proxies: egress external-service clusters by protocol, passthrough clusters by TCP only', () => {
    const mtls = { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] };
    const mesh = policyResource('Mesh', 'default', { mtls, routing: { zoneEgress: true } });
    const proxy = policyResource('Dataplane', 'zp-1', { networking: { address: '10.0.0.8' } });
    proxy.labels = { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'all' };
    const local = policyResource('Dataplane', 'backend-1', { networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'backend', 'kuma.io/protocol': 'http' } }] } });
    const httpbin = policyResource('MeshExternalService', 'httpbin', { match: { type: 'HostnameGenerator', port: 80, protocol: 'http' }, endpoints: [{ address: '192.0.2.1', port: 8080 }] });
    const hc = policyResource('MeshHealthCheck', 'zp', {
      targetRef: { kind: 'Dataplane', name: 'zp-1' },
      to: [
        { targetRef: { kind: 'MeshExternalService', name: 'httpbin' }, default: { http: { path: '/status' } } },
        { targetRef: { kind: 'MeshService', name: 'backend' }, default: { http: { path: '/x' }, tcp: {} } },
      ],
    });
    const ctx = buildMeshContext(mesh, [proxy, local], [], undefined, { externalServices: [httpbin], policies: [hc] });
    const snap = makeSnapshot(generateZoneProxy(proxy, ctx, { mode: 'STRICT', certPem: 'C', keyPem: 'K', caPem: 'CA' }));
    const cluster = (name: string): any => unpackAny(snap.resources.get(TypeUrl.Cluster)!.get(name)!.any);
    const egress = cluster('egress:httpbin').health_checks[0];
    expect(egress.http_health_check.path).toBe('/status');
    expect(egress.http_health_check.request_headers_to_add).toBeUndefined(); // no inbound tags on a zone proxy
    expect(cluster('ingress:backend').health_checks[0].tcp_health_check).toEqual({});
  });
});
