import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { cleanupTracker, decoded, get, httpListener, routeConfig, startHttpServer } from '../fixtures.js';

const { track, stopAll } = cleanupTracker();
afterEach(stopAll);

describe('STRICT_DNS clusters', () => {
  it('connect to a host name endpoint (MeshMetric collectors, external services by name)', async () => {
    const backend = track(await startHttpServer('named'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('app', { route_config: routeConfig('app', [{ match: { prefix: '/' }, route: { cluster: 'by-name' } }]) })],
      clusters: [decoded('clusters', {
        name: 'by-name',
        type: 'STRICT_DNS',
        connect_timeout: { seconds: 1 },
        load_assignment: { cluster_name: 'by-name', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'localhost', port_value: backend.port } } } }] }] },
      })],
    });
    const reply = await get(engine.listenerPort('app') ?? 0, '/x');
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('named');
    await expect(engine.apply({ clusters: [decoded('clusters', { name: 'bad', type: 'LOGICAL_DNS', connect_timeout: { seconds: 1 } })] })).rejects.toThrow(/LOGICAL_DNS/);
  });
});
