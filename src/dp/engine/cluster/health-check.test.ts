import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import http from 'node:http';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../../envoy/protos.js';
import { Engine } from '../engine.js';
import { HEALTH_CHECK_FILE_SINK } from './health-check-events.js';
import { clustersText } from '../../admin/stats-format.js';
import { cleanupTracker, eventually, get, httpListener, listen, routeConfig, startTcpEcho, staticCluster, statValues, type TestServer } from '../fixtures.js';

const { track, stopAll } = cleanupTracker();
afterEach(stopAll);

/** Answers `name`; `/health` with health.code, which the test can change. Records the health requests' headers. */
async function serviceWithHealth(name: string, health: { code: number; seen?: http.IncomingHttpHeaders }): Promise<TestServer> {
  return listen(http.createServer((req, res) => {
    if (req.url === '/health') {
      health.seen = req.headers;
      res.writeHead(health.code);
      res.end();
      return;
    }
    res.end(name);
  }));
}

interface HcEvent {
  add_healthy_event?: { first_check?: boolean };
  eject_unhealthy_event?: { failure_type?: string };
  health_check_failure_event?: { failure_type?: string; first_check?: boolean };
}

const fast = { timeout: { nanos: 200_000_000 }, interval: { nanos: 100_000_000 }, no_traffic_interval: { nanos: 100_000_000 } };

