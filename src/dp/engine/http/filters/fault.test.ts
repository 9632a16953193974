import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../../../envoy/protos.js';
import { Engine } from '../../engine.js';
import { T, cleanupTracker, get, httpListenerWithFilters, listen, routeConfig, startHttpServer, staticCluster, statValues } from '../../fixtures.js';
import type { Obj } from '../../proto-values.js';

const { track, stopAll } = cleanupTracker();
afterEach(stopAll);

const percent = (numerator: number, denominator = 'HUNDRED'): Obj => ({ numerator, denominator });

async function faultEngine(filterConfig: Obj, routes: Obj[], backendPort: number): Promise<{ engine: Engine; port: number }> {
  const engine = track(new Engine());
  await engine.apply({
    listeners: [httpListenerWithFilters('http', routeConfig('rc', routes), [{ name: 'envoy.filters.http.fault', type: T.fault, config: filterConfig }])],
    clusters: [staticCluster('a', [backendPort])],
  });
  return { engine, port: engine.listenerPort('http') ?? 0 };
}

describe('HTTP fault filter', () => {
  it('aborts all matching requests and counts them', async () => {
    const backend = track(await startHttpServer('a'));
    const { engine, port } = await faultEngine(
      { abort: { http_status: 503, percentage: percent(1_000_000, 'MILLION') }, headers: [{ name: 'x-kuma-tags', string_match: { contains: 'web' } }] },
      [{ match: { prefix: '/' }, route: { cluster: 'a' } }],
      backend.port,
    );
    const aborted = await get(port, '/', { 'x-kuma-tags': '&kuma.io/service=web&' });
    expect(aborted.status).toBe(503);
    expect(aborted.body).toBe('fault filter abort');
    expect((await get(port, '/', { 'x-kuma-tags': '&kuma.io/service=other&' })).body).toBe('a /');
    expect((await get(port, '/')).body).toBe('a /');
    expect(statValues(engine.stats.all()).get('http.http.fault.aborts_injected')).toBe(1);
  });

  it('injects a fixed delay before forwarding, and honours percentages', async () => {
    const backend = track(await startHttpServer('a'));
    const { engine, port } = await faultEngine(
      { delay: { fixed_delay: { nanos: 300_000_000 }, percentage: percent(100) }, abort: { http_status: 500, percentage: percent(0) } },
      [{ match: { prefix: '/' }, route: { cluster: 'a' } }],
      backend.port,
    );
    const started = Date.now();
    expect((await get(port, '/')).body).toBe('a /');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const stats = statValues(engine.stats.all());
    expect(stats.get('http.http.fault.delays_injected')).toBe(1);
    expect(stats.get('http.http.fault.aborts_injected')).toBe(0);
  });

  it('aborts about half the requests at 50%', async () => {
    const backend = track(await startHttpServer('a'));
    const { port } = await faultEngine({ abort: { http_status: 418, percentage: percent(5000, 'TEN_THOUSAND') } }, [{ match: { prefix: '/' }, route: { cluster: 'a' } }], backend.port);
    let aborted = 0;
    for (let i = 0; i < 200; i++) if ((await get(port, '/')).status === 418) aborted++;
    expect(aborted).toBeGreaterThan(60);
    expect(aborted).toBeLessThan(140);
  });

  it('takes a route override from typed_per_filter_config', async () => {
    const backend = track(await startHttpServer('a'));
    const { port } = await faultEngine({ abort: { http_status: 500, percentage: percent(100) } }, [
      { match: { prefix: '/teapot' }, route: { cluster: 'a' }, typed_per_filter_config: {
        'envoy.filters.http.fault': packAny(T.fault, { abort: { http_status: 418, percentage: percent(100) } }),
      } },
      { match: { prefix: '/' }, route: { cluster: 'a' } },
    ], backend.port);
    expect((await get(port, '/teapot')).status).toBe(418);
    expect((await get(port, '/')).status).toBe(500);
  });

  it('limits the response body rate', async () => {
    const big = Buffer.alloc(4096, 'x');
    const server = track(await listen(http.createServer((_req, res) => res.end(big))));
    const { engine, port } = await faultEngine({ response_rate_limit: { fixed_limit: { limit_kbps: 8 }, percentage: percent(100) } }, [{ match: { prefix: '/' }, route: { cluster: 'a' } }], server.port);
    const started = Date.now();
    const reply = await get(port, '/');
    expect(reply.body.length).toBe(4096);
    // 4 KiB at 8 KiB/s takes about half a second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(statValues(engine.stats.all()).get('http.http.fault.response_rl_injected')).toBe(1);
  });

  it('rejects header-controlled faults', async () => {
    const engine = track(new Engine());
    await expect(engine.apply({
      listeners: [httpListenerWithFilters('http', routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]), [{ name: 'f', type: T.fault, config: { abort: { header_abort: {} } } }])],
    })).rejects.toThrow(/abort.header_abort: field is not supported/);
  });
});
