import { describe, expect, it } from 'vitest';
import { ResourceManager } from '../core/resource-manager.js';
import { createLogger } from '../observability/logger.js';
import { MemoryStore } from '../store/memory.js';
import { createInitialPolicies } from './initial-policies.js';

const logger = createLogger('silent');

async function meshWith(spec: Record<string, unknown>): Promise<ResourceManager> {
  const manager = new ResourceManager(new MemoryStore(), { mode: 'standalone', zone: '', environment: 'universal', unsafeDelete: false }, logger);
  manager.meshHooks.push((mesh, created) => (created ? createInitialPolicies(manager, mesh, logger) : Promise.resolve()));
  await manager.upsert({ type: 'Mesh', mesh: '', name: 'demo', labels: {}, spec });
  return manager;
}

async function names(manager: ResourceManager): Promise<string[]> {
  const out: string[] = [];
  for (const type of ['MeshTrafficPermission', 'MeshTimeout', 'MeshCircuitBreaker', 'MeshRetry']) {
    for (const r of await manager.list(type, { mesh: 'demo' })) out.push(`${type}/${r.name}`);
  }
  return out;
}

describe('initial policies of a new mesh', () => {
  it('creates Kuma 2.14 defaults (named after the mesh) and the allow-all permission', async () => {
    const manager = await meshWith({});
    expect(await names(manager)).toEqual([
      'MeshTrafficPermission/allow-all',
      'MeshTimeout/mesh-gateways-timeout-all-demo',
      'MeshTimeout/mesh-timeout-all-demo',
      'MeshCircuitBreaker/mesh-circuit-breaker-all-demo',
      'MeshRetry/mesh-retry-all-demo',
    ]);
    const timeout = await manager.get('MeshTimeout', 'demo', 'mesh-timeout-all-demo');
    expect(timeout?.spec).toEqual({
      targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] },
      from: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '10s', idleTimeout: '2h', http: { requestTimeout: '0s', streamIdleTimeout: '1h', maxStreamDuration: '0s' } } }],
      to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '5s', idleTimeout: '1h', http: { requestTimeout: '15s', streamIdleTimeout: '30m' } } }],
    });
    const gateways = await manager.get('MeshTimeout', 'demo', 'mesh-gateways-timeout-all-demo');
    expect(gateways?.spec).toMatchObject({ targetRef: { kind: 'Mesh', proxyTypes: ['Gateway'] }, from: [{ default: { idleTimeout: '5m', http: { streamIdleTimeout: '5s', requestHeadersTimeout: '500ms' } } }] });
    expect((await manager.get('MeshCircuitBreaker', 'demo', 'mesh-circuit-breaker-all-demo'))?.spec).toEqual({
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 } } }],
    });
    expect((await manager.get('MeshRetry', 'demo', 'mesh-retry-all-demo'))?.spec).toMatchObject({
      to: [{ default: { tcp: { maxConnectAttempt: 5 }, http: { numRetries: 5, perTryTimeout: '16s', backOff: { baseInterval: '25ms', maxInterval: '250ms' } } } }],
    });
  });

  it.each<[string[], string[]]>([
    [['*'], []],
    [['MeshTimeout'], ['MeshTrafficPermission/allow-all', 'MeshCircuitBreaker/mesh-circuit-breaker-all-demo', 'MeshRetry/mesh-retry-all-demo']],
    [['MeshRetry', 'MeshTrafficPermission'], ['MeshTimeout/mesh-gateways-timeout-all-demo', 'MeshTimeout/mesh-timeout-all-demo', 'MeshCircuitBreaker/mesh-circuit-breaker-all-demo']],
    [['mesh-gateways-timeout-all-demo'], ['MeshTrafficPermission/allow-all', 'MeshTimeout/mesh-timeout-all-demo', 'MeshCircuitBreaker/mesh-circuit-breaker-all-demo', 'MeshRetry/mesh-retry-all-demo']],
  ])('skipCreatingInitialPolicies %j', async (skip, want) => {
    expect(await names(await meshWith({ skipCreatingInitialPolicies: skip }))).toEqual(want);
  });

  it('does not recreate a deleted default when the mesh is updated', async () => {
    const manager = await meshWith({});
    await manager.delete('MeshRetry', 'demo', 'mesh-retry-all-demo');
    await manager.upsert({ type: 'Mesh', mesh: '', name: 'demo', labels: {}, spec: { skipCreatingInitialPolicies: [] } });
    expect(await manager.get('MeshRetry', 'demo', 'mesh-retry-all-demo')).toBeUndefined();
  });
});
