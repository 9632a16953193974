import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import https from 'node:https';
import { decoded, get, httpListener, loadAssignment, routeConfig, startHttpServer, staticCluster, testCert } from '../engine/fixtures.js';
import net from 'node:net';
import { unpackAny } from '../../envoy/protos.js';
import { policyResource } from '../../policies/common/golden.js';
import '../../policies/kinds.js';
import { meshMetricResources } from '../../policies/meshmetric/plugin.js';
import { TypeUrl } from '../../envoy/protos.js';
import { ADMIN_SOCKET_NAME, startAdminServer } from './admin-server.js';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('Prometheus stats on a listener', () => {
  it('serves the admin /stats/prometheus through a listener routed to a pipe cluster (MeshMetric)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-dp-metrics-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const backend = await startHttpServer('a');
    cleanups.push(() => backend.close());
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const admin = await startAdminServer(path.join(dir, ADMIN_SOCKET_NAME), engine);
    cleanups.push(() => admin.close());
    await engine.apply({
      listeners: [
        httpListener('app', { route_config: routeConfig('app', [{ match: { prefix: '/' }, route: { cluster: 'backend' } }]) }),
        decoded('listeners', {
          ...httpListener('metrics', { route_config: routeConfig('metrics', [
            { match: { path: '/metrics' }, route: { cluster: 'skein:envoy:admin', prefix_rewrite: '/stats/prometheus' } },
          ]) }),
        }),
      ],
      clusters: [
        staticCluster('backend', [backend.port]),
        decoded('clusters', {
          name: 'skein:envoy:admin',
          type: 'STATIC',
          connect_timeout: { seconds: 1 },
          load_assignment: { ...loadAssignment('skein:envoy:admin', []), endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: admin.socketPath } } } }] }] },
        }),
      ],
    });
    await get(engine.listenerPort('app') ?? 0, '/');
    const scrape = await get(engine.listenerPort('metrics') ?? 0, '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.headers['content-type']).toContain('text/plain');
    expect(scrape.body).toContain('# TYPE envoy_cluster_upstream_rq_total counter');
    expect(scrape.body).toContain('envoy_cluster_upstream_rq_total{envoy_cluster_name="backend"} 1');
    expect(scrape.body).toContain('# TYPE envoy_cluster_upstream_cx_active gauge');
    expect(scrape.body).toMatch(/envoy_http_downstream_rq_xx\{envoy_response_code_class="2",envoy_http_conn_manager_prefix="app"\} 1/);
  });
});

