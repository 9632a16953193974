import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { clustersText } from '../../admin/stats-format.js';
import { cleanupTracker, eventually, get, httpListener, listen, routeConfig, startTcpEcho, staticCluster, statValues, tcpProxyListener, type TestServer } from '../fixtures.js';

const { track, stopAll } = cleanupTracker();
afterEach(stopAll);

/** Answers `name` with `status`, which the test can change. */
async function statusServer(name: string, status: { code: number }): Promise<TestServer> {
  return listen(http.createServer((_req, res) => {
    res.writeHead(status.code);
    res.end(name);
  }));
}

async function deadPort(): Promise<number> {
  const s = await listen(net.createServer());
  await s.close();
  return s.port;
}

describe('outlier detection', () => {
  it('ejects an HTTP host after consecutive 5xx and brings it back after base_ejection_time', async () => {
    const badStatus = { code: 500 };
    const good = track(await statusServer('good', { code: 200 }));
    const bad = track(await statusServer('bad', badStatus));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'svc' } }]) })],
      clusters: [staticCluster('svc', [good.port, bad.port], {
        outlier_detection: {
          consecutive_5xx: { value: 3 },
          interval: { nanos: 100_000_000 },
          base_ejection_time: { nanos: 400_000_000 },
          max_ejection_percent: { value: 50 },
        },
      })],
    });
    const port = engine.listenerPort('http') ?? 0;
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await get(port, '/')).body);
    expect(bodies.filter((b) => b === 'bad')).toHaveLength(3);
    // Ejected: only the good host answers.
    for (let i = 0; i < 6; i++) expect((await get(port, '/')).body).toBe('good');
    let stats = statValues(engine.stats.all());
    expect(stats.get('cluster.svc.outlier_detection.ejections_active')).toBe(1);
    expect(stats.get('cluster.svc.outlier_detection.ejections_enforced_total')).toBe(1);
    expect(stats.get('cluster.svc.outlier_detection.ejections_enforced_consecutive_5xx')).toBe(1);
    expect(clustersText(engine)).toContain(`svc::127.0.0.1:${bad.port}::health_flags::/failed_outlier_check`);

    badStatus.code = 200;
    await eventually(async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add((await get(port, '/')).body);
      expect(seen).toEqual(new Set(['good', 'bad']));
    }, 3000);
    stats = statValues(engine.stats.all());
    expect(stats.get('cluster.svc.outlier_detection.ejections_active')).toBe(0);
  });

  it('does not eject beyond max_ejection_percent', async () => {
    const a = track(await statusServer('a', { code: 503 }));
    const b = track(await statusServer('b', { code: 503 }));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'svc' } }]) })],
      clusters: [staticCluster('svc', [a.port, b.port], {
        outlier_detection: { consecutive_5xx: { value: 2 }, max_ejection_percent: { value: 50 }, enforcing_consecutive_gateway_failure: { value: 0 } },
      })],
    });
    const port = engine.listenerPort('http') ?? 0;
    for (let i = 0; i < 8; i++) await get(port, '/');
    const stats = statValues(engine.stats.all());
    expect(stats.get('cluster.svc.outlier_detection.ejections_active')).toBe(1);
    expect(stats.get('cluster.svc.outlier_detection.ejections_overflow')).toBeGreaterThan(0);
    expect(stats.get('cluster.svc.outlier_detection.ejections_detected_consecutive_gateway_failure')).toBeGreaterThan(0);
    expect(stats.get('cluster.svc.outlier_detection.ejections_enforced_consecutive_gateway_failure')).toBe(0);
  });

  it('ejects a TCP host whose connections fail (local origin errors, split)', async () => {
    const echo = track(await startTcpEcho('echo'));
    const dead = await deadPort();
    const engine = track(new Engine());
    await engine.apply({
      listeners: [tcpProxyListener('tcp', 'svc')],
      clusters: [staticCluster('svc', [echo.port, dead], {
        outlier_detection: {
          split_external_local_origin_errors: true,
          consecutive_local_origin_failure: { value: 2 },
          max_ejection_percent: { value: 50 },
          base_ejection_time: { seconds: 30 },
        },
      })],
    });
    const port = engine.listenerPort('tcp') ?? 0;
    const attempt = (): Promise<string> => new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('hi'));
      socket.on('data', (d) => {
        resolve(String(d));
        socket.destroy();
      });
      socket.on('close', () => resolve('<closed>'));
      socket.on('error', () => resolve('<closed>'));
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await attempt());
    expect(outcomes.filter((o) => o === '<closed>')).toHaveLength(2);
    for (let i = 0; i < 5; i++) expect(await attempt()).toBe('echo:hi');
    const stats = statValues(engine.stats.all());
    expect(stats.get('cluster.svc.outlier_detection.ejections_enforced_consecutive_local_origin_failure')).toBe(1);
    expect(stats.get('cluster.svc.outlier_detection.ejections_active')).toBe(1);
  });

  it('keeps an ejection across a config update', async () => {
    const good = track(await statusServer('good', { code: 200 }));
    const bad = track(await statusServer('bad', { code: 502 }));
    const engine = track(new Engine());
    const cluster = staticCluster('svc', [good.port, bad.port], { outlier_detection: { consecutive_5xx: { value: 1 }, max_ejection_percent: { value: 50 } } });
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'svc' } }]) })],
      clusters: [cluster],
    });
    const port = engine.listenerPort('http') ?? 0;
    for (let i = 0; i < 2; i++) await get(port, '/');
    await engine.apply({ clusters: [cluster] });
    for (let i = 0; i < 4; i++) expect((await get(port, '/')).body).toBe('good');
  });
});
