import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../../envoy/protos.js';
import { Engine } from '../engine.js';
import { T, cleanupTracker, decoded, get, httpListener, listen, routeConfig, socketAddress, startHttpServer, startTcpEcho, staticCluster, statValues, type TestServer } from '../fixtures.js';
import type { Obj } from '../proto-values.js';

const { track, stopAll } = cleanupTracker();
afterEach(stopAll);

const ms = (n: number): Obj => ({ nanos: n * 1_000_000 });

/** Sends headers then stalls the body for `stallMs` before finishing. */
async function stallingServer(stallMs: number): Promise<TestServer> {
  return listen(http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('start ');
    setTimeout(() => res.end('end'), stallMs);
  }));
}

describe('timeouts', () => {
  it('answers 408 "stream timeout" when a route stays idle longer than its idle_timeout', async () => {
    const slow = track(await startHttpServer('slow', 600));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'slow', idle_timeout: ms(150) } }]) })],
      clusters: [staticCluster('slow', [slow.port])],
    });
    const reply = await get(engine.listenerPort('http') ?? 0, '/');
    expect(reply.status).toBe(408);
    expect(reply.body).toBe('stream timeout');
    expect(statValues(engine.stats.all()).get('http.http.downstream_rq_idle_timeout')).toBe(1);
  });

  it('applies the HCM stream_idle_timeout, and keeps streams that stay active', async () => {
    const stalling = track(await stallingServer(500));
    const steady = track(await startHttpServer('steady', 100));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [
        { match: { prefix: '/stall' }, route: { cluster: 'stalling' } },
        { match: { prefix: '/' }, route: { cluster: 'steady' } },
      ]) }, 0, { stream_idle_timeout: ms(250) })],
      clusters: [staticCluster('stalling', [stalling.port]), staticCluster('steady', [steady.port])],
    });
    const port = engine.listenerPort('http') ?? 0;
    expect((await get(port, '/')).body).toBe('steady /');
    // Headers already sent: the stream is reset before the body completes.
    const body = await new Promise<string>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/stall', agent: false }, (res) => {
        let data = '';
        res.on('data', (d) => (data += String(d)));
        res.on('close', () => resolve(res.complete ? data : `incomplete: ${data}`));
      }).on('error', () => resolve('error'));
    });
    expect(body).toBe('incomplete: start ');
    expect(statValues(engine.stats.all()).get('http.http.downstream_rq_idle_timeout')).toBe(1);
  });

  it('closes idle downstream keep-alive connections after common_http_protocol_options.idle_timeout', async () => {
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]) }, 0, {
        common_http_protocol_options: { idle_timeout: ms(200) },
      })],
      clusters: [staticCluster('a', [backend.port])],
    });
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const socket = net.connect(engine.listenerPort('http') ?? 0, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
      socket.on('data', () => {});
      socket.on('close', () => resolve(Date.now() - started));
    });
    expect(closedAfter).toBeGreaterThanOrEqual(180);
    expect(closedAfter).toBeLessThan(2000);
  });

  it('answers 408 when request headers take longer than request_headers_timeout', async () => {
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]) }, 0, {
        request_headers_timeout: ms(200),
      })],
      clusters: [staticCluster('a', [backend.port])],
    });
    const answer = await new Promise<string>((resolve) => {
      let data = '';
      const socket = net.connect(engine.listenerPort('http') ?? 0, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: a\r\n'));
      socket.on('data', (d) => (data += String(d)));
      socket.on('close', () => resolve(data));
    });
    expect(answer).toMatch(/^HTTP\/1.1 408/);
  });

  it('closes tcp_proxy connections idle longer than idle_timeout', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [decoded('listeners', {
        name: 'tcp',
        address: socketAddress(0),
        filter_chains: [{ filters: [{ name: 'tcp', typed_config: packAny(T.tcpProxy, { stat_prefix: 'tcp', cluster: 'echo', idle_timeout: ms(200) }) }] }],
      })],
      clusters: [staticCluster('echo', [echo.port])],
    });
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const socket = net.connect(engine.listenerPort('tcp') ?? 0, '127.0.0.1', () => socket.write('hi'));
      socket.on('data', () => {});
      socket.on('close', () => resolve(Date.now() - started));
    });
    expect(closedAfter).toBeGreaterThanOrEqual(180);
    expect(statValues(engine.stats.all()).get('tcp.tcp.idle_timeout')).toBe(1);
  });

  it('enforces max_stream_duration downstream (HCM) and upstream (cluster protocol options)', async () => {
    const slow = track(await startHttpServer('slow', 600));
    const engine = track(new Engine());
    const protocolOptions = { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(T.httpProtocolOptions, {
      common_http_protocol_options: { max_stream_duration: ms(150) },
      explicit_http_config: { http_protocol_options: {} },
    }) };
    await engine.apply({
      listeners: [
        httpListener('up', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'limited' } }]) }),
        decoded('listeners', { ...httpListener('down', { route_config: routeConfig('rc2', [{ match: { prefix: '/' }, route: { cluster: 'slow' } }]) }, 0, {
          common_http_protocol_options: { max_stream_duration: ms(150) },
        }) }),
      ],
      clusters: [staticCluster('slow', [slow.port]), staticCluster('limited', [slow.port], { typed_extension_protocol_options: protocolOptions })],
    });
    const upstream = await get(engine.listenerPort('up') ?? 0, '/');
    expect(upstream.status).toBe(504);
    expect(upstream.body).toBe('upstream max stream duration reached');
    const downstream = await get(engine.listenerPort('down') ?? 0, '/');
    expect(downstream.status).toBe(504);
    expect(downstream.body).toBe('downstream duration timeout');
    const stats = statValues(engine.stats.all());
    expect(stats.get('cluster.limited.upstream_rq_max_duration_reached')).toBe(1);
    expect(stats.get('http.down.downstream_rq_max_duration_reached')).toBe(1);
  });

  it('closes connections past max_connection_duration, downstream and upstream', async () => {
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    const protocolOptions = { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(T.httpProtocolOptions, {
      common_http_protocol_options: { max_connection_duration: ms(150) },
      explicit_http_config: { http_protocol_options: {} },
    }) };
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]) }, 0, {
        common_http_protocol_options: { max_connection_duration: ms(300) },
      })],
      clusters: [staticCluster('a', [backend.port], { typed_extension_protocol_options: protocolOptions })],
    });
    const port = engine.listenerPort('http') ?? 0;
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
      socket.on('data', () => {});
      socket.on('close', () => resolve(Date.now() - started));
    });
    expect(closedAfter).toBeGreaterThanOrEqual(280);
    expect(closedAfter).toBeLessThan(2000);
    // The pooled upstream connection expired meanwhile: the next request opens a new one.
    await get(port, '/');
    const stats = statValues(engine.stats.all());
    expect(stats.get('cluster.a.upstream_cx_max_duration_reached')).toBeGreaterThanOrEqual(1);
    expect(stats.get('cluster.a.upstream_cx_total')).toBe(2);
    expect(stats.get('http.http.downstream_cx_max_duration_reached')).toBe(1);
  });
});
