// MeshMetric with a real CP, real `skein dp run` proxies (sidecars and a zone proxy) and real HTTP:
// a Prometheus backend opens a listener on the proxy whose /metrics shows the Envoy stats of the
// traffic that went through it; an OpenTelemetry backend makes the proxy push them to a real
// OTLP/gRPC receiver; removing the policy closes the listener; another mesh's policy changes nothing.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, apiOk, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, dataplaneTokenFile, freePort, httpGet, startDp, startHttpService, writeFile, type RunningDp } from '../dp-harness.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';

/** The value of one Prometheus sample line (`name{labels} value`), undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('MeshMetric', () => {
  let cp: RunningCp;
  let receiver: OtlpReceiver;
  const dir = tempDir('policy-meshmetric');
  const dps: Record<string, RunningDp> = {};
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};

  const put = (p: string, body: unknown) => apiOk(cp, 'PUT', p, body);
  const del = (p: string) => apiOk(cp, 'DELETE', p);
  const viaClient = (p = '/') => httpGet(ports.clientOutbound!, p).catch((err: Error) => ({ status: 0, body: err.message }));
  const scrape = (port: number, p = '/metrics') => httpGet(port, p).catch((err: Error) => ({ status: 0, body: err.message }));
  const xds = async (mesh: string, name: string) => JSON.stringify((await api(cp.apiUrl, 'GET', `/meshes/${mesh}/dataplanes/${name}/xds`)).body);
  const logs = () => Object.values(dps).map((d) => d.logs()).join('\n');

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    receiver = await startOtlpReceiver();
    const backend = await startHttpService('backend');
    const lone = await startHttpService('lone');
    // The client's application serves its own metrics, which the proxy merges into its scrape.
    const appMetrics = http.createServer((req, res) => res.end(req.url === '/app-metrics' ? '# TYPE client_app_orders_total counter\nclient_app_orders_total 42\n' : ''));
    await new Promise<void>((r) => appMetrics.listen(0, '127.0.0.1', () => r()));
    ports.appMetrics = (appMetrics.address() as AddressInfo).port;
    servers.push(backend.server, lone.server, appMetrics);
    // Metrics ports are taken by each test just before its policy: a port left unbound for long
    // may be taken by another process meanwhile.
    for (const k of ['backendInbound', 'clientInbound', 'clientOutbound', 'loneInbound', 'ingress']) ports[k] = await freePort();
    await put('/meshes/other', { type: 'Mesh', name: 'other' });
    const dataplane = (mesh: string, name: string, labels: string, body: string) =>
      writeFile(dir, `${name}.yaml`, `type: Dataplane\nmesh: ${mesh}\nname: ${name}\nlabels: { ${labels} }\nnetworking:\n  address: 127.0.0.1\n${body}`);
    const files = {
      backend: dataplane('default', 'backend', 'app: backend', `  inbound:\n    - { port: ${ports.backendInbound}, servicePort: ${backend.port}, tags: { kuma.io/service: backend, kuma.io/protocol: http } }\n`),
      client: dataplane('default', 'client', 'app: client', `  inbound:\n    - { port: ${ports.clientInbound}, servicePort: 1, tags: { kuma.io/service: client } }\n  outbound:\n    - { port: ${ports.clientOutbound}, tags: { kuma.io/service: backend } }\n`),
      zp: dataplane('default', 'zp', 'kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress', `  advertisedAddress: 127.0.0.1\n  advertisedPort: ${ports.ingress}\n  listeners:\n    - { type: ZoneIngress, port: ${ports.ingress} }\n`),
      lone: dataplane('other', 'lone', 'app: lone', `  inbound:\n    - { port: ${ports.loneInbound}, servicePort: ${lone.port}, tags: { kuma.io/service: lone, kuma.io/protocol: http } }\n`),
    };
    for (const [name, file] of Object.entries(files)) {
      const mesh = name === 'lone' ? 'other' : 'default';
      dps[name] = startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, mesh, name)]);
    }
    await waitFor(async () => (await viaClient()).status === 200, { timeoutMs: 30_000, what: () => `traffic through the mesh\n${logs()}` });
    await waitFor(async () => (await httpGet(ports.loneInbound!).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 30_000, what: () => `the other mesh's proxy\n${logs()}` });
    await waitFor(async () => (await adminGet(dps.zp!, '/ready').catch(() => '')).includes('LIVE'), { timeoutMs: 30_000, what: () => `the zone proxy configured\n${logs()}` });
  });

  afterAll(async () => {
    for (const dp of Object.values(dps)) await dp.stop();
    for (const s of servers) s.close();
    await receiver?.close();
    await cp?.stop();
  });

  it('Prometheus: /metrics on the sidecar shows the requests it carried and its application\'s metrics; removing the policy closes the listener', async () => {
    ports.clientMetrics = await freePort();
    expect((await scrape(ports.clientMetrics)).status).toBe(0);
    await put('/meshes/default/meshmetrics/client-prom', {
      type: 'MeshMetric', mesh: 'default', name: 'client-prom',
      spec: {
        targetRef: { kind: 'Dataplane', labels: { app: 'client' } },
        default: { applications: [{ name: 'client-app', port: ports.appMetrics, path: '/app-metrics' }], backends: [{ type: 'Prometheus', prometheus: { port: ports.clientMetrics, path: '/metrics' } }] },
      },
    });
    await waitFor(async () => (await scrape(ports.clientMetrics!)).status === 200, { timeoutMs: 30_000, what: () => `the Prometheus listener\n${logs()}` });

    const series = 'envoy_cluster_upstream_rq_total{envoy_cluster_name="backend"}';
    const before = sample((await scrape(ports.clientMetrics!)).body, series) ?? 0;
    const SENT = 5;
    for (let i = 0; i < SENT; i++) expect((await viaClient(`/m-${i}`)).status).toBe(200);
    const after = await scrape(ports.clientMetrics!);
    expect(after.body).toContain('# TYPE envoy_cluster_upstream_rq_total counter');
    expect(sample(after.body, series)).toBe(before + SENT);
    expect(after.body).toMatch(/envoy_cluster_upstream_rq_xx\{envoy_response_code_class="2",envoy_cluster_name="backend"\} \d+/);
    // The application's metrics follow the proxy's.
    expect(sample(after.body, 'client_app_orders_total')).toBe(42);
    // Only this proxy's listener: the backend's sidecar was not selected.
    expect(await xds('default', 'backend')).not.toContain('system_meshmetric');
    expect(await xds('default', 'client')).toContain('system_meshmetric_prometheus_default-backend');

    await del('/meshes/default/meshmetrics/client-prom');
    await waitFor(async () => (await scrape(ports.clientMetrics!)).status === 0, { timeoutMs: 30_000, what: () => `the listener to close\n${logs()}` });
    expect(await xds('default', 'client')).not.toContain('system_meshmetric');
  });

  it('Prometheus profiles: None plus an include serves only the included metric', async () => {
    ports.clientMetrics = await freePort();
    await put('/meshes/default/meshmetrics/client-prom-narrow', {
      type: 'MeshMetric', mesh: 'default', name: 'client-prom-narrow',
      spec: {
        targetRef: { kind: 'Dataplane', labels: { app: 'client' } },
        default: {
          sidecar: { profiles: { appendProfiles: [{ name: 'None' }], include: [{ type: 'Exact', match: 'envoy_cluster_upstream_rq_total' }] } },
          backends: [{ type: 'Prometheus', prometheus: { port: ports.clientMetrics, path: '/narrow' } }],
        },
      },
    });
    await waitFor(async () => (await scrape(ports.clientMetrics!, '/narrow')).status === 200, { timeoutMs: 30_000, what: () => `the Prometheus listener\n${logs()}` });
    const body = (await scrape(ports.clientMetrics!, '/narrow')).body;
    const types = [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    expect(types).toEqual(['envoy_cluster_upstream_rq_total']);
    expect(sample(body, 'envoy_cluster_upstream_rq_total{envoy_cluster_name="backend"}')).toBeGreaterThan(0);
    await del('/meshes/default/meshmetrics/client-prom-narrow');
    await waitFor(async () => (await scrape(ports.clientMetrics!, '/narrow')).status === 0, { timeoutMs: 30_000, what: 'the listener to close' });
  });

  it('Prometheus on a zone proxy selected by its labels; a policy of another mesh changes nothing here', async () => {
    ports.zpMetrics = await freePort();
    ports.loneMetrics = await freePort();
    await put('/meshes/default/meshmetrics/zp-prom', {
      type: 'MeshMetric', mesh: 'default', name: 'zp-prom',
      spec: { targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } }, default: { backends: [{ type: 'Prometheus', prometheus: { port: ports.zpMetrics } }] } },
    });
    await put('/meshes/other/meshmetrics/everything', {
      type: 'MeshMetric', mesh: 'other', name: 'everything',
      spec: { targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'Prometheus', prometheus: { port: ports.loneMetrics } }] } },
    });
    await waitFor(async () => (await scrape(ports.zpMetrics!)).status === 200, { timeoutMs: 30_000, what: () => `the zone proxy's Prometheus listener\n${logs()}` });
    await scrape(ports.zpMetrics!);
    const zp = (await scrape(ports.zpMetrics!)).body;
    expect(sample(zp, 'envoy_cluster_upstream_rq_total{envoy_cluster_name="system_envoy_admin"}')).toBeGreaterThanOrEqual(1);
    // Mesh other's proxy has its own listener...
    await waitFor(async () => (await scrape(ports.loneMetrics!)).status === 200, { timeoutMs: 30_000, what: () => `the other mesh's Prometheus listener\n${logs()}` });
    // ...and mesh default's proxies none from it.
    for (const name of ['client', 'backend']) expect(await xds('default', name)).not.toContain('system_meshmetric');
    expect(await xds('default', 'zp')).not.toContain(`"port_value":${ports.loneMetrics}`);
    await del('/meshes/default/meshmetrics/zp-prom');
    await del('/meshes/other/meshmetrics/everything');
    await waitFor(async () => (await scrape(ports.zpMetrics!)).status === 0 && (await scrape(ports.loneMetrics!)).status === 0, { timeoutMs: 30_000, what: 'the listeners to close' });
  });

  it('OpenTelemetry: the sidecar pushes its stats to the MeshOpenTelemetryBackend over OTLP/gRPC', async () => {
    await put('/meshes/default/meshopentelemetrybackends/collector', {
      type: 'MeshOpenTelemetryBackend', mesh: 'default', name: 'collector', labels: { app: 'otel' },
      spec: { endpoint: { address: '127.0.0.1', port: receiver.port }, protocol: 'grpc' },
    });
    await put('/meshes/default/meshmetrics/client-otel', {
      type: 'MeshMetric', mesh: 'default', name: 'client-otel',
      spec: {
        targetRef: { kind: 'Dataplane', labels: { app: 'client' } },
        default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { app: 'otel' } }, refreshInterval: '1s' } }] },
      },
    });
    const SENT = 3;
    for (let i = 0; i < SENT; i++) expect((await viaClient(`/o-${i}`)).status).toBe(200);
    const sent = sample(await adminGet(dps.client!, '/stats/prometheus'), 'envoy_cluster_upstream_rq_total{envoy_cluster_name="backend"}');
    expect(sent).toBeGreaterThanOrEqual(SENT);
    // No traffic meanwhile: a push carries the same count as the admin API.
    await waitFor(
      () => receiver.exports.some((e) => e.resource['service.name'] === 'client' && e.metrics.some((m) => m.name === 'envoy_cluster_upstream_rq_total' && m.numberPoints.some((p) => p.attributes['envoy_cluster_name'] === 'backend' && p.value === sent))),
      { timeoutMs: 30_000, what: () => `an OTLP export from the client with ${sent} requests (${receiver.exports.length} exports)\n${logs()}` },
    );
    const last = receiver.exports.filter((e) => e.resource['service.name'] === 'client').at(-1)!;
    expect(last.resource['kuma.mesh']).toBe('default');
    expect(last.resource['kuma.proxy_role']).toBe('sidecar');
    expect(last.metrics.find((m) => m.name === 'envoy_cluster_upstream_rq_total')?.kind).toBe('sum');
    // Only the selected proxy pushes.
    expect(receiver.exports.some((e) => e.resource['service.name'] !== 'client')).toBe(false);

    await del('/meshes/default/meshmetrics/client-otel');
    await waitFor(async () => !(await adminGet(dps.client!, '/config_dump')).includes('system_meshmetric_otel'), { timeoutMs: 30_000, what: 'the OpenTelemetry cluster to go from the proxy' });
    // Give the agent a sync period and an export in flight, then no more exports come.
    await new Promise((r) => setTimeout(r, 2500));
    const count = receiver.exports.length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(receiver.exports.length).toBe(count);
  });
});