describe('MeshMetric Prometheus listener from the control plane', () => {
  it('nothing but the stats is reachable through the listener (dot segments are not resolved)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-dp-metrics-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const admin = await startAdminServer(path.join(dir, ADMIN_SOCKET_NAME), engine);
    cleanups.push(() => admin.close());
    const port = await freePort();
    const dp = policyResource('Dataplane', 'web-1', { networking: { address: '127.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web' } }] } });
    // includeUnused and every metric: the rewrite has no query for a suffix to land in.
    const policy = policyResource('MeshMetric', 'm', { targetRef: { kind: 'Mesh' }, default: { sidecar: { includeUnused: true }, backends: [{ type: 'Prometheus', prometheus: { port } }] } });
    const generated = meshMetricResources([policy], dp, { adminSocketPath: admin.socketPath });
    const of = (url: string) => generated.filter((r) => r.any.type_url === url).map((r) => unpackAny(r.any));
    await engine.apply({ listeners: of(TypeUrl.Listener), clusters: of(TypeUrl.Cluster) });
    expect((await get(port, '/metrics')).body).toContain('envoy_cluster_upstream_rq_total{envoy_cluster_name="system_envoy_admin"}');
    for (const sneaky of ['/metrics/../../config_dump', '/metrics/../../clusters']) {
      const reply = await get(port, sneaky);
      expect(reply.status, sneaky).toBe(404);
      expect(reply.body, sneaky).not.toContain('system_envoy_admin');
    }
  });

  it('ProvidedTLS: the listener serves TLS with the certificate files the proxy was given', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-dp-metrics-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const { cert, key } = testCert('a');
    fs.writeFileSync(path.join(dir, 'metrics.crt'), cert);
    fs.writeFileSync(path.join(dir, 'metrics.key'), key);
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const admin = await startAdminServer(path.join(dir, ADMIN_SOCKET_NAME), engine);
    cleanups.push(() => admin.close());
    const port = await freePort();
    const dp = policyResource('Dataplane', 'web-1', { networking: { address: '127.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web' } }] } });
    const policy = policyResource('MeshMetric', 'm', { targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'Prometheus', prometheus: { port, tls: { mode: 'ProvidedTLS' } } }] } });
    const generated = meshMetricResources([policy], dp, { adminSocketPath: admin.socketPath, providedTls: { certPath: path.join(dir, 'metrics.crt'), keyPath: path.join(dir, 'metrics.key') } });
    const of = (url: string) => generated.filter((r) => r.any.type_url === url).map((r) => unpackAny(r.any));
    await engine.apply({ listeners: of(TypeUrl.Listener), clusters: of(TypeUrl.Cluster) });
    const reply = await new Promise<{ status: number; body: string; cert: string }>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/metrics', rejectUnauthorized: false }, (res) => {
        let body = '';
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cert: peer.raw?.toString('base64') ?? '' }));
      }).on('error', reject);
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('# TYPE envoy_');
    expect(reply.cert).toBe(cert.replace(/-----[^-]+-----|\s/g, ''));
    // A missing file is a NACK with the reason.
    const missing = meshMetricResources([policy], dp, { adminSocketPath: admin.socketPath, providedTls: { certPath: path.join(dir, 'nope.crt'), keyPath: path.join(dir, 'metrics.key') } });
    await expect(engine.apply({ listeners: missing.filter((r) => r.any.type_url === TypeUrl.Listener).map((r) => unpackAny(r.any)) })).rejects.toThrow(/filename: cannot read/);
  });

  it('applications: their metrics follow the proxy\'s in the scrape, and only the configured ones', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-dp-metrics-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const app = http.createServer((req, res) => {
      if (req.url === '/app-metrics') res.end('# TYPE my_app_requests_total counter\nmy_app_requests_total 7\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => app.close(() => r())));
    const appPort = (app.address() as net.AddressInfo).port;
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const admin = await startAdminServer(path.join(dir, ADMIN_SOCKET_NAME), engine);
    cleanups.push(() => admin.close());
    const port = await freePort();
    const dp = policyResource('Dataplane', 'web-1', { networking: { address: '127.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web' } }] } });
    const policy = policyResource('MeshMetric', 'm', {
      targetRef: { kind: 'Mesh' },
      default: {
        sidecar: { includeUnused: true },
        applications: [{ name: 'app', port: appPort, path: '/app-metrics' }, { name: 'gone', port: 1, path: '/x' }],
        backends: [{ type: 'Prometheus', prometheus: { port } }],
      },
    });
    const generated = meshMetricResources([policy], dp, { adminSocketPath: admin.socketPath });
    const of = (url: string) => generated.filter((r) => r.any.type_url === url).map((r) => unpackAny(r.any));
    await engine.apply({ listeners: of(TypeUrl.Listener), clusters: of(TypeUrl.Cluster) });
    const scrape = await get(port, '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.body).toContain('# TYPE envoy_cluster_upstream_rq_total counter');
    expect(scrape.body).toContain('\nmy_app_requests_total 7\n');
    expect(scrape.body).toMatch(/# application gone: .*\n/);
    // A scrape cannot name other targets; the admin API alone does not merge.
    const sneaky = await get(port, `/metrics&applications&app=127.0.0.1:${appPort}/other`);
    expect(sneaky.body).not.toContain('/other');
    const direct = await new Promise<string>((resolve) => {
      http.get({ socketPath: admin.socketPath, path: '/stats/prometheus' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      });
    });
    expect(direct).not.toContain('my_app_requests_total');
  });

  it('the generated listener and admin cluster are accepted and serve the filtered stats', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-dp-metrics-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const backend = await startHttpServer('a');
    cleanups.push(() => backend.close());
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const admin = await startAdminServer(path.join(dir, ADMIN_SOCKET_NAME), engine);
    cleanups.push(() => admin.close());
    const port = await freePort();
    const dp = policyResource('Dataplane', 'web-1', { networking: { address: '127.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web' } }] } });
    const policy = policyResource('MeshMetric', 'm', {
      targetRef: { kind: 'Mesh' },
      default: {
        sidecar: { profiles: { appendProfiles: [{ name: 'None' }], include: [{ type: 'Prefix', match: 'envoy_cluster_upstream_rq' }] } },
        backends: [{ type: 'Prometheus', prometheus: { port, path: '/prom' } }],
      },
    });
    const generated = meshMetricResources([policy], dp, { adminSocketPath: admin.socketPath });
    const of = (url: string) => generated.filter((r) => r.any.type_url === url).map((r) => unpackAny(r.any));
    await engine.apply({
      listeners: [httpListener('app', { route_config: routeConfig('app', [{ match: { prefix: '/' }, route: { cluster: 'backend' } }]) }), ...of(TypeUrl.Listener)],
      clusters: [staticCluster('backend', [backend.port]), staticCluster('unused', [backend.port]), ...of(TypeUrl.Cluster)],
    });
    for (let i = 0; i < 3; i++) expect((await get(engine.listenerPort('app') ?? 0, '/')).status).toBe(200);
    const scrape = await get(port, '/prom');
    expect(scrape.status).toBe(200);
    expect(scrape.body).toContain('envoy_cluster_upstream_rq_total{envoy_cluster_name="backend"} 3');
    expect(scrape.body).toMatch(/envoy_cluster_upstream_rq_xx\{envoy_response_code_class="2",envoy_cluster_name="backend"\} 3/);
    // usedonly: the cluster that carried nothing is left out; the profile leaves out the rest.
    expect(scrape.body).not.toContain('envoy_cluster_name="unused"');
    expect(scrape.body).not.toContain('envoy_http_downstream_rq_total');
    expect(scrape.body).not.toContain('envoy_cluster_upstream_cx_total');
    // The admin API itself, unfiltered, has them.
    expect(await new Promise<string>((resolve) => {
      http.get({ socketPath: admin.socketPath, path: '/stats/prometheus' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      });
    })).toContain('envoy_cluster_upstream_cx_total{envoy_cluster_name="unused"} 0');
  });
});
