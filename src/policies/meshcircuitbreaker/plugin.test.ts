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
import { defaultCircuitBreakerPolicy } from './api.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);
const dataplanes = [goldenBackend, goldenWeb];
const dflt = (mesh = 'default') => {
  const p = defaultCircuitBreakerPolicy(mesh);
  return policyResource(p.type, p.name, p.spec as unknown as Record<string, unknown>, mesh);
};
const v = (value: number) => (value ? { value } : {});
const clusters = (dump: Record<string, unknown>) => Object.fromEntries((dump['clusters'] as any[]).map((c) => [c.name, c]));

const outlier = policyResource('MeshCircuitBreaker', 'backend-outlier', {
  targetRef: { kind: 'Mesh' },
  to: [{
    targetRef: { kind: 'MeshService', name: 'backend' },
    default: {
      connectionLimits: { maxRequests: 2, maxConnectionPools: 4 },
      outlierDetection: {
        interval: '2s', baseEjectionTime: '30s', maxEjectionPercent: 50, splitExternalAndLocalErrors: true, healthyPanicThreshold: '12.5',
        detectors: { totalFailures: { consecutive: 3 }, successRate: { minimumHosts: 2, requestVolume: 10, standardDeviationFactor: '1.9' } },
      },
    },
  }],
});

