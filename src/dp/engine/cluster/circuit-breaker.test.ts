import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { cleanupTracker, get, httpListener, routeConfig, startHttpServer, startTcpEcho, staticCluster, statValues, tcpProxyListener } from '../fixtures.js';
import type { Obj } from '../proto-values.js';

const { track, stopAll } = cleanupTracker();
afterEach(stopAll);

async function slowEngine(thresholds: Obj): Promise<{ engine: Engine; port: number }> {
  const slow = track(await startHttpServer('slow', 300));
  const engine = track(new Engine());
  await engine.apply({
    listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'slow' } }]) })],
    clusters: [staticCluster('slow', [slow.port], { circuit_breakers: { thresholds: [thresholds] } })],
  });
  return { engine, port: engine.listenerPort('http') ?? 0 };
}

describe('circuit breakers', () => {
  it('answers 503 x-envoy-overloaded beyond max_requests', async () => {
    const { engine, port } = await slowEngine({ max_requests: { value: 1 } });
    const replies = await Promise.all([get(port, '/'), get(port, '/'), get(port, '/')]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 503, 503]);
    const overflowed = replies.find((r) => r.status === 503);
    expect(overflowed?.headers['x-envoy-overloaded']).toBe('true');
    expect(overflowed?.body).toContain('reset reason: overflow');
    expect(statValues(engine.stats.all()).get('cluster.slow.upstream_rq_pending_overflow')).toBe(2);
  });

  it('queues requests beyond max_connections, up to max_pending_requests', async () => {
    const { engine, port } = await slowEngine({ max_connections: { value: 1 }, max_pending_requests: { value: 1 } });
    const started = Date.now();
    const replies = await Promise.all([get(port, '/a'), get(port, '/b'), get(port, '/c')]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 503]);
    // The queued request waited for the first to finish.
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    const stats = statValues(engine.stats.all());
    expect(stats.get('cluster.slow.upstream_rq_pending_overflow')).toBe(1);
    expect(stats.get('cluster.slow.upstream_cx_overflow')).toBe(1);
  });

  it('refuses tcp_proxy connections beyond max_connections', async () => {
    const echo = track(await startTcpEcho('echo'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [tcpProxyListener('tcp', 'echo')],
      clusters: [staticCluster('echo', [echo.port], { circuit_breakers: { thresholds: [{ max_connections: { value: 1 } }] } })],
    });
    const port = engine.listenerPort('tcp') ?? 0;
    const open = (): Promise<{ socket: net.Socket; reply: string }> => new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('hi'));
      socket.once('data', (d) => resolve({ socket, reply: String(d) }));
      socket.once('close', () => resolve({ socket, reply: '<closed>' }));
      socket.on('error', () => {});
    });
    const first = await open();
    expect(first.reply).toBe('echo:hi');
    expect((await open()).reply).toBe('<closed>');
    expect(statValues(engine.stats.all()).get('cluster.echo.upstream_cx_overflow')).toBe(1);
    first.socket.destroy();
  });

  it('track_remaining publishes the remaining capacity, live', async () => {
    const { engine, port } = await slowEngine({ max_requests: { value: 3 }, max_pending_requests: { value: 5 }, track_remaining: true });
    const remaining = () => statValues(engine.stats.all());
    expect(remaining().get('cluster.slow.circuit_breakers.default.remaining_rq')).toBe(3);
    expect(remaining().get('cluster.slow.circuit_breakers.default.remaining_pending')).toBe(5);
    expect(remaining().get('cluster.slow.circuit_breakers.default.remaining_retries')).toBe(3);
    let least = 3;
    const watch = setInterval(() => (least = Math.min(least, remaining().get('cluster.slow.circuit_breakers.default.remaining_rq') ?? 3)), 10);
    await Promise.all([get(port, '/a'), get(port, '/b')]); // both in flight at the slow server (300 ms)
    clearInterval(watch);
    expect(least).toBe(1);
    expect(remaining().get('cluster.slow.circuit_breakers.default.remaining_rq')).toBe(3);
  });

  it('max_connection_pools: an idle host may not start a pool while that many hosts are busy', async () => {
    const one = track(await startHttpServer('one', 1500));
    const two = track(await startHttpServer('two', 1500));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'pair' } }]) })],
      clusters: [staticCluster('pair', [one.port, two.port], { circuit_breakers: { thresholds: [{ max_connection_pools: { value: 1 }, track_remaining: true }] } })],
    });
    const port = engine.listenerPort('http') ?? 0;
    // Round robin: the 1st request busies one host, the 2nd would need the other's pool, the 3rd
    // goes back to the busy one.
    const first = get(port, '/');
    let remaining = Infinity;
    const watch = setInterval(() => (remaining = Math.min(remaining, statValues(engine.stats.all()).get('cluster.pair.circuit_breakers.default.remaining_cx_pools') ?? Infinity)), 10);
    const replies = await Promise.all([first, new Promise((r) => setTimeout(r, 50)).then(() => get(port, '/')), new Promise((r) => setTimeout(r, 100)).then(() => get(port, '/'))]);
    clearInterval(watch);
    expect(replies.map((r) => r.status)).toEqual([200, 503, 200]);
    expect(replies[1]?.headers['x-envoy-overloaded']).toBe('true');
    expect(new Set([replies[0]?.body, replies[2]?.body]).size).toBe(1);
    expect(statValues(engine.stats.all()).get('cluster.pair.upstream_cx_pool_overflow')).toBe(1);
    expect(remaining).toBe(0);
  });
});

