/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protos are inspected field by field */
import { Metadata } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { issueZoneToken } from '../auth/zone-tokens.js';
import { ResourceManager } from '../core/resource-manager.js';
import { TypeUrl, unpackAny } from '../envoy/protos.js';
import { createLogger } from '../observability/logger.js';
import { MeshCaManager } from '../pki/index.js';
import '../policies/index.js';
import { MemoryStore } from '../store/memory.js';
import { DataplaneSync } from './dataplane-sync.js';
import type { XdsNode } from './server/node.js';

const logger = createLogger('silent');
const mtls = { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] };

function workload(mesh: string, name: string, service: string, port: number) {
  return { type: 'Dataplane', mesh, name, labels: {}, spec: { networking: { address: '10.0.0.1', inbound: [{ port, servicePort: 80, tags: { 'kuma.io/service': service } }] } } };
}

const zoneIngress = { type: 'ZoneIngress', name: 'zi-1', networking: { address: '10.0.0.9', port: 10001, advertisedAddress: '203.0.113.9', advertisedPort: 10001 } };

function node(token: string, carried = true): XdsNode {
  return {
    id: 'zoneingress:zi-1',
    cluster: 'zi-1',
    metadata: { 'dataplane.proxyType': 'ingress', 'dataplane.token': token, ...(carried ? { 'dataplane.resource': JSON.stringify(zoneIngress) } : {}) },
    locality: { region: '', zone: '', sub_zone: '' },
    userAgentName: '',
    userAgentVersion: '',
  };
}

const info = { streamId: 1, protocol: 'delta' as const, peer: '' };

describe('legacy ZoneIngress on the xDS server', () => {
  let store: MemoryStore;
  let manager: ResourceManager;
  let sync: DataplaneSync;

  beforeEach(async () => {
    store = new MemoryStore();
    manager = new ResourceManager(store, { mode: 'zone', zone: 'zone-2', environment: 'universal', unsafeDelete: false }, logger);
    for (const mesh of ['default', 'other']) await manager.upsert({ type: 'Mesh', mesh: '', name: mesh, labels: {}, spec: { mtls } });
    sync = new DataplaneSync({ manager, logger, auth: 'dpToken', instanceId: 'test', caManager: new MeshCaManager(manager, logger), zone: 'zone-2', debounceMs: 1 });
    sync.start();
  });

  afterEach(async () => {
    await sync.stop();
  });

  const serverNames = () => {
    const l = sync.cache.getSnapshot('zoneingress:zi-1')?.resources.get(TypeUrl.Listener)?.get('zoneingress:zi-1');
    return l ? (unpackAny(l.any) as any).filter_chains.map((c: any) => c.filter_chain_match.server_names[0]) : [];
  };

  it('authenticates the stream with a zone token of scope ingress for this zone', async () => {
    const egressToken = await issueZoneToken(store, { zone: 'zone-2', scope: ['egress'], validForSeconds: 3600 });
    await expect(sync.hooks.onStreamOpen!(node(egressToken), new Metadata(), info)).rejects.toThrow("ingress is out of token's scope: [egress]");
    const otherZone = await issueZoneToken(store, { zone: 'zone-1', scope: ['ingress'], validForSeconds: 3600 });
    await expect(sync.hooks.onStreamOpen!(node(otherZone), new Metadata(), info)).rejects.toThrow('zone from requestor: zone-2 is different than in token: zone-1');
    expect(await manager.get('ZoneIngress', '', 'zi-1')).toBeUndefined();
    const token = await issueZoneToken(store, { zone: 'zone-2', scope: ['ingress'], validForSeconds: 3600 });
    // Without a stored or carried resource, there is nothing to serve.
    await expect(sync.hooks.onStreamOpen!(node(token, false), new Metadata(), info)).rejects.toThrow('ZoneIngress "zi-1" not found');
    // The proxy brings its resource back (CP restarted on a memory store): stored for this zone.
    await sync.hooks.onStreamOpen!(node(token), new Metadata(), info);
    const stored = await manager.get('ZoneIngress', '', 'zi-1');
    expect(stored?.spec['zone']).toBe('zone-2');
    expect(stored?.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-2' });
  });

  it('serves every mesh and follows changes in any of them; records a ZoneIngressInsight', async () => {
    await manager.upsert(workload('default', 'backend-1', 'backend', 7070));
    const token = await issueZoneToken(store, { zone: 'zone-2', scope: ['ingress'], validForSeconds: 3600 });
    await sync.hooks.onStreamOpen!(node(token), new Metadata(), info);
    await sync.hooks.onNodeConnected!(node(token));
    expect(serverNames()).toEqual(['sni.msvc.default.backend.7070']);

    await manager.upsert(workload('other', 'db-1', 'db', 5432));
    await vi.waitFor(() => expect(serverNames()).toEqual(['sni.msvc.default.backend.7070', 'sni.msvc.other.db.5432']));
    await manager.delete('Dataplane', 'default', 'backend-1');
    await vi.waitFor(() => expect(serverNames()).toEqual(['sni.msvc.other.db.5432']));

    sync.hooks.onNodeDisconnected!('zoneingress:zi-1');
    await sync.stop();
    const insight = await store.get({ type: 'ZoneIngressInsight', mesh: '', name: 'zi-1' });
    const subs = insight?.spec['subscriptions'] as { connectTime: string; disconnectTime?: string }[];
    expect(subs).toHaveLength(1);
    expect(subs[0]!.disconnectTime).toBeDefined();
  });
});
