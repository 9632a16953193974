// Transparent proxying in the engine: use_original_dst hand-over, bind_to_port: false listeners and
// ORIGINAL_DST clusters. The kernel lookup (SO_ORIGINAL_DST) is faked here; test/e2e/passthrough.test.ts
// runs the real thing with iptables in a network namespace.
import net from 'node:net';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../envoy/protos.js';
import { Engine } from './engine.js';
import { T, decoded, socketAddress, staticCluster, startTcpEcho, type TestServer } from './fixtures.js';
import { restoreOriginalDst, setOriginalDstLookup, type OriginalDestination } from './listener/original-dst.js';
import type { ConnectionInfo } from './registry.js';
import type { Obj } from './proto-values.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  setOriginalDstLookup(undefined);
  while (cleanups.length) await cleanups.pop()?.();
});

function track<X extends TestServer | Engine>(thing: X): X {
  cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
  return thing;
}

interface Redirects {
  /** What the kernel reports for the next connections (null: not redirected). */
  to: OriginalDestination | null;
}

function fakeRedirects(): Redirects {
  const redirects: Redirects = { to: null };
  setOriginalDstLookup(() => redirects.to);
  return redirects;
}

function tcpProxy(statPrefix: string, cluster: string): Obj {
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: packAny(T.tcpProxy, { stat_prefix: statPrefix, cluster }) };
}

function listener(name: string, port: number, cluster: string, extra: Obj = {}, address = '127.0.0.1'): Obj {
  return decoded('listeners', { name, address: socketAddress(port, address), filter_chains: [{ filters: [tcpProxy(name, cluster)] }], ...extra });
}

function passthroughCluster(name = 'outbound:passthrough:ipv4', extra: Obj = {}): Obj {
  return decoded('clusters', { name, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: { seconds: 1 }, alt_stat_name: 'outbound_passthrough_ipv4', ...extra });
}

/** Connects to the engine's port as if the client had dialled `destination` and been redirected. */
function redirectedExchange(redirects: Redirects, enginePort: number, destination: OriginalDestination | null, message: string): Promise<string> {
  redirects.to = destination;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: enginePort, host: '127.0.0.1' });
    socket.once('connect', () => socket.write(message));
    let got = '';
    socket.on('data', (d) => {
      got += String(d);
      socket.end();
    });
    socket.once('close', () => (got ? resolve(got) : reject(new Error('closed without an answer'))));
    socket.once('error', reject);
  });
}

function counter(engine: Engine, name: string): number {
  return engine.stats.all().find((s) => s.name === name)?.counter.value ?? 0;
}