describe('MeshCircuitBreaker plugin', () => {
  it("the default policy: Kuma's connection limits on every outbound cluster, nothing on inbound clusters", () => {
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [dflt()]);
    expect(dump).toEqual(golden(testdata('default.golden.json'), dump));
    const c = clusters(dump);
    for (const name of ['backend', 'backend-tcp']) {
      expect(c[name].circuit_breakers).toEqual({ thresholds: [{ max_connections: v(1024), max_pending_requests: v(1024), max_requests: v(1024), max_retries: v(3), track_remaining: true }] });
      expect(c[name].outlier_detection).toBeUndefined();
    }
    expect(c['localhost:18080'].circuit_breakers).toBeUndefined();
  });

  it('a policy naming one destination merges over the default for it only: limits, outlier detection, panic threshold', () => {
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [dflt(), outlier]);
    expect(dump).toEqual(golden(testdata('outlier.golden.json'), dump));
    const c = clusters(dump);
    expect(c['backend'].circuit_breakers.thresholds[0]).toMatchObject({ max_connections: v(1024), max_requests: v(2), max_connection_pools: v(4) });
    expect(c['backend'].outlier_detection).toEqual({
      interval: { seconds: '2' }, base_ejection_time: { seconds: '30' }, max_ejection_percent: v(50), split_external_local_origin_errors: true,
      consecutive_5xx: v(3), enforcing_consecutive_5xx: v(100), enforcing_consecutive_gateway_failure: v(0), enforcing_consecutive_local_origin_failure: v(0),
      enforcing_success_rate: v(100), enforcing_local_origin_success_rate: v(100), success_rate_minimum_hosts: v(2), success_rate_request_volume: v(10), success_rate_stdev_factor: v(1900),
      enforcing_failure_percentage: v(0), enforcing_failure_percentage_local_origin: v(0),
    });
    expect(c['backend'].common_lb_config).toEqual({ healthy_panic_threshold: { value: 12.5 } });
    expect(c['backend-tcp'].outlier_detection).toBeUndefined();
  });

  it('outlierDetection.disabled writes no outlier_detection; without detectors only the consecutive ones are turned off', () => {
    const disabled = policyResource('MeshCircuitBreaker', 'off', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { outlierDetection: { disabled: true } } }] });
    expect(clusters(sidecarDump(goldenMesh, dataplanes, goldenWeb, [disabled]))['backend'].outlier_detection).toBeUndefined();
    const bare = policyResource('MeshCircuitBreaker', 'bare', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { outlierDetection: { interval: '1s' } } }] });
    expect(clusters(sidecarDump(goldenMesh, dataplanes, goldenWeb, [bare]))['backend'].outlier_detection).toEqual({
      interval: { seconds: '1' }, enforcing_consecutive_5xx: v(0), enforcing_consecutive_gateway_failure: v(0), enforcing_consecutive_local_origin_failure: v(0),
    });
  });

  it('rules (and from) apply to the inbound local clusters of the selected proxy', () => {
    const inbound = policyResource('MeshCircuitBreaker', 'inbound', {
      targetRef: { kind: 'Dataplane', name: 'web-1' },
      rules: [{ default: { connectionLimits: { maxConnections: 7 }, outlierDetection: { detectors: { localOriginFailures: { consecutive: 2 } } } } }],
    });
    const c = clusters(sidecarDump(goldenMesh, dataplanes, goldenWeb, [inbound]));
    expect(c['localhost:18080'].circuit_breakers).toEqual({ thresholds: [{ max_connections: v(7), track_remaining: true }] });
    expect(c['localhost:18080'].outlier_detection).toMatchObject({ consecutive_local_origin_failure: v(2), enforcing_consecutive_local_origin_failure: v(100) });
    expect(c['backend'].circuit_breakers).toBeUndefined();
    // Another proxy is not selected.
    expect(clusters(sidecarDump(goldenMesh, dataplanes, goldenBackend, [inbound]))['localhost:18080'].circuit_breakers).toBeUndefined();
  });

  it('a top-level MeshService or Dataplane sectionName selects the sidecar by its inbounds for to[] too', () => {
    const bySection = policyResource('MeshCircuitBreaker', 'section', { targetRef: { kind: 'Dataplane', name: 'web-1', sectionName: '8080' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: { maxRequests: 9 } } }] });
    expect(clusters(sidecarDump(goldenMesh, dataplanes, goldenWeb, [bySection]))['backend'].circuit_breakers.thresholds[0].max_requests).toEqual(v(9));
    const byService = { ...bySection, spec: { ...bySection.spec, targetRef: { kind: 'MeshService', name: 'web' } } };
    expect(clusters(sidecarDump(goldenMesh, dataplanes, goldenWeb, [byService]))['backend'].circuit_breakers.thresholds[0].max_requests).toEqual(v(9));
  });

  it('a policy of another mesh changes nothing', () => {
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [dflt('other'), { ...outlier, mesh: 'other' }]);
    expect(JSON.stringify(dump)).not.toContain('circuit_breakers');
  });

  it('zone egress: to[] picks the external service and cross-zone clusters; a Dataplane targetRef picks the proxy', () => {
    const mtls = { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] };
    const mesh = policyResource('Mesh', 'default', { mtls, routing: { zoneEgress: true } });
    const egress = policyResource('Dataplane', 'egress-1', { networking: { address: '10.0.0.8' } });
    egress.labels = { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'all' };
    const remote = policyResource('Dataplane', 'db-1', { networking: { address: '10.1.0.2', inbound: [{ port: 5432, tags: { 'kuma.io/service': 'db' } }] } });
    remote.labels = { 'kuma.io/zone': 'zone-2' };
    const remoteIngress = policyResource('Dataplane', 'ingress-2', { networking: { address: '10.1.0.9' } });
    remoteIngress.labels = { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress', 'kuma.io/zone': 'zone-2' };
    const httpbin = policyResource('MeshExternalService', 'httpbin', { match: { type: 'HostnameGenerator', port: 80, protocol: 'http' }, endpoints: [{ address: '192.0.2.1', port: 8080 }] });
    const onEgress = policyResource('MeshCircuitBreaker', 'egress-cb', {
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'all' } },
      to: [
        { targetRef: { kind: 'MeshExternalService', name: 'httpbin' }, default: { connectionLimits: { maxConnections: 5 } } },
        { targetRef: { kind: 'MeshService', name: 'db' }, default: { outlierDetection: { detectors: { gatewayFailures: { consecutive: 4 } } } } },
      ],
    });
    const identity = { mode: 'STRICT' as const, certPem: 'CERT', keyPem: 'KEY', caPem: 'CA' };
    const cluster = (policies: any[], name: string): any => {
      const ctx = buildMeshContext(mesh, [egress, remote, remoteIngress], [], undefined, { zone: 'zone-1', externalServices: [httpbin], policies });
      const r = makeSnapshot(generateZoneProxy(egress, ctx, identity)).resources.get(TypeUrl.Cluster)?.get(name);
      return r && unpackAny(r.any);
    };
    expect(cluster([onEgress], 'egress:httpbin').circuit_breakers.thresholds[0]).toMatchObject({ max_connections: { value: 5 }, track_remaining: true });
    expect(cluster([onEgress], 'egress:httpbin').outlier_detection).toBeUndefined();
    expect(cluster([onEgress], 'egress-zone:db').outlier_detection).toMatchObject({ consecutive_gateway_failure: { value: 4 } });
    expect(cluster([onEgress], 'egress-zone:db').circuit_breakers.thresholds[0].max_connections).toBeUndefined();
    expect(cluster([], 'egress:httpbin').circuit_breakers).toBeUndefined();
    // A top-level targetRef that does not select the zone proxy leaves its clusters alone.
    const otherProxy = { ...onEgress, spec: { ...onEgress.spec, targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'ingress' } } } };
    expect(cluster([otherProxy], 'egress:httpbin').circuit_breakers).toBeUndefined();
  });
});
