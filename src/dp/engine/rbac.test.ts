import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../envoy/protos.js';
import { Engine } from './engine.js';
import {
  T, decoded, downstreamMtls, get, hcm, httpListener, routeConfig, socketAddress, startHttpServer, startTcpEcho, staticCluster, testCert,
  type TestServer,
} from './fixtures.js';
import type { Obj } from './proto-values.js';
import { parseSubjectAltNames, rfc2253Subject } from './transport/peer-certificate.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function track<T extends TestServer | Engine>(thing: T): T {
  cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
  return thing;
}

const CLOSED = '<closed>';

/** Writes `message` and resolves with the first reply, or CLOSED when the proxy closes the connection. */
function exchange(connect: () => net.Socket, message: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect();
    socket.once('error', () => resolve(CLOSED));
    socket.once('close', () => resolve(CLOSED));
    socket.once('data', (d) => {
      resolve(String(d));
      socket.destroy();
    });
    socket.write(message);
  });
}

/** How a plaintext TCP exchange ends: `data <reply>`, `end` (clean close) or the error code. */
function outcome(port: number, message: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(message));
    socket.on('data', (d) => resolve(`data ${String(d)}`));
    socket.on('end', () => resolve('end'));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

const plain = (port: number) => (): net.Socket => net.connect(port, '127.0.0.1');

/** A TLS client presenting the certificate of `identity` (`a`: spiffe://default/a, `b`: spiffe://default/b). */
function mtls(port: number, identity?: 'a' | 'b') {
  return (): net.Socket => {
    const client = identity ? testCert(identity) : undefined;
    return tls.connect({ host: '127.0.0.1', port, servername: 'a.test', ca: testCert('ca').cert, cert: client?.cert, key: client?.key });
  };
}

