import { Metadata } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ResourceManager } from '../core/resource-manager.js';
import { TypeUrl, unpackAny } from '../envoy/protos.js';
import { createLogger } from '../observability/logger.js';
import { MeshCaManager } from '../pki/index.js';
import '../policies/index.js';
import { MemoryStore } from '../store/memory.js';
import type { Snapshot } from './cache/snapshot.js';
import { DataplaneSync } from './dataplane-sync.js';
import { ProxySnapshots } from './generator/proxy-snapshots.js';
import type { XdsNode } from './server/node.js';

const logger = createLogger('silent');

function dataplane(name: string, address: string, service: string, outbound: string[] = []) {
  return {
    type: 'Dataplane',
    mesh: 'default',
    name,
    labels: {},
    spec: {
      networking: {
        address,
        inbound: [{ port: 8080, servicePort: 80, tags: { 'kuma.io/service': service, 'kuma.io/protocol': 'http' } }],
        outbound: outbound.map((s, i) => ({ port: 10_001 + i, tags: { 'kuma.io/service': s } })),
      },
    },
  };
}

function node(name: string): XdsNode {
  return { id: `default.${name}`, cluster: '', metadata: {}, locality: { region: '', zone: '', sub_zone: '' }, userAgentName: '', userAgentVersion: '' };
}

function endpoints(snapshot: Snapshot | undefined, service: string): string[] {
  const cla = snapshot?.resources.get(TypeUrl.ClusterLoadAssignment)?.get(service);
  if (!cla) return [];
  const decoded = unpackAny(cla.any) as { endpoints?: { lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[] };
  return (decoded.endpoints ?? []).flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address));
}

