import http2 from 'node:http2';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../../../envoy/protos.js';
import { Engine } from '../../engine.js';
import {
  T, cleanupTracker, decoded, edsCluster, get, httpListener, httpListenerWithFilters, loadAssignment, routeConfig, socketAddress, startHttpServer, startTcpEcho, staticCluster, statValues,
} from '../../fixtures.js';
import type { Obj } from '../../proto-values.js';

const { track, stopAll } = cleanupTracker();
afterEach(stopAll);

const ALL = { default_value: { numerator: 100, denominator: 'HUNDRED' }, runtime_key: 'rl' };

function limit(extra: Obj = {}): Obj {
  return {
    stat_prefix: 'rate_limit',
    token_bucket: { max_tokens: 2, tokens_per_fill: { value: 1 }, fill_interval: { seconds: 60 } },
    filter_enabled: ALL,
    filter_enforced: ALL,
    ...extra,
  };
}

describe('HTTP local rate limit', () => {
  it('answers 429 once the bucket is empty, with the configured headers and stats', async () => {
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListenerWithFilters('http', routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]), [{
        name: 'envoy.filters.http.local_ratelimit',
        type: T.httpLocalRateLimit,
        config: limit({
          response_headers_to_add: [{ header: { key: 'x-kuma-rate-limited', value: 'true' } }],
          enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
        }),
      }])],
      clusters: [staticCluster('a', [backend.port])],
    });
    const port = engine.listenerPort('http') ?? 0;
    const first = await get(port, '/');
    expect(first.status).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('2');
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    expect((await get(port, '/')).status).toBe(200);
    const limited = await get(port, '/');
    expect(limited.status).toBe(429);
    expect(limited.body).toBe('local_rate_limited');
    expect(limited.headers['x-envoy-ratelimited']).toBe('true');
    expect(limited.headers['x-kuma-rate-limited']).toBe('true');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    const stats = statValues(engine.stats.all());
    expect(stats.get('rate_limit.http_local_rate_limit.enabled')).toBe(3);
    expect(stats.get('rate_limit.http_local_rate_limit.ok')).toBe(2);
    expect(stats.get('rate_limit.http_local_rate_limit.rate_limited')).toBe(1);
    expect(stats.get('rate_limit.http_local_rate_limit.enforced')).toBe(1);
  });

  it('refills every fill_interval and only counts when not enforced', async () => {
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListenerWithFilters('http', routeConfig('rc', [
        { match: { prefix: '/shadow' }, route: { cluster: 'a' }, typed_per_filter_config: {
          'envoy.filters.http.local_ratelimit': packAny(T.httpLocalRateLimit, limit({ stat_prefix: 'shadow', filter_enforced: undefined, token_bucket: { max_tokens: 1, fill_interval: { seconds: 60 } } })),
        } },
        { match: { prefix: '/' }, route: { cluster: 'a' } },
      ]), [{ name: 'envoy.filters.http.local_ratelimit', type: T.httpLocalRateLimit, config: limit({ token_bucket: { max_tokens: 1, tokens_per_fill: { value: 1 }, fill_interval: { nanos: 200_000_000 } }, status: { code: 503 } }) }])],
      clusters: [staticCluster('a', [backend.port])],
    });
    const port = engine.listenerPort('http') ?? 0;
    expect((await get(port, '/')).status).toBe(200);
    expect((await get(port, '/')).status).toBe(503);
    await new Promise((r) => setTimeout(r, 250));
    expect((await get(port, '/')).status).toBe(200);
    // The route's own bucket (1 token), enabled but not enforced: everything passes, excess is counted.
    for (let i = 0; i < 3; i++) expect((await get(port, '/shadow')).status).toBe(200);
    const stats = statValues(engine.stats.all());
    expect(stats.get('shadow.http_local_rate_limit.rate_limited')).toBe(2);
    expect(stats.get('shadow.http_local_rate_limit.enforced')).toBe(0);
  });

  it('limits only routes with a per-route config when the filter has no bucket', async () => {
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListenerWithFilters('http', routeConfig('rc', [
        { match: { prefix: '/limited' }, route: { cluster: 'a' }, typed_per_filter_config: {
          'envoy.filters.http.local_ratelimit': packAny(T.httpLocalRateLimit, limit({ token_bucket: { max_tokens: 1, fill_interval: { seconds: 60 } } })),
        } },
        { match: { prefix: '/' }, route: { cluster: 'a' } },
      ]), [{ name: 'envoy.filters.http.local_ratelimit', type: T.httpLocalRateLimit, config: { stat_prefix: 'rate_limit' } }])],
      clusters: [staticCluster('a', [backend.port])],
    });
    const port = engine.listenerPort('http') ?? 0;
    for (let i = 0; i < 3; i++) expect((await get(port, '/free')).status).toBe(200);
    expect((await get(port, '/limited')).status).toBe(200);
    expect((await get(port, '/limited')).status).toBe(429);
  });

  it('limits HTTP/2 (h2c) requests too', async () => {
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListenerWithFilters('http', routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]), [{
        name: 'envoy.filters.http.local_ratelimit', type: T.httpLocalRateLimit,
        config: limit({ token_bucket: { max_tokens: 1, fill_interval: { seconds: 60 } }, enable_x_ratelimit_headers: 'DRAFT_VERSION_03' }),
      }])],
      clusters: [staticCluster('a', [backend.port])],
    });
    const session = http2.connect(`http://127.0.0.1:${engine.listenerPort('http') ?? 0}`);
    const request = (): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> => new Promise((resolve, reject) => {
      const stream = session.request({ ':path': '/' });
      let body = '';
      let headers: http2.IncomingHttpHeaders = {};
      stream.on('response', (h) => (headers = h));
      stream.on('data', (d: Buffer) => (body += String(d)));
      stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body }));
      stream.on('error', reject);
      stream.end();
    });
    const ok = await request();
    expect(ok.status).toBe(200);
    expect(ok.headers['x-ratelimit-remaining']).toBe('0');
    const limited = await request();
    expect(limited.status).toBe(429);
    expect(limited.body).toBe('local_rate_limited');
    expect(limited.headers['x-envoy-ratelimited']).toBe('true');
    session.close();
  });

  it('keeps a bucket per downstream connection with local_rate_limit_per_downstream_connection', async () => {
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListenerWithFilters('http', routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]), [{
        name: 'envoy.filters.http.local_ratelimit', type: T.httpLocalRateLimit,
        config: limit({ token_bucket: { max_tokens: 1, fill_interval: { seconds: 60 } }, local_rate_limit_per_downstream_connection: true }),
      }])],
      clusters: [staticCluster('a', [backend.port])],
    });
    // get() opens a new connection per request: each has its own token.
    const port = engine.listenerPort('http') ?? 0;
    for (let i = 0; i < 3; i++) expect((await get(port, '/')).status).toBe(200);
    // Two requests on one keep-alive connection: the second finds its bucket empty.
    const statuses = await new Promise<string[]>((resolve) => {
      let data = '';
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
      socket.on('data', (d) => (data += String(d)));
      socket.on('close', () => resolve([...data.matchAll(/HTTP\/1.1 (\d{3})/g)].map((m) => m[1])));
    });
    expect(statuses).toEqual(['200', '429']);
  });

  it('keeps a route bucket across updates that leave its RouteConfiguration unchanged', async () => {
    const [a, b] = [track(await startHttpServer('a')), track(await startHttpServer('b'))];
    const engine = track(new Engine());
    const routes = decoded('routes', routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'svc' }, typed_per_filter_config: {
      'envoy.filters.http.local_ratelimit': packAny(T.httpLocalRateLimit, limit({ token_bucket: { max_tokens: 1, fill_interval: { seconds: 60 } } })),
    } }]));
    const listener = httpListener('http', { rds: 'rc' }, 0, { http_filters: [
      { name: 'envoy.filters.http.local_ratelimit', typed_config: packAny(T.httpLocalRateLimit, { stat_prefix: 'rate_limit' }) },
      { name: 'envoy.filters.http.router', typed_config: packAny(T.router, {}) },
    ] });
    await engine.apply({ listeners: [listener], routes: [routes], clusters: [edsCluster('svc')], endpoints: [decoded('endpoints', loadAssignment('svc', [a.port]))] });
    const port = engine.listenerPort('http') ?? 0;
    expect((await get(port, '/')).status).toBe(200);
    await engine.apply({ endpoints: [decoded('endpoints', loadAssignment('svc', [b.port]))] });
    expect((await get(port, '/')).status).toBe(429);
  });

  it('rejects fields it does not implement, naming them', async () => {
    const engine = track(new Engine());
    const bad = (config: Obj): Promise<void> => engine.apply({
      listeners: [httpListenerWithFilters('http', routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]), [{ name: 'rl', type: T.httpLocalRateLimit, config }])],
    });
    await expect(bad(limit({ descriptors: [{ entries: [{ key: 'a', value: 'b' }], token_bucket: { max_tokens: 1, fill_interval: { seconds: 1 } } }] }))).rejects.toThrow(/descriptors: descriptor rate limits are not supported/);
    await expect(bad(limit({ token_bucket: { max_tokens: 1, fill_interval: { nanos: 10_000_000 } } }))).rejects.toThrow(/token_bucket.fill_interval: must be at least 50ms/);
  });
});

describe('network local rate limit', () => {
  it('closes connections beyond the bucket', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [decoded('listeners', {
        name: 'tcp',
        address: socketAddress(0),
        filter_chains: [{ filters: [
          { name: 'envoy.filters.network.local_ratelimit', typed_config: packAny(T.networkLocalRateLimit, { stat_prefix: 'tcp_rl', token_bucket: { max_tokens: 1, fill_interval: { seconds: 60 } } }) },
          { name: 'envoy.filters.network.tcp_proxy', typed_config: packAny(T.tcpProxy, { stat_prefix: 'tcp', cluster: 'echo' }) },
        ] }],
      })],
      clusters: [staticCluster('echo', [echo.port])],
    });
    const port = engine.listenerPort('tcp') ?? 0;
    const exchange = (): Promise<string> => new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('hi'));
      socket.on('data', (d) => {
        resolve(String(d));
        socket.destroy();
      });
      socket.on('close', () => resolve('<closed>'));
      socket.on('error', () => resolve('<closed>'));
    });
    expect(await exchange()).toBe('echo:hi');
    expect(await exchange()).toBe('<closed>');
    expect(statValues(engine.stats.all()).get('local_rate_limit.tcp_rl.rate_limited')).toBe(1);
  });
});
