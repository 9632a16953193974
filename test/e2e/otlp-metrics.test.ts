// Control plane metrics pushed over OTLP/gRPC: a real CP with OTEL_EXPORTER_OTLP_ENDPOINT pointing
// at a real OTLP MetricsService receiver (built from the OpenTelemetry protos), a real DP, and
// API requests made by the test. The pushed metrics carry the names and values of /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { dataplaneTokenFile, freePort, startDp, startHttpService, writeSidecar, type RunningDp } from '../dp-harness.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import type http from 'node:http';

describe('control plane metrics over OTLP', () => {
  let receiver: OtlpReceiver;
  let cp: RunningCp;
  let dp: RunningDp | undefined;
  let service: http.Server | undefined;
  const dir = tempDir('otlp');

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    cp = await startCp({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`, OTEL_METRIC_EXPORT_INTERVAL: '500', OTEL_SERVICE_NAME: 'skein-otlp-test' } });
  });

  afterAll(async () => {
    await dp?.stop();
    service?.close();
    await cp?.stop();
    await receiver?.close();
  });

  it('pushes API, xDS and store metrics with the values /metrics shows', async () => {
    const MESH_REQUESTS = 7;
    for (let i = 0; i < MESH_REQUESTS; i++) expect((await api(cp.apiUrl, 'GET', '/meshes')).status).toBe(200);

    const web = await startHttpService('web');
    service = web.server;
    const file = writeSidecar(dir, { name: 'web-1', inbound: { port: await freePort(), servicePort: web.port, service: 'web' } });
    dp = startDp(cp, ['--dataplane-file', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'default', 'web-1')]);

    // Wait for an export that has seen the proxy connect and ACK its config.
    await waitFor(
      () => {
        const connected = receiver.latest('skein_xds_connected_proxies')?.numberPoints.find((p) => p.attributes['mesh'] === 'default');
        const delivery = receiver.latest('skein_xds_delivery_duration_seconds')?.histogramPoints.reduce((n, p) => n + p.count, 0) ?? 0;
        return connected?.value === 1 && delivery > 0;
      },
      { timeoutMs: 20_000, what: () => `an OTLP export with the proxy connected (${receiver.exports.length} exports so far)\n${dp.logs()}` },
    );

    const last = receiver.exports.at(-1)!;
    expect(last.resource['service.name']).toBe('skein-otlp-test');
    expect(typeof last.resource['service.instance.id']).toBe('string');

    // API request count: a monotonic sum with the route and status as attributes.
    const requests = receiver.latest('skein_api_server_requests_total')!;
    expect(requests.kind).toBe('sum');
    expect(requests.isMonotonic).toBe(true);
    const meshList = requests.numberPoints.find((p) => p.attributes['route'] === '/:collection' && p.attributes['method'] === 'GET' && p.attributes['status_code'] === '200');
    expect(meshList?.value).toBeGreaterThanOrEqual(MESH_REQUESTS);

    // Histograms keep their buckets: counts add up, bounds are the Prometheus buckets.
    const latency = receiver.latest('skein_api_server_request_duration_seconds')!;
    expect(latency.kind).toBe('histogram');
    const point = latency.histogramPoints.find((p) => p.attributes['route'] === '/:collection')!;
    expect(point.count).toBeGreaterThanOrEqual(MESH_REQUESTS);
    expect(point.bucketCounts.reduce((a, b) => a + b, 0)).toBe(point.count);
    expect(point.explicitBounds).toContain(0.005);
    expect(point.sum).toBeGreaterThan(0);

    const generation = receiver.latest('skein_xds_generation_duration_seconds')!;
    expect(generation.histogramPoints.find((p) => p.attributes['mesh'] === 'default')?.count).toBeGreaterThanOrEqual(1);
    const acks = receiver.latest('skein_xds_responses_total')!;
    expect(acks.numberPoints.filter((p) => p.attributes['result'] === 'ack').reduce((n, p) => n + p.value, 0)).toBeGreaterThan(0);
    const store = receiver.latest('skein_store_operation_duration_seconds')!;
    expect(store.histogramPoints.some((p) => p.count > 0)).toBe(true);
    const resources = receiver.latest('skein_resources')!;
    expect(resources.kind).toBe('gauge');
    expect(resources.numberPoints.find((p) => p.attributes['resource_type'] === 'Mesh')?.value).toBe(1);
    expect(resources.numberPoints.find((p) => p.attributes['resource_type'] === 'Dataplane')?.value).toBe(1);

    // The same names as the Prometheus endpoint.
    const scraped = await (await fetch(`http://127.0.0.1:${cp.diagnosticsPort}/metrics`)).text();
    const promNames = new Set([...scraped.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const pushedNames = new Set(last.metrics.map((m) => m.name));
    for (const name of pushedNames) expect(promNames.has(name), name).toBe(true);
    for (const name of ['skein_xds_delivery_duration_seconds', 'skein_xds_connected_proxies', 'skein_kds_sync_lag_seconds']) expect(promNames.has(name), name).toBe(true);
  });

  it('does not push when metrics.openTelemetry.enabled is false', async () => {
    const off = await startOtlpReceiver();
    const cp2 = await startCp({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${off.port}`, OTEL_METRIC_EXPORT_INTERVAL: '200', SKEIN_METRICS_OPEN_TELEMETRY_ENABLED: 'false' } });
    try {
      await api(cp2.apiUrl, 'GET', '/meshes');
      await new Promise((r) => setTimeout(r, 1000));
      expect(off.exports).toHaveLength(0);
    } finally {
      await cp2.stop();
      await off.close();
    }
  });
});