describe('active health checking', () => {
  it('takes hosts failing the HTTP check out of load balancing and back once they pass', async () => {
    const badHealth = { code: 503 };
    const goodHealth: { code: number; seen?: http.IncomingHttpHeaders } = { code: 200 };
    const good = track(await serviceWithHealth('good', goodHealth));
    const bad = track(await serviceWithHealth('bad', badHealth));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'svc' } }]) })],
      clusters: [staticCluster('svc', [good.port, bad.port], {
        health_checks: [{
          ...fast,
          unhealthy_threshold: { value: 2 },
          healthy_threshold: { value: 2 },
          http_health_check: { path: '/health', host: 'svc.mesh', expected_statuses: [{ start: 200, end: 300 }] },
        }],
      })],
    });
    const port = engine.listenerPort('http') ?? 0;
    await eventually(() => expect(clustersText(engine)).toContain(`svc::127.0.0.1:${good.port}::health_flags::healthy`));
    expect(clustersText(engine)).toContain(`svc::127.0.0.1:${bad.port}::health_flags::/failed_active_hc`);
    expect(goodHealth.seen?.host).toBe('svc.mesh');
    for (let i = 0; i < 6; i++) expect((await get(port, '/')).body).toBe('good');

    badHealth.code = 200;
    await eventually(() => expect(clustersText(engine)).toContain(`svc::127.0.0.1:${bad.port}::health_flags::healthy`));
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get(port, '/')).body);
    expect(seen).toEqual(new Set(['good', 'bad']));

    // A wrong status fails a healthy host at once (the threshold only counts network failures).
    badHealth.code = 500;
    await eventually(() => expect(clustersText(engine)).toContain(`svc::127.0.0.1:${bad.port}::health_flags::/failed_active_hc`), 2000);
    const stats = statValues(engine.stats.all());
    expect(stats.get('cluster.svc.health_check.attempt')).toBeGreaterThan(3);
    expect(stats.get('cluster.svc.health_check.failure')).toBeGreaterThan(0);
    expect(stats.get('cluster.svc.health_check.healthy')).toBe(1);
  });

  it('checks TCP hosts by connecting, and by payload when send/receive are set', async () => {
    const echo = track(await startTcpEcho('echo'));
    const gone = await listen(net.createServer());
    await gone.close();
    const engine = track(new Engine());
    const tcpCluster = (name: string, tcp: object): object => staticCluster(name, [echo.port, gone.port], {
      health_checks: [{ ...fast, unhealthy_threshold: { value: 1 }, healthy_threshold: { value: 1 }, tcp_health_check: tcp }],
    });
    await engine.apply({
      listeners: [],
      clusters: [
        tcpCluster('connect', {}) as never,
        // The echo server answers "echo:" + what it got.
        tcpCluster('payload', { send: { text: Buffer.from('ping').toString('hex') }, receive: [{ text: Buffer.from('echo:').toString('hex') }, { text: Buffer.from('ping').toString('hex') }] }) as never,
        tcpCluster('wrong', { send: { text: '00' }, receive: [{ text: Buffer.from('pong').toString('hex') }] }) as never,
      ],
    });
    await eventually(() => {
      const text = clustersText(engine);
      expect(text).toContain(`connect::127.0.0.1:${echo.port}::health_flags::healthy`);
      expect(text).toContain(`connect::127.0.0.1:${gone.port}::health_flags::/failed_active_hc`);
      expect(text).toContain(`payload::127.0.0.1:${echo.port}::health_flags::healthy`);
    });
    // Never answered what it expects: still failed after several checks (no first pass ever).
    await new Promise((r) => setTimeout(r, 400));
    expect(clustersText(engine)).toContain(`wrong::127.0.0.1:${echo.port}::health_flags::/failed_active_hc`);
  });

  it('panics below healthy_panic_threshold (all hosts serve), or fails traffic with fail_traffic_on_panic', async () => {
    const sick = { code: 503 };
    const a = track(await serviceWithHealth('a', sick));
    const b = track(await serviceWithHealth('b', sick));
    const engine = track(new Engine());
    const cluster = (name: string, lb: object): object => staticCluster(name, [a.port, b.port], {
      common_lb_config: lb,
      health_checks: [{ ...fast, unhealthy_threshold: { value: 1 }, healthy_threshold: { value: 1 }, http_health_check: { path: '/health' } }],
    });
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [
        { match: { prefix: '/strict' }, route: { cluster: 'strict' } },
        { match: { prefix: '/' }, route: { cluster: 'svc' } },
      ]) })],
      clusters: [cluster('svc', {}) as never, cluster('strict', { zone_aware_lb_config: { fail_traffic_on_panic: true } }) as never],
    });
    const port = engine.listenerPort('http') ?? 0;
    await eventually(() => expect(statValues(engine.stats.all()).get('cluster.svc.health_check.healthy')).toBe(0));
    await eventually(() => expect(statValues(engine.stats.all()).get('cluster.strict.health_check.healthy')).toBe(0));
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get(port, '/')).body);
    expect(seen).toEqual(new Set(['a', 'b']));
    expect(statValues(engine.stats.all()).get('cluster.svc.lb_healthy_panic')).toBe(4);
    const strict = await get(port, '/strict');
    expect(strict.status).toBe(503);
    expect(strict.body).toBe('no healthy upstream');
  });

  it('checks gRPC hosts with grpc.health.v1.Health/Check', async () => {
    const health = new HealthImplementation({ 'payments.v1.Payments': 'SERVING' });
    const server = new grpc.Server();
    health.addToServer(server);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    track({ close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) });
    const engine = track(new Engine());
    await engine.apply({
      clusters: [staticCluster('grpc', [port], {
        http2_protocol_options: {},
        health_checks: [{ ...fast, unhealthy_threshold: { value: 1 }, healthy_threshold: { value: 1 }, grpc_health_check: { service_name: 'payments.v1.Payments' } }],
      })],
    });
    await eventually(() => expect(clustersText(engine)).toContain(`grpc::127.0.0.1:${port}::health_flags::healthy`));
    health.setStatus('payments.v1.Payments', 'NOT_SERVING');
    await eventually(() => expect(clustersText(engine)).toContain(`grpc::127.0.0.1:${port}::health_flags::/failed_active_hc`));
  });

  it('checks over HTTP/2 with codec_client_type HTTP2 (prior knowledge, as an http2 cluster speaks)', async () => {
    const health = { code: 503, seen: '' };
    const server = http2.createServer((req, res) => {
      health.seen = `${req.headers[':authority']} ${String(req.headers['x-kuma-tags'])}`;
      res.writeHead(req.url === '/health' ? health.code : 200);
      res.end();
    });
    const h2 = track(await listen(server));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [],
      clusters: [staticCluster('h2', [h2.port], {
        health_checks: [{ ...fast, unhealthy_threshold: { value: 1 }, healthy_threshold: { value: 1 }, http_health_check: { path: '/health', codec_client_type: 'HTTP2', request_headers_to_add: [{ header: { key: 'X-Kuma-Tags', value: '&a=b&' } }] } }],
      })],
    });
    await eventually(() => expect(health.seen).toBe('h2 &a=b&'));
    expect(clustersText(engine)).toContain(`h2::127.0.0.1:${h2.port}::health_flags::/failed_active_hc`);
    health.code = 200;
    await eventually(() => expect(clustersText(engine)).toContain(`h2::127.0.0.1:${h2.port}::health_flags::healthy`));
  });

  it('writes health check events to the event_logger file: first failure, healthy, ejected, every failure with always_log', async () => {
    const health = { code: 503 };
    const svc = track(await serviceWithHealth('svc', health));
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hc-events-')), 'events.log');
    const events = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as HcEvent) : []);
    const apply = (alwaysLog: boolean) => engine.apply({
      listeners: [],
      clusters: [staticCluster('svc', [svc.port], {
        health_checks: [{
          ...fast, unhealthy_threshold: { value: 1 }, healthy_threshold: { value: 1 }, http_health_check: { path: '/health' },
          event_logger: [{ name: 'envoy.health_check.event_sinks.file', typed_config: packAny(HEALTH_CHECK_FILE_SINK, { event_log_path: file }) }],
          always_log_health_check_failures: alwaysLog,
        }],
      })],
    });
    const engine = track(new Engine());
    await apply(false);
    await eventually(() => expect(events().length).toBeGreaterThan(0));
    // Failing from the start: only the first check's failure is logged.
    expect(events()[0]).toMatchObject({ health_checker_type: 'HTTP', cluster_name: 'svc', host: { socket_address: { address: '127.0.0.1', port_value: svc.port } }, health_check_failure_event: { failure_type: 'ACTIVE', first_check: true } });
    health.code = 200;
    await eventually(() => expect(events().some((e) => e.add_healthy_event)).toBe(true));
    health.code = 500;
    await eventually(() => expect(events().some((e) => e.eject_unhealthy_event?.failure_type === 'ACTIVE')).toBe(true));
    // Several more failed checks, none of them logged.
    const failures = () => statValues(engine.stats.all()).get('cluster.svc.health_check.failure') ?? 0;
    const ejectedAt = failures();
    await eventually(() => expect(failures()).toBeGreaterThanOrEqual(ejectedAt + 3));
    expect(events().filter((e) => e.health_check_failure_event)).toHaveLength(1);
    await apply(true);
    await eventually(() => expect(events().filter((e) => e.health_check_failure_event).length).toBeGreaterThan(2));
  });

  it('rejects unsupported health checkers, naming the field', async () => {
    const engine = track(new Engine());
    await expect(engine.apply({
      clusters: [staticCluster('svc', [1], { health_checks: [{ ...fast, unhealthy_threshold: { value: 1 }, healthy_threshold: { value: 1 }, custom_health_check: { name: 'x' } }] })],
    })).rejects.toThrow(/health_checks\[0\].custom_health_check: field is not supported/);
  });
});