describe('transparent proxying (use_original_dst, ORIGINAL_DST)', () => {
  it('hands a redirected connection to the listener of its original destination, even unbound', async () => {
    const redirects = fakeRedirects();
    const echo = track(await startTcpEcho('mesh'));
    const engine = track(new Engine());
    const virtualPort = 1; // never bound: the outbound listener only gets handed-over connections
    await engine.apply({
      listeners: [
        listener('outbound:passthrough:ipv4', 0, 'outbound:passthrough:ipv4', { use_original_dst: { value: true } }),
        listener('outbound:127.0.0.1:1', virtualPort, 'mesh', { bind_to_port: { value: false } }),
      ],
      clusters: [passthroughCluster(), staticCluster('mesh', [echo.port])],
    });
    const port = engine.listenerPort('outbound:passthrough:ipv4') ?? 0;
    expect(await redirectedExchange(redirects, port, { address: '127.0.0.1', port: virtualPort }, 'hi')).toBe('mesh:hi');
    expect(counter(engine, 'cluster.mesh.upstream_cx_total')).toBe(1);
    expect(counter(engine, 'cluster.outbound_passthrough_ipv4.upstream_cx_total')).toBe(0);
    expect(counter(engine, 'listener.127.0.0.1_1.downstream_cx_total')).toBe(1);
  });

  it('falls back to a wildcard listener on the original port', async () => {
    const redirects = fakeRedirects();
    const echo = track(await startTcpEcho('wild'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [
        listener('pt', 0, 'outbound:passthrough:ipv4', { use_original_dst: { value: true } }),
        listener('wild', 7, 'wild', { bind_to_port: { value: false } }, '0.0.0.0'),
      ],
      clusters: [passthroughCluster(), staticCluster('wild', [echo.port])],
    });
    expect(await redirectedExchange(redirects, engine.listenerPort('pt') ?? 0, { address: '192.0.2.7', port: 7 }, 'x')).toBe('wild:x');
  });

  it('forwards other redirected connections to their original destination through an ORIGINAL_DST cluster', async () => {
    const redirects = fakeRedirects();
    const external = track(await startTcpEcho('external'));
    const other = track(await startTcpEcho('other'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [listener('pt', 0, 'outbound:passthrough:ipv4', { use_original_dst: { value: true } })],
      clusters: [passthroughCluster()],
    });
    const port = engine.listenerPort('pt') ?? 0;
    expect(await redirectedExchange(redirects, port, { address: '127.0.0.1', port: external.port }, 'a')).toBe('external:a');
    expect(await redirectedExchange(redirects, port, { address: '127.0.0.1', port: other.port }, 'b')).toBe('other:b');
    expect(await redirectedExchange(redirects, port, { address: '127.0.0.1', port: external.port }, 'c')).toBe('external:c');
    expect(counter(engine, 'cluster.outbound_passthrough_ipv4.upstream_cx_total')).toBe(3);
    expect(counter(engine, 'listener.127.0.0.1_0.downstream_cx_total')).toBe(3);
    const hosts = engine.clusters().find((c) => c.name === 'outbound:passthrough:ipv4')?.hosts.map((h) => h.port);
    expect(hosts?.sort()).toEqual([external.port, other.port].sort());
  });

  it('forgets idle ORIGINAL_DST hosts after cleanup_interval', async () => {
    const redirects = fakeRedirects();
    const a = track(await startTcpEcho('a'));
    const b = track(await startTcpEcho('b'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [listener('pt', 0, 'pt', { use_original_dst: { value: true } })],
      clusters: [passthroughCluster('pt', { cleanup_interval: { nanos: 50_000_000 } })],
    });
    const port = engine.listenerPort('pt') ?? 0;
    expect(await redirectedExchange(redirects, port, { address: '127.0.0.1', port: a.port }, '1')).toBe('a:1');
    await new Promise((r) => setTimeout(r, 120));
    expect(await redirectedExchange(redirects, port, { address: '127.0.0.1', port: b.port }, '2')).toBe('b:2');
    expect(engine.clusters()[0]?.hosts.map((h) => h.port)).toEqual([b.port]);
  });

  it('closes redirected connections when the passthrough cluster is absent (passthrough off) or there is no original destination', async () => {
    const redirects = fakeRedirects();
    const external = track(await startTcpEcho('external'));
    const engine = track(new Engine());
    // Kuma with passthrough off: the same listener, its cluster not sent.
    await engine.apply({ listeners: [listener('pt', 0, 'outbound:passthrough:ipv4', { use_original_dst: { value: true } })], clusters: [] });
    const port = engine.listenerPort('pt') ?? 0;
    await expect(redirectedExchange(redirects, port, { address: '127.0.0.1', port: external.port }, 'x')).rejects.toThrow();
    expect(counter(engine, 'tcp.pt.downstream_cx_no_route')).toBe(1);

    // With the cluster, but a connection that was not redirected: nowhere to go (never back to itself).
    await engine.apply({ listeners: [listener('pt', 0, 'outbound:passthrough:ipv4', { use_original_dst: { value: true } })], clusters: [passthroughCluster()] });
    const again = engine.listenerPort('pt') ?? 0;
    await expect(redirectedExchange(redirects, again, null, 'y')).rejects.toThrow();
    expect(counter(engine, 'cluster.outbound_passthrough_ipv4.upstream_cx_none_healthy')).toBe(1);
  });

  it('validates ORIGINAL_DST clusters', async () => {
    fakeRedirects();
    const engine = track(new Engine());
    await expect(engine.apply({ clusters: [passthroughCluster('x', { lb_policy: 'ROUND_ROBIN' })] })).rejects.toThrow(/lb_policy: ROUND_ROBIN is not valid for ORIGINAL_DST/);
    await expect(engine.apply({ clusters: [staticCluster('s', [1], { lb_policy: 'CLUSTER_PROVIDED' })] })).rejects.toThrow(/CLUSTER_PROVIDED is not valid for STATIC/);
    await expect(engine.apply({ clusters: [passthroughCluster('x', { load_assignment: { cluster_name: 'x', endpoints: [] } })] })).rejects.toThrow(/load_assignment/);
  });

  it('NACKs config that needs the original destination when the addon is missing, and runs the rest', async () => {
    setOriginalDstLookup('the optional native addon skein-original-dst is not built');
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    await expect(engine.apply({ listeners: [listener('pt', 0, 'pt', { use_original_dst: { value: true } })] })).rejects.toThrow(
      /Listener "pt"\.use_original_dst: .*skein-original-dst/,
    );
    await expect(engine.apply({ clusters: [passthroughCluster()] })).rejects.toThrow(/Cluster "outbound:passthrough:ipv4"\.type: ORIGINAL_DST: .*skein-original-dst/);
    await engine.apply({ listeners: [listener('plain', 0, 'echo')], clusters: [staticCluster('echo', [echo.port])] });
    expect(await redirectedExchange({ to: null }, engine.listenerPort('plain') ?? 0, null, 'ok')).toBe('echo:ok');
  });
});

const require = createRequire(import.meta.url);
const addon = ((): { originalDst(fd: number): OriginalDestination | null } | undefined => {
  try {
    return require('skein-original-dst') as { originalDst(fd: number): OriginalDestination | null };
  } catch {
    return undefined;
  }
})();

describe.skipIf(!addon || process.platform !== 'linux')('skein-original-dst addon', () => {
  it('checks its argument and reports nothing (or the real destination) for a connection that was not redirected', async () => {
    expect(() => addon!.originalDst('x' as unknown as number)).toThrow(TypeError);
    const server = net.createServer();
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    const socket = await accepted;
    cleanups.push(async () => {
      client.destroy();
      socket.destroy();
    });
    const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
    const result = addon!.originalDst(fd);
    // Without conntrack there is no entry (null); with it, the entry of an unNATed connection.
    if (result) expect(result).toEqual({ address: '127.0.0.1', port });
    // Either way it does not count as redirected.
    setOriginalDstLookup(undefined);
    const info: ConnectionInfo = { localPort: port, remoteAddress: '', transportProtocol: 'raw_buffer', serverName: '', applicationProtocols: [] };
    expect(restoreOriginalDst(socket, info)).toBeUndefined();
    expect(info.originalDestination).toBeUndefined();
  });
});
