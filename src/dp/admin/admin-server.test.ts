import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { get, startTcpEcho, staticCluster, tcpProxyListener, testCert, decoded } from '../engine/fixtures.js';
import { ADMIN_SOCKET_NAME, startAdminServer } from './admin-server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function adminGet(socketPath: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: urlPath }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin server', () => {
  it('serves /ready, /config_dump, /stats and /clusters on a 0600 Unix socket', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-dp-admin-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const admin = await startAdminServer(path.join(dir, ADMIN_SOCKET_NAME), engine);
    cleanups.push(() => admin.close());

    const stat = fs.statSync(admin.socketPath);
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(await adminGet(admin.socketPath, '/ready')).toEqual({ status: 503, body: 'PRE_INITIALIZING\n' });

    const echo = await startTcpEcho('echo');
    cleanups.push(() => echo.close());
    const { cert, key } = testCert('a');
    await engine.apply({
      listeners: [tcpProxyListener('tcp', 'echo')],
      clusters: [staticCluster('echo', [echo.port])],
      secrets: [decoded('secrets', { name: 'id', tls_certificate: { certificate_chain: { inline_string: cert }, private_key: { inline_string: key } } })],
    });
    expect(await adminGet(admin.socketPath, '/ready')).toEqual({ status: 200, body: 'LIVE\n' });

    const dump = JSON.parse((await adminGet(admin.socketPath, '/config_dump')).body) as { configs: Record<string, unknown>[] };
    const listeners = dump.configs[0] as { dynamic_listeners: { name: string; active_state: { listener: { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] } } }[] };
    expect(listeners.dynamic_listeners[0].name).toBe('tcp');
    const tcpProxy = listeners.dynamic_listeners[0].active_state.listener.filter_chains[0].filters[0].typed_config;
    expect(tcpProxy['@type']).toBe('type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy');
    expect(tcpProxy.cluster).toBe('echo');
    const dumpText = JSON.stringify(dump);
    expect(dumpText).toContain('[redacted]');
    expect(dumpText).not.toContain('PRIVATE KEY');

    await get(engine.listenerPort('tcp') ?? 0, '/').catch(() => undefined);
    const prom = (await adminGet(admin.socketPath, '/stats/prometheus')).body;
    expect(prom).toMatch(/envoy_listener_downstream_cx_total\{envoy_listener_address="127.0.0.1_0"\} 1/);
    expect(prom).toContain('envoy_cluster_upstream_cx_total{envoy_cluster_name="echo"} 1');
    expect((await adminGet(admin.socketPath, '/stats')).body).toContain('cluster.echo.upstream_rq_total: 1');
    expect((await adminGet(admin.socketPath, '/clusters')).body).toContain(`echo::127.0.0.1:${echo.port}::health_flags::healthy`);

    // Envoy's query parameters: usedonly (written stats only) and filter (a regex).
    const used = (await adminGet(admin.socketPath, '/stats/prometheus?usedonly')).body;
    expect(used).toContain('envoy_cluster_upstream_cx_total{envoy_cluster_name="echo"} 1');
    expect(used).not.toMatch(/ 0\n/);
    const filtered = (await adminGet(admin.socketPath, `/stats/prometheus?filter=${encodeURIComponent('^envoy_listener_')}`)).body;
    expect(filtered).toContain('envoy_listener_downstream_cx_total');
    expect(filtered).not.toContain('envoy_cluster_');
    const text = (await adminGet(admin.socketPath, '/stats?filter=upstream_cx_total')).body;
    expect(text.trim().split('\n')).toEqual(['cluster.echo.upstream_cx_total: 1']);
    expect((await adminGet(admin.socketPath, '/stats?filter=(')).status).toBe(400);
  });
});
