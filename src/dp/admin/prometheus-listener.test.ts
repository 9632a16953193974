import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { decoded, get, httpListener, loadAssignment, routeConfig, startHttpServer, staticCluster } from '../engine/fixtures.js';
import { ADMIN_SOCKET_NAME, startAdminServer } from './admin-server.js';

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