function httpsGet(connect: () => net.Socket, path: string): Promise<{ status: number; body: string } | typeof CLOSED> {
  return new Promise((resolve) => {
    const socket = connect();
    let data = '';
    socket.on('data', (d) => (data += String(d)));
    socket.once('error', () => resolve(CLOSED));
    socket.once('close', () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(match ? { status: Number(match[1]), body: data.slice(data.indexOf('\r\n\r\n') + 4) } : CLOSED);
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n`);
  });
}

const principalName = (matcher: Obj): Obj => ({ authenticated: { principal_name: matcher } });

function rules(action: 'ALLOW' | 'DENY', principals: Obj[], permissions: Obj[] = [{ any: true }]): Obj {
  return { action, policies: { 'MeshTrafficPermission': { permissions, principals } } };
}

function networkRbac(config: Obj): Obj {
  return { name: 'envoy.filters.network.rbac', typed_config: packAny(T.networkRbac, { stat_prefix: 'inbound', ...config }) };
}

function httpRbac(config: Obj): Obj {
  return { name: 'envoy.filters.http.rbac', typed_config: packAny(T.httpRbac, config) };
}

const tcpProxy = (cluster: string): Obj => ({ name: 'tcp', typed_config: packAny(T.tcpProxy, { stat_prefix: cluster, cluster }) });


function listener(name: string, filters: Obj[], transport?: Obj): Obj {
  return decoded('listeners', {
    name,
    address: socketAddress(0),
    filter_chains: [{ filters, ...(transport ? { transport_socket: transport } : {}) }],
  });
}

function stat(engine: Engine, name: string): number | undefined {
  return engine.stats.all().find((s) => s.name === name)?.counter.value;
}

describe('downstream mTLS', () => {
  it('verifies client certificates against the trusted CA and SAN matchers', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    const apply = (transport: Obj): Promise<void> =>
      engine.apply({ listeners: [listener('mtls', [tcpProxy('echo')], transport)], clusters: [staticCluster('echo', [echo.port])] });
    await apply(downstreamMtls());
    const port = engine.listenerPort('mtls') ?? 0;
    expect(await exchange(mtls(port, 'a'), 'hi')).toBe('echo:hi');
    expect(await exchange(mtls(port, 'b'), 'hi')).toBe('echo:hi');
    expect(await exchange(mtls(port), 'hi')).toBe(CLOSED);

    await apply(downstreamMtls({ validation: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://default/b' } }] } }));
    expect(await exchange(mtls(port, 'a'), 'hi')).toBe(CLOSED);
    expect(await exchange(mtls(port, 'b'), 'hi')).toBe('echo:hi');

    // A CA that did not issue the client certificate.
    await apply(downstreamMtls({ requireClientCertificate: false, trustedCa: testCert('b').cert }));
    expect(await exchange(mtls(port, 'a'), 'hi')).toBe(CLOSED);
    expect(await exchange(mtls(port), 'hi')).toBe('echo:hi');
  });
});

describe('RBAC network filter', () => {
  it('lets through only the allowed SPIFFE identity on an mTLS listener', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [listener('mtls', [networkRbac({ rules: rules('ALLOW', [principalName({ exact: 'spiffe://default/b' })]) }), tcpProxy('echo')], downstreamMtls())],
      clusters: [staticCluster('echo', [echo.port])],
    });
    const port = engine.listenerPort('mtls') ?? 0;
    expect(await exchange(mtls(port, 'b'), 'hi')).toBe('echo:hi');
    expect(await exchange(mtls(port, 'a'), 'hi')).toBe(CLOSED);
    expect(stat(engine, 'inbound.rbac.allowed')).toBe(1);
    expect(stat(engine, 'inbound.rbac.denied')).toBe(1);
    // The denied connection never reached the upstream.
    expect(stat(engine, 'cluster.echo.upstream_cx_total')).toBe(1);
    const entry = engine.stats.all().find((s) => s.name === 'inbound.rbac.denied');
    expect(entry?.metric).toBe('rbac_denied');
    expect(entry?.tags).toEqual({ envoy_rbac_prefix: 'inbound' });
  });

  it('closes connections matching a DENY policy (DNS SAN and subject principals)', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    const deny = rules('DENY', [{ or_ids: { ids: [principalName({ exact: 'a.test' }), principalName({ exact: 'CN=nobody' })] } }]);
    await engine.apply({
      listeners: [listener('mtls', [networkRbac({ stat_prefix: 'inbound.', rules: deny }), tcpProxy('echo')], downstreamMtls({ requireClientCertificate: false }))],
      clusters: [staticCluster('echo', [echo.port])],
    });
    const port = engine.listenerPort('mtls') ?? 0;
    expect(await exchange(mtls(port, 'a'), 'hi')).toBe(CLOSED);
    expect(await exchange(mtls(port, 'b'), 'hi')).toBe('echo:hi');
    // No client certificate: no principal to deny.
    expect(await exchange(mtls(port), 'hi')).toBe('echo:hi');
    expect(stat(engine, 'inbound.rbac.denied')).toBe(1);
    expect(stat(engine, 'inbound.rbac.allowed')).toBe(2);

    // The subject is the last resort when no SAN matches.
    await engine.apply({
      listeners: [listener('mtls', [networkRbac({ rules: rules('DENY', [principalName({ exact: 'CN=b.test' })]) }), tcpProxy('echo')], downstreamMtls({ requireClientCertificate: false }))],
    });
    expect(await exchange(mtls(port, 'b'), 'hi')).toBe(CLOSED);
    expect(await exchange(mtls(port, 'a'), 'hi')).toBe('echo:hi');
  });

  it('matches any, remote IP and authenticated principals on plaintext connections', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    const apply = (config: Obj): Promise<void> =>
      engine.apply({ listeners: [listener('tcp', [networkRbac(config), tcpProxy('echo')])], clusters: [staticCluster('echo', [echo.port])] });
    await apply({ rules: rules('ALLOW', [{ any: true }]) });
    const port = engine.listenerPort('tcp') ?? 0;
    expect(await exchange(plain(port), 'hi')).toBe('echo:hi');

    // Plaintext has no principal: `authenticated` never matches.
    await apply({ rules: rules('ALLOW', [{ authenticated: {} }]) });
    expect(await exchange(plain(port), 'hi')).toBe(CLOSED);

    await apply({ rules: rules('ALLOW', [{ direct_remote_ip: { address_prefix: '127.0.0.0', prefix_len: { value: 8 } } }]) });
    expect(await exchange(plain(port), 'hi')).toBe('echo:hi');
    await apply({ rules: rules('ALLOW', [{ not_id: { remote_ip: { address_prefix: '127.0.0.1', prefix_len: { value: 32 } } } }]) });
    expect(await exchange(plain(port), 'hi')).toBe(CLOSED);
    await apply({ rules: rules('ALLOW', [{ and_ids: { ids: [{ any: true }, { source_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 8 } } }] } }]) });
    expect(await exchange(plain(port), 'hi')).toBe(CLOSED);

    // ALLOW without policies denies everything; DENY without policies allows everything.
    await apply({ rules: { action: 'ALLOW' } });
    expect(await exchange(plain(port), 'hi')).toBe(CLOSED);
    await apply({ rules: { action: 'DENY' } });
    expect(await exchange(plain(port), 'hi')).toBe('echo:hi');
    expect(stat(engine, 'inbound.rbac.allowed')).toBe(3);
    expect(stat(engine, 'inbound.rbac.denied')).toBe(4);

    // No rules: nothing is enforced nor counted.
    await apply({});
    expect(await exchange(plain(port), 'hi')).toBe('echo:hi');
    expect(stat(engine, 'inbound.rbac.allowed')).toBe(3);
  });

  it('counts shadow rules without enforcing them', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    // What Kuma sends for a MeshTrafficPermission with AllowWithShadowDeny.
    await engine.apply({
      listeners: [listener('mtls', [networkRbac({
        rules: rules('ALLOW', [principalName({ exact: 'spiffe://default/a' }), principalName({ exact: 'spiffe://default/b' })]),
        shadow_rules: rules('DENY', [principalName({ exact: 'spiffe://default/b' })]),
      }), tcpProxy('echo')], downstreamMtls())],
      clusters: [staticCluster('echo', [echo.port])],
    });
    const port = engine.listenerPort('mtls') ?? 0;
    expect(await exchange(mtls(port, 'a'), 'hi')).toBe('echo:hi');
    expect(await exchange(mtls(port, 'b'), 'hi')).toBe('echo:hi');
    expect(stat(engine, 'inbound.rbac.allowed')).toBe(2);
    expect(stat(engine, 'inbound.rbac.shadow_allowed')).toBe(1);
    expect(stat(engine, 'inbound.rbac.shadow_denied')).toBe(1);
  });

  it('matches destination ports', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    const apply = (permission: Obj): Promise<void> =>
      engine.apply({ listeners: [listener('tcp', [networkRbac({ rules: rules('ALLOW', [{ any: true }], [permission]) }), tcpProxy('echo')])], clusters: [staticCluster('echo', [echo.port])] });
    await apply({ destination_port: 1 });
    const port = engine.listenerPort('tcp') ?? 0;
    expect(await exchange(plain(port), 'hi')).toBe(CLOSED);
    await apply({ or_rules: { rules: [{ destination_port: 1 }, { destination_port_range: { start: port, end: port + 1 } }] } });
    expect(await exchange(plain(port), 'hi')).toBe('echo:hi');
    await apply({ and_rules: { rules: [{ any: true }, { not_rule: { destination_port: port } }] } });
    expect(await exchange(plain(port), 'hi')).toBe(CLOSED);
  });

  it('rejects what it cannot enforce, naming the field', async () => {
    const engine = track(new Engine());
    const apply = (config: Obj): Promise<void> => engine.apply({ listeners: [listener('tcp', [networkRbac(config), tcpProxy('echo')])] });
    await expect(apply({ rules: rules('ALLOW', [{ any: true }], [{ requested_server_name: { exact: 'a.test' } }]) }))
      .rejects.toThrow(/policies\["MeshTrafficPermission"\]\.permissions\[0\]\.requested_server_name: permission is not supported/);
    await expect(apply({ rules: rules('ALLOW', [{ any: true }], [{ header: { name: 'x', exact_match: 'y' } }]) }))
      .rejects.toThrow(/permissions\[0\]\.header: needs an HTTP request/);
    await expect(apply({ rules: rules('ALLOW', [{ metadata: { filter: 'f', path: [{ key: 'k' }], value: { present_match: true } } }]) }))
      .rejects.toThrow(/principals\[0\]\.metadata: principal is not supported/);
    await expect(apply({ rules: { action: 'LOG' } })).rejects.toThrow(/rules\.action: LOG is not supported/);
    await expect(apply({ shadow_rules: rules('DENY', [{ any: true }], [{ header: { name: 'x', exact_match: 'y' } }]) }))
      .rejects.toThrow(/\.shadow_rules\.policies\["MeshTrafficPermission"\]\.permissions\[0\]\.header: needs an HTTP request/);
    await expect(apply({ rules: rules('ALLOW', [{ any: true }]), matcher: {} })).rejects.toThrow(/\.matcher: field is not supported/);
    await expect(apply({ rules: rules('ALLOW', [{ direct_remote_ip: { address_prefix: 'nope' } }]) }))
      .rejects.toThrow(/direct_remote_ip\.address_prefix: nope is not an IP address/);
    await expect(apply({ rules: rules('ALLOW', []) })).rejects.toThrow(/principals: at least one principal is required/);
    await expect(apply({ stat_prefix: '', rules: rules('ALLOW', [{ any: true }]) })).rejects.toThrow(/stat_prefix: is required/);
    // Non-terminal: it cannot end a filter chain.
    await expect(engine.apply({ listeners: [listener('tcp', [networkRbac({})])] })).rejects.toThrow(/last network filter must be a terminal filter/);
  });
});

describe('RBAC HTTP filter', () => {
  function rbacHttpListener(name: string, rbac: Obj, cluster: string, extra: Obj = {}): Obj {
    return httpListener(name, { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster } }]) }, 0, {
      http_filters: [httpRbac(rbac), { name: 'envoy.filters.http.router', typed_config: packAny(T.router, {}) }],
      ...extra,
    });
  }

  it('answers 403 to denied requests and proxies allowed ones', async () => {
    const a = track(await startHttpServer('a'));
    const engine = track(new Engine());
    const allowPublic = rules('ALLOW', [{ any: true }], [
      { url_path: { path: { prefix: '/public' } } },
      { header: { name: 'x-allow', string_match: { exact: 'yes' } } },
    ]);
    await engine.apply({ listeners: [rbacHttpListener('http', { rules: allowPublic }, 'a')], clusters: [staticCluster('a', [a.port])] });
    const port = engine.listenerPort('http') ?? 0;
    expect(await get(port, '/public/x?q=1')).toMatchObject({ status: 200, body: 'a /public/x?q=1' });
    const denied = await get(port, '/private');
    expect(denied.status).toBe(403);
    expect(denied.body).toBe('RBAC: access denied');
    expect(await get(port, '/private', { 'x-allow': 'yes' })).toMatchObject({ status: 200, body: 'a /private' });
    expect(stat(engine, 'http.http.rbac.allowed')).toBe(2);
    expect(stat(engine, 'http.http.rbac.denied')).toBe(1);
    expect(stat(engine, 'http.http.downstream_rq_4xx')).toBe(1);

    // Pseudo-headers can be matched too; rules_stat_prefix goes into the stat names.
    const denyDelete = rules('DENY', [{ any: true }], [{ header: { name: ':method', exact_match: 'DELETE' } }]);
    const shadow = rules('ALLOW', [{ any: true }], [{ header: { name: ':path', prefix_match: '/public' } }]);
    await engine.apply({ listeners: [rbacHttpListener('http', { rules: denyDelete, rules_stat_prefix: 'mtp.', shadow_rules: shadow }, 'a')] });
    expect((await get(port, '/x')).status).toBe(200);
    expect(stat(engine, 'http.http.rbac.shadow_denied')).toBe(1);
    const entry = engine.stats.all().find((s) => s.name === 'http.http.rbac.mtp.allowed');
    expect(entry?.counter.value).toBe(1);
    expect(entry?.tags).toEqual({ envoy_http_conn_manager_prefix: 'http', envoy_rbac_http_prefix: 'mtp' });
  });

  it('sees the client certificate of an mTLS connection', async () => {
    const a = track(await startHttpServer('a'));
    const engine = track(new Engine());
    const routes = { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]) };
    await engine.apply({
      listeners: [listener('https', [
        // Any verified client gets to HTTP (the network filter waits for the handshake) ...
        networkRbac({ rules: rules('ALLOW', [{ authenticated: {} }]) }),
        // ... where only spiffe://default/b is allowed.
        hcm('https', routes, {
          http_filters: [
            httpRbac({ rules: rules('ALLOW', [principalName({ safe_regex: { regex: 'spiffe://default/[b-z]' } })]) }),
            { name: 'envoy.filters.http.router', typed_config: packAny(T.router, {}) },
          ],
        }),
      ], downstreamMtls())],
      clusters: [staticCluster('a', [a.port])],
    });
    const port = engine.listenerPort('https') ?? 0;
    expect(await httpsGet(mtls(port, 'b'), '/x')).toEqual({ status: 200, body: 'a /x' });
    expect(await httpsGet(mtls(port, 'a'), '/x')).toEqual({ status: 403, body: 'RBAC: access denied' });
    expect(stat(engine, 'inbound.rbac.allowed')).toBe(2);
    expect(stat(engine, 'http.https.rbac.allowed')).toBe(1);
    expect(stat(engine, 'http.https.rbac.denied')).toBe(1);
  });

  it('rejects unsupported permissions and principals', async () => {
    const engine = track(new Engine());
    const apply = (rbac: Obj): Promise<void> => engine.apply({ listeners: [rbacHttpListener('http', rbac, 'a')] });
    await expect(apply({ rules: rules('ALLOW', [{ any: true }], [{ metadata: { filter: 'f', path: [{ key: 'k' }], value: { present_match: true } } }]) }))
      .rejects.toThrow(/http_filters\[0\]\.typed_config\.rules\.policies\["MeshTrafficPermission"\]\.permissions\[0\]\.metadata: permission is not supported/);
    await expect(apply({ rules: rules('ALLOW', [{ filter_state: { key: 'k', string_match: { exact: 'v' } } }]) }))
      .rejects.toThrow(/principals\[0\]\.filter_state: principal is not supported/);
    await expect(apply({ rules: rules('ALLOW', [{ any: true }]), track_per_rule_stats: true }))
      .rejects.toThrow(/track_per_rule_stats: field is not supported/);
  });
});

describe('sidecar to sidecar', () => {
  /** A cluster reaching `port` over mTLS with the certificate of `identity`, like a mesh outbound. */
  function mtlsCluster(name: string, port: number, identity: 'a' | 'b'): Obj {
    const { cert, key } = testCert(identity);
    return staticCluster(name, [port], {
      transport_socket: {
        name: 'tls',
        typed_config: packAny(T.upstreamTls, {
          sni: 'a.test',
          common_tls_context: {
            tls_certificates: [{ certificate_chain: { inline_string: cert }, private_key: { inline_string: key } }],
            validation_context: { trusted_ca: { inline_string: testCert('ca').cert } },
          },
        }),
      },
    });
  }

  it('enforces the inbound RBAC of another proxy for HTTP and TCP outbounds', async () => {
    const [web, echo] = [track(await startHttpServer('web')), track(await startTcpEcho('db'))];
    const inbound = track(new Engine());
    const onlyB = rules('ALLOW', [principalName({ exact: 'spiffe://default/b' })]);
    await inbound.apply({
      listeners: [
        listener('web', [hcm('web', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'web' } }]) }, {
          http_filters: [httpRbac({ rules: onlyB }), { name: 'envoy.filters.http.router', typed_config: packAny(T.router, {}) }],
        })], downstreamMtls()),
        listener('db', [networkRbac({ rules: onlyB }), tcpProxy('db')], downstreamMtls()),
      ],
      clusters: [staticCluster('web', [web.port]), staticCluster('db', [echo.port])],
    });
    const outbound = (identity: 'a' | 'b'): Obj[] => [
      mtlsCluster(`web-${identity}`, inbound.listenerPort('web') ?? 0, identity),
      mtlsCluster(`db-${identity}`, inbound.listenerPort('db') ?? 0, identity),
    ];
    const client = track(new Engine());
    await client.apply({
      listeners: (['a', 'b'] as const).flatMap((id) => [
        httpListener(`web-${id}`, { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: `web-${id}` } }]) }),
        listener(`db-${id}`, [tcpProxy(`db-${id}`)]),
      ]),
      clusters: [...outbound('a'), ...outbound('b')],
    });
    const port = (name: string): number => client.listenerPort(name) ?? 0;
    expect(await get(port('web-b'), '/hello')).toMatchObject({ status: 200, body: 'web /hello' });
    expect(await get(port('web-a'), '/hello')).toMatchObject({ status: 403, body: 'RBAC: access denied' });
    expect(await exchange(plain(port('db-b')), 'ping')).toBe('db:ping');
    // Refused: closed without a byte (a reset when the inbound's kernel still held the data).
    expect(['end', 'ECONNRESET']).toContain(await outcome(port('db-a'), 'ping'));
    expect(stat(inbound, 'inbound.rbac.denied')).toBe(1);
    expect(stat(inbound, 'http.web.rbac.denied')).toBe(1);
  });
});

describe('tcp_proxy', () => {
  it('passes an upstream reset on to the downstream as a reset', async () => {
    const resetting = net.createServer((socket) => socket.on('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => resetting.close(() => resolve())));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [listener('tcp', [tcpProxy('rst')])],
      clusters: [staticCluster('rst', [(resetting.address() as net.AddressInfo).port])],
    });
    expect(await outcome(engine.listenerPort('tcp') ?? 0, 'ping')).toBe('ECONNRESET');
  });
});

describe('peer certificate', () => {
  it('parses subject alternative names, quoted ones included', () => {
    expect(parseSubjectAltNames('DNS:a.test, URI:spiffe://default/a, IP Address:127.0.0.1')).toEqual([
      { type: 'DNS', value: 'a.test' },
      { type: 'URI', value: 'spiffe://default/a' },
      { type: 'IP Address', value: '127.0.0.1' },
    ]);
    expect(parseSubjectAltNames('URI:"http://x/a, b", DNS:b.test')).toEqual([
      { type: 'URI', value: 'http://x/a, b' },
      { type: 'DNS', value: 'b.test' },
    ]);
    expect(parseSubjectAltNames(undefined)).toEqual([]);
  });

  it('renders the subject as RFC 2253', () => {
    expect(rfc2253Subject('C=US\nO=Acme\\, Inc.\nCN=backend')).toBe('CN=backend,O=Acme\\, Inc.,C=US');
    expect(rfc2253Subject(undefined)).toBe('');
  });
});