describe('DataplaneSync', () => {
  let store: MemoryStore;
  let manager: ResourceManager;
  let sync: DataplaneSync;

  beforeEach(async () => {
    store = new MemoryStore();
    manager = new ResourceManager(store, { mode: 'standalone', zone: '', environment: 'universal', unsafeDelete: false }, logger);
    await manager.ensureDefaultMesh();
    sync = new DataplaneSync({ manager, logger, auth: 'none', instanceId: 'test', caManager: new MeshCaManager(manager, logger), debounceMs: 1 });
    sync.start();
  });

  afterEach(async () => {
    await sync.stop();
  });

  async function connect(name: string): Promise<void> {
    await sync.hooks.onStreamOpen!(node(name), new Metadata(), { streamId: 1, protocol: 'delta', peer: '' });
    await sync.hooks.onNodeConnected!(node(name));
  }

  it('follows Dataplane changes, reading only the changed ones and keeping what did not change', async () => {
    await manager.upsert(dataplane('web-1', '10.0.0.1', 'web', ['backend']));
    await manager.upsert(dataplane('backend-1', '10.0.0.2', 'backend'));
    await connect('web-1');
    const first = sync.cache.getSnapshot('default.web-1');
    expect(endpoints(first, 'backend')).toEqual(['10.0.0.2']);

    await manager.upsert(dataplane('backend-2', '10.0.0.3', 'backend'));
    // (Spied from here: the regeneration runs after the debounce.)
    const list = vi.spyOn(store, 'list');
    const get = vi.spyOn(store, 'get');
    await vi.waitFor(() => expect(endpoints(sync.cache.getSnapshot('default.web-1'), 'backend')).toEqual(['10.0.0.2', '10.0.0.3']));
    const second = sync.cache.getSnapshot('default.web-1')!;
    expect(second.resources.get(TypeUrl.Listener)).toBe(first!.resources.get(TypeUrl.Listener));
    expect(second.resources.get(TypeUrl.Cluster)).toBe(first!.resources.get(TypeUrl.Cluster));
    expect(list.mock.calls.filter(([type]) => type === 'Dataplane')).toEqual([]);
    expect(get.mock.calls.filter(([key]) => key.type === 'Dataplane').map(([key]) => key.name)).toEqual(['backend-2']);

    await manager.delete('Dataplane', 'default', 'backend-1');
    await vi.waitFor(() => expect(endpoints(sync.cache.getSnapshot('default.web-1'), 'backend')).toEqual(['10.0.0.3']));

    // Its own Dataplane changes: regenerated.
    await manager.upsert(dataplane('web-1', '10.0.0.1', 'web', ['backend', 'db']));
    await vi.waitFor(() => expect(sync.cache.getSnapshot('default.web-1')!.resources.get(TypeUrl.Cluster)!.has('db')).toBe(true));
  });

  it('visits only the proxies a Dataplane change concerns, and every proxy on a mesh-wide change', async () => {
    await manager.upsert(dataplane('web-1', '10.0.0.1', 'web', ['backend']));
    await manager.upsert(dataplane('db-client-1', '10.0.0.2', 'db-client', ['db']));
    await manager.upsert(dataplane('backend-1', '10.0.0.3', 'backend'));
    await connect('web-1');
    await connect('db-client-1');
    await connect('backend-1');
    const build = vi.spyOn(ProxySnapshots.prototype, 'build');

    await manager.upsert(dataplane('backend-2', '10.0.0.4', 'backend'));
    await vi.waitFor(() => expect(endpoints(sync.cache.getSnapshot('default.web-1'), 'backend')).toEqual(['10.0.0.3', '10.0.0.4']));
    expect(build.mock.calls.map(([nodeId]) => nodeId)).toEqual(['default.web-1']);

    build.mockClear();
    await manager.upsert({ type: 'MeshTrafficPermission', mesh: 'default', name: 'allow-all', labels: {}, spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] } });
    await vi.waitFor(() => expect(build.mock.calls.map(([nodeId]) => nodeId).sort()).toEqual(['default.backend-1', 'default.db-client-1', 'default.web-1']));

    // The db service appears: its consumer gets endpoints.
    build.mockClear();
    await manager.upsert(dataplane('db-1', '10.0.0.5', 'db'));
    await vi.waitFor(() => expect(endpoints(sync.cache.getSnapshot('default.db-client-1'), 'db')).toEqual(['10.0.0.5']));
    expect(build.mock.calls.map(([nodeId]) => nodeId)).toEqual(['default.db-client-1']);
    build.mockRestore();
  });

  it('keeps configuring the other proxies when one Dataplane cannot be generated', async () => {
    await manager.upsert(dataplane('a-1', '10.0.0.1', 'a', ['backend']));
    await manager.upsert(dataplane('web-1', '10.0.0.2', 'web', ['backend']));
    await connect('a-1');
    await connect('web-1');
    // Two inbounds on one address and port: two listeners with one name.
    const broken = dataplane('a-1', '10.0.0.1', 'a', ['backend']);
    broken.spec.networking.inbound.push({ ...broken.spec.networking.inbound[0]!, servicePort: 81 });
    await manager.upsert(broken);
    await manager.upsert(dataplane('backend-1', '10.0.0.3', 'backend'));
    await vi.waitFor(() => expect(endpoints(sync.cache.getSnapshot('default.web-1'), 'backend')).toEqual(['10.0.0.3']));
  });

  it('configures a zone ingress for the services of its zone (the CP zone from options) as they come', async () => {
    await sync.stop();
    sync = new DataplaneSync({ manager, logger, auth: 'none', instanceId: 'test', caManager: new MeshCaManager(manager, logger), debounceMs: 1, zone: 'zone-1' });
    sync.start();
    const inZone1 = (dp: ReturnType<typeof dataplane>) => ({ ...dp, labels: { 'kuma.io/zone': 'zone-1' } });
    await manager.upsert(inZone1(dataplane('backend-1', '10.0.0.3', 'backend')));
    await manager.upsert({ ...dataplane('remote-1', '10.1.0.3', 'remote'), labels: { 'kuma.io/zone': 'zone-2' } });
    await manager.upsert({
      type: 'Dataplane', mesh: 'default', name: 'ingress-1',
      labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress' },
      spec: { networking: { address: '10.0.0.9' } },
    });
    await connect('ingress-1');
    const chains = () => {
      const listener = sync.cache.getSnapshot('default.ingress-1')?.resources.get(TypeUrl.Listener)?.get('self_zoneingress_dp_10001');
      if (!listener) return [];
      return (unpackAny(listener.any) as { filter_chains: { filter_chain_match: { server_names: string[] } }[] }).filter_chains.map((c) => c.filter_chain_match.server_names[0]);
    };
    expect(chains()).toEqual(['sni.msvc.default.backend.8080']);
    expect(endpoints(sync.cache.getSnapshot('default.ingress-1'), 'ingress:backend')).toEqual(['10.0.0.3']);
    await manager.upsert(dataplane('db-1', '10.0.0.5', 'db'));
    await vi.waitFor(() => expect(chains()).toEqual(['sni.msvc.default.backend.8080', 'sni.msvc.default.db.8080']));
  });

  it('does not build a mesh context while no proxy of the mesh is connected', async () => {
    const list = vi.spyOn(store, 'list');
    for (let i = 0; i < 5; i++) await manager.upsert(dataplane(`backend-${i}`, `10.0.0.${i + 1}`, 'backend'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(list.mock.calls.filter(([type]) => type === 'Dataplane')).toEqual([]);
    await connect('backend-0');
    expect(sync.cache.getSnapshot('default.backend-0')).toBeDefined();
  });
});
