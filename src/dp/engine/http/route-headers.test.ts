import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { get, httpListener, startHttpServer, staticCluster } from '../fixtures.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const header = (key: string, value: string) => ({ header: { key, value } });

describe('route and virtual host response_headers_to_add', () => {
  it('adds the route’s then the virtual host’s headers to forwarded and direct responses', async () => {
    const upstream = await startHttpServer('up');
    cleanups.push(() => upstream.close());
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const routeConfig = {
      name: 'rc',
      virtual_hosts: [{
        name: 'vh',
        domains: ['*'],
        response_headers_to_add: [header('x-vh', 'yes')],
        routes: [
          { match: { prefix: '/direct' }, direct_response: { status: 418 }, response_headers_to_add: [header('x-route', 'direct')] },
          { match: { prefix: '/' }, route: { cluster: 'up' }, response_headers_to_add: [{ ...header('x-route', 'forward'), append_action: 'APPEND_IF_EXISTS_OR_ADD' }] },
        ],
      }],
    };
    await engine.apply({ listeners: [httpListener('http', { route_config: routeConfig })], clusters: [staticCluster('up', [upstream.port])] });
    const port = engine.listenerPort('http') ?? 0;
    const forwarded = await get(port, '/a');
    expect(forwarded.status).toBe(200);
    expect(forwarded.headers).toMatchObject({ 'x-route': 'forward', 'x-vh': 'yes' });
    const direct = await get(port, '/direct');
    expect(direct.status).toBe(418);
    expect(direct.headers).toMatchObject({ 'x-route': 'direct', 'x-vh': 'yes' });
  });

  it('rejects replacing a header (only appending is supported)', async () => {
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    const routeConfig = { name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 }, response_headers_to_add: [{ ...header('x', '1'), append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] }] }] };
    await expect(engine.apply({ listeners: [httpListener('http', { route_config: routeConfig })] })).rejects.toThrow(/response_headers_to_add\[0\]\.append_action: OVERWRITE_IF_EXISTS_OR_ADD is not supported/);
  });
});
