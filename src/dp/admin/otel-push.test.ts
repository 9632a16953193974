import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { OTLP_PROTO_DIR } from '../../envoy/protos.js';
import { TypeUrl, unpackAny } from '../../envoy/protos.js';
import { policyResource } from '../../policies/common/golden.js';
import '../../policies/kinds.js';
import { meshMetricResources } from '../../policies/meshmetric/plugin.js';
import { startOtlpReceiver } from '../../../test/support/otlp-receiver.js';
import { Engine } from '../engine/engine.js';
import { eventually, get, httpListener, routeConfig, startHttpServer, staticCluster } from '../engine/fixtures.js';
import { MeshMetricPusher, pushTargets } from './otel-push.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('MeshMetric OpenTelemetry push', () => {
  it('only clusters naming a backend are push targets (the admin cluster lists applications)', () => {
    const admin = { name: 'system_envoy_admin', metadata: { filter_metadata: { 'io.skein.meshmetric': { fields: { applications: { listValue: { values: [] } } } } } } };
    expect(pushTargets([admin, { name: 'plain' }])).toEqual([]);
  });

  it('pushes the stats to the collector of the generated cluster over OTLP/gRPC, and stops when it goes', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const backend = await startHttpServer('a');
    cleanups.push(() => backend.close());
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const dp = policyResource('Dataplane', 'web-1', { networking: { address: '127.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web' } }] } });
    const motb = { ...policyResource('MeshOpenTelemetryBackend', 'collector', { endpoint: { address: '127.0.0.1', port: receiver.port }, protocol: 'grpc' }), labels: { app: 'otel' } };
    const policy = policyResource('MeshMetric', 'm', {
      targetRef: { kind: 'Mesh' },
      default: {
        sidecar: { profiles: { exclude: [{ type: 'Prefix', match: 'envoy_http_' }] } },
        backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { app: 'otel' } }, refreshInterval: '1s' } }],
      },
    });
    const clusters = meshMetricResources([policy, motb], dp, {}).filter((r) => r.any.type_url === TypeUrl.Cluster).map((r) => unpackAny(r.any));
    expect(pushTargets(clusters)).toEqual([{ cluster: 'system_meshmetric_otel_collector', backend: 'collector', refreshMs: 1000, usedOnly: true, filter: expect.any(String), extraLabels: { mesh: 'default', 'kuma.proxy_role': 'sidecar' } }]);
    const app = httpListener('app', { route_config: routeConfig('app', [{ match: { prefix: '/' }, route: { cluster: 'backend' } }]) });
    await engine.apply({ listeners: [app], clusters: [staticCluster('backend', [backend.port]), ...clusters] });
    for (let i = 0; i < 4; i++) expect((await get(engine.listenerPort('app') ?? 0, '/')).status).toBe(200);

    const errors: string[] = [];
    const pusher = new MeshMetricPusher(engine, { 'service.name': 'web-1' }, (_b, err) => errors.push(err.message));
    cleanups.push(() => pusher.stop());
    pusher.sync();
    const rq = await eventually(() => {
      const m = receiver.latest('envoy_cluster_upstream_rq_total');
      if (!m) throw new Error(`no export yet (${errors.join(', ')})`);
      return m;
    }, 10_000);
    expect(rq.kind).toBe('sum');
    expect(rq.isMonotonic).toBe(true);
    expect(rq.numberPoints).toEqual([{ attributes: { envoy_cluster_name: 'backend' }, value: 4 }]);
    const last = receiver.exports.at(-1)!;
    expect(last.resource['service.name']).toBe('web-1');
    expect(last.resource['kuma.proxy_role']).toBe('sidecar');
    expect(last.resource['mesh']).toBe('default');
    const names = last.metrics.map((m) => m.name);
    // exclude: no envoy_http_*; usedonly: nothing at 0.
    expect(names.some((n) => n.startsWith('envoy_http_'))).toBe(false);
    expect(last.metrics.flatMap((m) => m.numberPoints).every((p) => p.value !== 0)).toBe(true);
    expect(names).toContain('envoy_cluster_upstream_cx_active');
    expect(last.metrics.find((m) => m.name === 'envoy_cluster_upstream_cx_active')?.kind).toBe('gauge');

    // The backend's cluster goes: no more exports.
    await engine.apply({ listeners: [app], clusters: [staticCluster('backend', [backend.port])] });
    pusher.sync();
    const count = receiver.exports.length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(receiver.exports.length).toBeLessThanOrEqual(count + 1);
  });

  it('OTLP/HTTP: a MeshOpenTelemetryBackend with protocol http gets protobuf POSTs on /v1/metrics', async () => {
    // A real OTLP/HTTP receiver: decodes ExportMetricsServiceRequest with OpenTelemetry's protos.
    const root = new protobuf.Root();
    root.resolvePath = (_o, target) => (path.isAbsolute(target) ? target : path.join(OTLP_PROTO_DIR, target));
    root.loadSync(['opentelemetry/proto/collector/metrics/v1/metrics_service.proto'], { keepCase: true });
    const requestType = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
    const received: { path: string; type: string; body: Record<string, unknown> }[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '', body: requestType.toObject(requestType.decode(Buffer.concat(chunks)), { longs: String }) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => receiver.close(() => r())));
    const port = (receiver.address() as AddressInfo).port;
    const backend = await startHttpServer('a');
    cleanups.push(() => backend.close());
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const dp = policyResource('Dataplane', 'web-1', { networking: { address: '127.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web' } }] } });
    const motb = { ...policyResource('MeshOpenTelemetryBackend', 'collector', { endpoint: { address: '127.0.0.1', port, path: '/otlp' }, protocol: 'http' }), labels: { app: 'otel' } };
    const policy = policyResource('MeshMetric', 'm', {
      targetRef: { kind: 'Mesh' },
      default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { app: 'otel' } }, refreshInterval: '1s' } }] },
    });
    const clusters = meshMetricResources([policy, motb], dp, {}).filter((r) => r.any.type_url === TypeUrl.Cluster).map((r) => unpackAny(r.any));
    const app = httpListener('app', { route_config: routeConfig('app', [{ match: { prefix: '/' }, route: { cluster: 'backend' } }]) });
    await engine.apply({ listeners: [app], clusters: [staticCluster('backend', [backend.port]), ...clusters] });
    for (let i = 0; i < 2; i++) expect((await get(engine.listenerPort('app') ?? 0, '/')).status).toBe(200);
    const pusher = new MeshMetricPusher(engine, { 'service.name': 'web-1' });
    cleanups.push(() => pusher.stop());
    pusher.sync();
    const first = await eventually(() => received[0] ?? Promise.reject(new Error('nothing received yet')), 10_000);
    expect(first.path).toBe('/otlp/v1/metrics');
    expect(first.type).toBe('application/x-protobuf');
    const text = JSON.stringify(first.body);
    expect(text).toContain('"name":"envoy_cluster_upstream_rq_total"');
    expect(text).toContain('"string_value":"backend"');
    expect(text).toContain('"as_int":"2"');
  });
});
