import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../envoy/protos.js';
import { Engine } from './engine.js';
import {
  T, decoded, edsCluster, get, hcm, httpListener, loadAssignment, routeConfig, socketAddress, startHttpServer,
  startTcpEcho, staticCluster, tcpProxyListener, testCert, listen, type TestServer,
} from './fixtures.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function track<T extends { close(): Promise<void> } | Engine>(thing: T): T {
  cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
  return thing;
}

async function servers(...names: string[]): Promise<TestServer[]> {
  return Promise.all(names.map(async (n) => track(await startHttpServer(n))));
}

function tcpExchange(port: number, message: string, connect = (): net.Socket => net.connect(port, '127.0.0.1')): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect();
    socket.once('error', reject);
    socket.once('data', (d) => {
      resolve(String(d));
      socket.destroy();
    });
    socket.write(message);
  });
}

describe('Engine', () => {
  it('proxies TCP with tcp_proxy', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    await engine.apply({ listeners: [tcpProxyListener('tcp', 'echo')], clusters: [staticCluster('echo', [echo.port])] });
    expect(await tcpExchange(engine.listenerPort('tcp') ?? 0, 'hello')).toBe('echo:hello');
    expect(engine.stats.all().find((s) => s.name === 'cluster.echo.upstream_cx_total')?.counter.value).toBe(1);
  });

  it('routes by path prefix to two clusters and adds forwarding headers', async () => {
    const [a, b] = await servers('a', 'b');
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [
        { match: { prefix: '/b' }, route: { cluster: 'b' } },
        { match: { prefix: '/' }, route: { cluster: 'a' } },
      ]) })],
      clusters: [staticCluster('a', [a.port]), staticCluster('b', [b.port])],
    });
    const port = engine.listenerPort('http') ?? 0;
    expect((await get(port, '/b/x')).body).toBe('b /b/x');
    const reply = await get(port, '/other', { 'x-forwarded-for': '10.0.0.1' });
    expect(reply.body).toBe('a /other');
    const seen = JSON.parse(String(reply.headers['x-seen-headers'])) as Record<string, string>;
    expect(seen['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.host).toBe(`127.0.0.1:${port}`);
  });

  it('splits traffic by weighted_clusters', async () => {
    const [a, b] = await servers('a', 'b');
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [
        { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 80 } }, { name: 'b', weight: { value: 20 } }] } } },
      ]) })],
      clusters: [staticCluster('a', [a.port]), staticCluster('b', [b.port])],
    });
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 300; i++) counts[(await get(engine.listenerPort('http') ?? 0, '/')).body.split(' ')[0] as 'a' | 'b']++;
    expect(counts.a).toBeGreaterThan(200);
    expect(counts.b).toBeGreaterThan(30);
  });

  it('matches routes on headers', async () => {
    const [a, b] = await servers('a', 'b');
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [
        { match: { prefix: '/', headers: [{ name: 'x-version', string_match: { exact: 'v2' } }] }, route: { cluster: 'b' } },
        { match: { prefix: '/' }, route: { cluster: 'a' } },
      ]) })],
      clusters: [staticCluster('a', [a.port]), staticCluster('b', [b.port])],
    });
    const port = engine.listenerPort('http') ?? 0;
    expect((await get(port, '/', { 'x-version': 'v2' })).body).toBe('b /');
    expect((await get(port, '/', { 'x-version': 'v1' })).body).toBe('a /');
    expect((await get(port, '/')).body).toBe('a /');
  });

  it('selects virtual hosts by domain and answers 404 without a route', async () => {
    const [a, b] = await servers('a', 'b');
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: { name: 'rc', virtual_hosts: [
        { name: 'b', domains: ['b.mesh', '*.b.mesh'], routes: [{ match: { prefix: '/' }, route: { cluster: 'b' } }] },
        { name: 'a', domains: ['a.mesh'], routes: [{ match: { path: '/only' }, route: { cluster: 'a' } }] },
      ] } })],
      clusters: [staticCluster('a', [a.port]), staticCluster('b', [b.port])],
    });
    const port = engine.listenerPort('http') ?? 0;
    expect((await get(port, '/', { host: 'x.b.mesh' })).body).toBe('b /');
    expect((await get(port, '/only?q=1', { host: 'a.mesh' })).body).toBe('a /only?q=1');
    expect((await get(port, '/other', { host: 'a.mesh' })).status).toBe(404);
    expect((await get(port, '/', { host: 'c.mesh' })).status).toBe(404);
  });

  it('round-robins across endpoints and follows EDS updates', async () => {
    const [a, b] = await servers('a', 'b');
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { rds: 'rc' })],
      routes: [decoded('routes', routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'svc' } }]))],
      clusters: [edsCluster('svc')],
      endpoints: [decoded('endpoints', loadAssignment('svc', [a.port, b.port]))],
    });
    expect(engine.references().routes).toEqual(new Set(['rc']));
    expect(engine.references().endpoints).toEqual(new Set(['svc']));
    const port = engine.listenerPort('http') ?? 0;
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push((await get(port, '/')).body.split(' ')[0]);
    expect(seen.filter((s) => s === 'a')).toHaveLength(3);
    expect(seen.filter((s) => s === 'b')).toHaveLength(3);
    expect(seen[0]).not.toBe(seen[1]);

    await engine.apply({ endpoints: [decoded('endpoints', loadAssignment('svc', [a.port, b.port], ['', 'UNHEALTHY']))] });
    for (let i = 0; i < 4; i++) expect((await get(port, '/')).body).toBe('a /');
    await engine.apply({ endpoints: [decoded('endpoints', loadAssignment('svc', [b.port]))] });
    for (let i = 0; i < 4; i++) expect((await get(port, '/')).body).toBe('b /');
    await engine.apply({ endpoints: [] });
    const none = await get(port, '/');
    expect(none.status).toBe(503);
    expect(none.body).toBe('no healthy upstream');
  });

  it('answers 503 on connect failure and 504 on route timeout', async () => {
    const [slow] = [track(await startHttpServer('slow', 2000))];
    const closed = await listen(net.createServer());
    const deadPort = closed.port;
    await closed.close();
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [
        { match: { prefix: '/dead' }, route: { cluster: 'dead' } },
        { match: { prefix: '/slow' }, route: { cluster: 'slow', timeout: { nanos: 200_000_000 } } },
        { match: { prefix: '/missing' }, route: { cluster: 'missing' } },
      ]) })],
      clusters: [staticCluster('dead', [deadPort]), staticCluster('slow', [slow.port])],
    });
    const port = engine.listenerPort('http') ?? 0;
    const dead = await get(port, '/dead');
    expect(dead.status).toBe(503);
    expect(dead.body).toContain('upstream connect error');
    const timedOut = await get(port, '/slow');
    expect(timedOut.status).toBe(504);
    expect(timedOut.body).toBe('upstream request timeout');
    expect((await get(port, '/missing')).status).toBe(503);
    const stats = new Map(engine.stats.all().map((s) => [s.name, s.counter.value]));
    expect(stats.get('cluster.dead.upstream_cx_connect_fail')).toBe(1);
    expect(stats.get('cluster.slow.upstream_rq_timeout')).toBe(1);
    expect(stats.get('http.http.downstream_rq_5xx')).toBe(3);
  });

  it('rejects an unknown type URL and keeps serving the old config', async () => {
    const [a] = await servers('a');
    const engine = track(new Engine());
    const cluster = staticCluster('a', [a.port]);
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]) })],
      clusters: [cluster],
    });
    const unknown = 'type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy';
    const bad = decoded('listeners', {
      name: 'http',
      address: socketAddress(0),
      filter_chains: [{ filters: [{ name: 'redis', typed_config: { type_url: unknown, value: Buffer.alloc(0) } }] }],
    });
    await expect(engine.apply({ listeners: [bad] })).rejects.toThrow(unknown);
    const unsupportedField = staticCluster('a', [a.port], { lb_policy: 'MAGLEV' });
    await expect(engine.apply({ clusters: [unsupportedField] })).rejects.toThrow('lb_policy');
    const unknownField = staticCluster('a', [a.port], { lb_subset_config: { fallback_policy: 'ANY_ENDPOINT' } });
    await expect(engine.apply({ clusters: [unknownField] })).rejects.toThrow('Cluster "a".lb_subset_config');
    expect((await get(engine.listenerPort('http') ?? 0, '/')).body).toBe('a /');
    expect(engine.currentResources().clusters).toEqual([cluster]);
  });

  it('selects filter chains by SNI and passes TLS through to the right server', async () => {
    const tlsServer = async (name: 'a' | 'b'): Promise<TestServer> =>
      track(await listen(tls.createServer(testCert(name), (s) => s.on('data', (d) => s.write(`${name}:${String(d)}`)))));
    const [a, b] = [await tlsServer('a'), await tlsServer('b')];
    const chain = (serverName: string, cluster: string): object => ({
      filter_chain_match: { server_names: [serverName], transport_protocol: 'tls' },
      filters: [{ name: 'tcp', typed_config: packAny(T.tcpProxy, { stat_prefix: cluster, cluster }) }],
    });
    const engine = track(new Engine());
    await engine.apply({
      listeners: [decoded('listeners', {
        name: 'sni',
        address: socketAddress(0),
        listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: packAny(T.tlsInspector, {}) }],
        filter_chains: [chain('a.test', 'a'), chain('*.test', 'b')],
      })],
      clusters: [staticCluster('a', [a.port]), staticCluster('b', [b.port])],
    });
    const port = engine.listenerPort('sni') ?? 0;
    const ca = testCert('ca').cert;
    const via = (servername: string): Promise<string> =>
      tcpExchange(port, 'hi', () => tls.connect({ host: '127.0.0.1', port, servername, ca }));
    expect(await via('a.test')).toBe('a:hi');
    await expect(via('b.test')).resolves.toBe('b:hi');
    // No chain for other names: the connection is closed.
    await expect(via('c.other')).rejects.toThrow();
  });

  it('terminates TLS with a certificate from SDS', async () => {
    const [a] = await servers('a');
    const { cert, key } = testCert('a');
    const engine = track(new Engine());
    await engine.apply({
      listeners: [decoded('listeners', {
        name: 'https',
        address: socketAddress(0),
        filter_chains: [{
          transport_socket: { name: 'tls', typed_config: packAny(T.downstreamTls, { common_tls_context: {
            tls_certificate_sds_secret_configs: [{ name: 'identity', sds_config: { ads: {} } }],
          } }) },
          filters: [hcm('https', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]) })],
        }],
      })],
      clusters: [staticCluster('a', [a.port])],
      secrets: [decoded('secrets', { name: 'identity', tls_certificate: { certificate_chain: { inline_string: cert }, private_key: { inline_string: key } } })],
    });
    expect(engine.references().secrets).toEqual(new Set(['identity']));
    const port = engine.listenerPort('https') ?? 0;
    const body = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', ca: testCert('ca').cert }, () => {
        socket.write('GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
      });
      let data = '';
      socket.on('data', (d) => (data += String(d)));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(body).toContain('200 OK');
    expect(body).toContain('"x-forwarded-proto":"https"');
  });

  it('keeps serving an in-flight request across a listener update', async () => {
    const [slow, fast] = [track(await startHttpServer('slow', 400)), track(await startHttpServer('fast'))];
    const engine = track(new Engine());
    const listenerWith = (cluster: string): object =>
      httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster } }]) });
    await engine.apply({ listeners: [listenerWith('slow') as never], clusters: [staticCluster('slow', [slow.port]), staticCluster('fast', [fast.port])] });
    const port = engine.listenerPort('http') ?? 0;
    const inFlight = get(port, '/long');
    await new Promise((r) => setTimeout(r, 100));
    await engine.apply({ listeners: [listenerWith('fast') as never] });
    expect(engine.listenerPort('http')).toBe(port);
    expect((await get(port, '/new')).body).toBe('fast /new');
    const long = await inFlight;
    expect(long.status).toBe(200);
    expect(long.body).toBe('slow /long');
  });

  it('closes a removed listener', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    await engine.apply({ listeners: [tcpProxyListener('tcp', 'echo')], clusters: [staticCluster('echo', [echo.port])] });
    const port = engine.listenerPort('tcp') ?? 0;
    await engine.apply({ listeners: [] });
    await expect(tcpExchange(port, 'x')).rejects.toThrow(/ECONNREFUSED/);
  });
});
