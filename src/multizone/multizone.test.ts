import { describe, expect, it, vi } from 'vitest';
import '../api/index.js';
import '../policies/index.js';
import { MemoryStore } from '../store/memory.js';
import { createLogger } from '../observability/logger.js';
import { generateRsaKeyPem } from '../auth/signing-keys.js';
import type { Resource } from '../api/resource.js';
import { computeDelta } from './diff.js';
import { OutboundSession, storeKeyId, storeVersion, type OutboundSource } from './outbound.js';
import type { SyncMessage } from './protocol.js';
import {
  globalOutbound,
  globalToZoneTypes,
  hashedName,
  mapKeyOnGlobal,
  mapKeyOnZone,
  mapOnGlobal,
  mapOnZone,
  isRemoteOnZone,
  syncedOnZone,
  zoneOutbound,
  zoneToZoneTypes,
  zoneToGlobalTypes,
  type WireResource,
} from './naming.js';
import { SyncReceiver } from './receiver.js';
import { parseGlobalAddress } from './zone-client.js';
import { authenticateZone } from './global-server.js';
import * as grpc from '@grpc/grpc-js';

const logger = createLogger('silent');

function res(type: string, mesh: string, name: string, labels: Record<string, string> = {}, spec: Record<string, unknown> = {}): Resource {
  const t = '2026-01-01T00:00:00.000Z';
  return { type, mesh, name, labels, spec, creationTime: t, modificationTime: t, version: 1 };
}

describe('KDS naming', () => {
  it('matches Kuma hash suffix test vector', () => {
    expect(hashedName('default', 'default-timeout-global', {})).toBe('default-timeout-global-54dbd4c66zwbcf9c');
  });

  it('includes the zone label in the hash and truncates long names', () => {
    const a = hashedName('default', 'dp-1', { 'kuma.io/zone': 'zone-1' });
    const b = hashedName('default', 'dp-1', { 'kuma.io/zone': 'zone-2' });
    expect(a).not.toBe(b);
    expect(a).toMatch(/^dp-1-[bcdfghjklmnpqrstvwxz2456789]{16}$/);
    expect(hashedName('m', 'x'.repeat(300), {}).length).toBe(236 + 17);
  });

  it('types: global sends meshes, policies, secrets; zones send proxies and insights', () => {
    const g2z = globalToZoneTypes();
    expect(g2z[0]).toBe('Mesh');
    expect(g2z).toEqual(expect.arrayContaining(['Mesh', 'MeshTrafficPermission', 'Secret', 'GlobalSecret']));
    expect(g2z).not.toContain('Zone');
    expect(g2z).not.toContain('ZoneInsight');
    expect(g2z).not.toContain('Dataplane');
    const z2g = zoneToGlobalTypes();
    expect(z2g).toEqual(expect.arrayContaining(['Dataplane', 'DataplaneInsight', 'ZoneIngress', 'ZoneEgress']));
    expect(z2g).not.toContain('Secret');
    expect(z2g).not.toContain('ZoneInsight');
    expect(z2g).not.toContain('Mesh');
  });

  it('maps zone resources on global: forced labels and hashed name', () => {
    const w = mapOnGlobal(
      { type: 'Dataplane', mesh: 'm', name: 'dp-1', labels: { 'kuma.io/zone': 'evil', 'kuma.io/origin': 'global' }, spec: { networking: { gateway: { tags: { 'kuma.io/zone': 'evil' } } } } },
      'zone-1',
    );
    expect(w.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1', 'kuma.io/display-name': 'dp-1' });
    expect(w.name).toBe(hashedName('m', 'dp-1', { 'kuma.io/zone': 'zone-1' }));
    expect((w.spec as { networking: { gateway: { tags: Record<string, string> } } }).networking.gateway.tags['kuma.io/zone']).toBe('zone-1');
    expect(mapKeyOnGlobal({ type: 'Dataplane', mesh: 'm', name: 'dp-1' }, 'zone-1').name).toBe(w.name);
  });

  it('maps global resources on zones: origin global, hash except Mesh/Secret', () => {
    const mtp = mapOnZone({ type: 'MeshTrafficPermission', mesh: 'default', name: 'default-timeout-global', labels: {}, spec: {} });
    expect(mtp.name).toBe('default-timeout-global-54dbd4c66zwbcf9c');
    expect(mtp.labels).toEqual({ 'kuma.io/origin': 'global', 'kuma.io/display-name': 'default-timeout-global' });
    expect(mapKeyOnZone({ type: 'MeshTrafficPermission', mesh: 'default', name: 'default-timeout-global' }).name).toBe(mtp.name);
    expect(mapOnZone({ type: 'Mesh', mesh: '', name: 'm', labels: {}, spec: {} }).name).toBe('m');
    expect(mapOnZone({ type: 'Secret', mesh: 'm', name: 'm.ca-builtin-cert-ca-1', labels: {}, spec: {} }).name).toBe('m.ca-builtin-cert-ca-1');
  });

  it('global filter: no zone-originated, no global-only secrets, zone-token keys become public', () => {
    const toPub = () => 'PUB';
    expect(globalOutbound(res('Dataplane', 'm', 'd', { 'kuma.io/origin': 'zone' }), toPub)).toBeUndefined();
    expect(globalOutbound(res('GlobalSecret', '', 'admin-user-token'), toPub)).toBeUndefined();
    expect(globalOutbound(res('GlobalSecret', '', 'user-token-signing-key-1'), toPub)).toBeUndefined();
    const zk = globalOutbound(res('GlobalSecret', '', 'zone-token-signing-key-1', {}, { data: 'PRIV' }), toPub);
    expect(zk).toMatchObject({ name: 'zone-token-signing-public-key-1', spec: { data: 'PUB' }, labels: { 'kuma.io/origin': 'global' } });
    expect(globalOutbound(res('Mesh', '', 'm'), toPub)?.labels['kuma.io/origin']).toBe('global');
    expect(generateRsaKeyPem()).toContain('PRIVATE KEY');
  });

  it('zone filter: only locally originated', () => {
    expect(zoneOutbound(res('MeshTrafficPermission', 'm', 'x', { 'kuma.io/origin': 'global' }))).toBeUndefined();
    expect(zoneOutbound(res('Dataplane', 'm', 'x', { 'kuma.io/origin': 'zone' }))).toBeDefined();
  });

  it('parses global addresses', () => {
    expect(parseGlobalAddress('grpcs://127.0.0.1:5685')).toEqual({ target: '127.0.0.1:5685', tls: true });
    expect(parseGlobalAddress('grpc://g:1')).toEqual({ target: 'g:1', tls: false });
    expect(() => parseGlobalAddress('http://g:1')).toThrow('unsupported scheme "http" in global address http://g:1. Use one of [grpc grpcs]');
  });

  it('authenticateZone reads client-id and the token, and runs the hook', async () => {
    const md = new grpc.Metadata();
    md.set('client-id', 'zone-1');
    md.set('authorization', 'Bearer abc');
    const id = await authenticateZone(md);
    expect(id).toMatchObject({ zone: 'zone-1', token: 'abc' });
    await expect(authenticateZone(md, async () => Promise.reject(new Error('bad token')))).rejects.toThrow('bad token');
    await expect(authenticateZone(new grpc.Metadata())).rejects.toThrow('client-id');
  });
});

describe('KDS diff', () => {
  const w = (name: string, spec: Record<string, unknown> = {}): WireResource => ({ type: 'Mesh', mesh: '', name, labels: {}, spec });

  it('sends everything first, then only changes and removals', () => {
    const first = computeDelta(new Map(), [w('a'), w('b')]);
    expect(first.upserts.map((x) => x.name)).toEqual(['a', 'b']);
    expect(first.removals).toEqual([]);
    const same = computeDelta(first.next, [w('a'), w('b')]);
    expect(same.upserts).toEqual([]);
    expect(same.removals).toEqual([]);
    const changed = computeDelta(first.next, [w('a', { mtls: {} })]);
    expect(changed.upserts.map((x) => x.name)).toEqual(['a']);
    expect(changed.removals).toEqual([{ type: 'Mesh', mesh: '', name: 'b' }]);
  });

  it('is insensitive to key order', () => {
    const a = computeDelta(new Map(), [w('a', { x: 1, y: 2 })]);
    expect(computeDelta(a.next, [w('a', { y: 2, x: 1 })]).upserts).toEqual([]);
  });
});

describe('KDS outbound session', () => {
  it('sends the full set first, then only the resources named in change events', async () => {
    const store = new MemoryStore();
    await store.create({ type: 'Mesh', mesh: '', name: 'a', labels: {}, spec: {} });
    await store.create({ type: 'Mesh', mesh: '', name: 'b', labels: {}, spec: {} });
    const reads: string[] = [];
    const toEntry = (r: Resource) => {
      const w = zoneOutbound(r, 'z1');
      return w && { id: storeKeyId(r), wire: w, version: storeVersion(r) };
    };
    const source: OutboundSource = {
      all: async () => (await store.list('Mesh')).flatMap((r) => toEntry(r) ?? []),
      some: async (keys) => {
        const out = [];
        for (const k of keys) {
          reads.push(k.name);
          const r = await store.get(k);
          const e = r && toEntry(r);
          if (e) out.push(e);
        }
        return out;
      },
    };
    const sent: SyncMessage[] = [];
    const session = new OutboundSession((m) => sent.push(m), source, logger, 5);
    const unwatch = store.watch((e) => session.schedule(e));
    const settle = () => new Promise((r) => setTimeout(r, 40));
    session.start();
    await settle();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.full).toBe(true);
    expect(sent[0]!.upserts!.map((x) => x.name)).toEqual(['a', 'b']);

    const a = (await store.get({ type: 'Mesh', mesh: '', name: 'a' }))!;
    await store.update({ ...a, spec: { mtls: {} } });
    await store.delete({ type: 'Mesh', mesh: '', name: 'b' });
    await store.create({ type: 'Mesh', mesh: '', name: 'g', labels: { 'kuma.io/origin': 'global' }, spec: {} });
    await settle();
    expect(sent).toHaveLength(2);
    expect(sent[1]!.full).toBe(false);
    expect(sent[1]!.upserts!.map((x) => x.name)).toEqual(['a']);
    expect(sent[1]!.removals).toEqual([{ type: 'Mesh', mesh: '', name: 'b' }]);
    expect(reads.sort()).toEqual(['a', 'b', 'g']);

    // A key named again without a change sends nothing.
    session.schedule({ type: 'Mesh', mesh: '', name: 'a' });
    await settle();
    expect(sent).toHaveLength(2);
    unwatch();
    session.close();
  });
});

describe('KDS receiver', () => {
  it('applies full sets idempotently, removes stale synced resources, keeps local ones', async () => {
    const store = new MemoryStore();
    const receiver = new SyncReceiver({ store, types: globalToZoneTypes(), scope: { 'kuma.io/origin': 'global' }, mapResource: mapOnZone, mapKey: mapKeyOnZone, logger });
    await store.create({ type: 'Mesh', mesh: '', name: 'local', labels: {}, spec: {} });
    const mesh: WireResource = { type: 'Mesh', mesh: '', name: 'm', labels: { 'kuma.io/origin': 'global' }, spec: {} };
    const mtp: WireResource = { type: 'MeshTrafficPermission', mesh: 'm', name: 'allow', labels: { 'kuma.io/origin': 'global', 'kuma.io/mesh': 'm' }, spec: { targetRef: { kind: 'Mesh' } } };
    const r1 = await receiver.apply({ full: true, upserts: [mtp, mesh] });
    expect(r1.upserted).toBe(2);
    const r2 = await receiver.apply({ full: true, upserts: [mesh, mtp] });
    expect(r2.upserted).toBe(0);
    const stored = await store.list('MeshTrafficPermission');
    expect(stored.map((r) => r.name)).toEqual([hashedName('m', 'allow', {})]);
    // A conflicting local mesh is never overwritten.
    await receiver.apply({ upserts: [{ ...mesh, name: 'local', spec: { mtls: {} } }] });
    expect((await store.get({ type: 'Mesh', mesh: '', name: 'local' }))?.spec).toEqual({});
    // Full set without the MTP: it goes; the local mesh stays.
    const r3 = await receiver.apply({ full: true, upserts: [mesh] });
    expect(r3.removed).toBe(1);
    expect(await store.list('MeshTrafficPermission')).toEqual([]);
    expect((await store.list('Mesh')).map((r) => r.name)).toEqual(['local', 'm']);
    // Delta removal by the sender's name.
    await receiver.apply({ removals: [{ type: 'Mesh', mesh: '', name: 'm' }] });
    expect((await store.list('Mesh')).map((r) => r.name)).toEqual(['local']);
  });

  it('scopes removals on global to the sending zone', async () => {
    const store = new MemoryStore();
    const mk = (zone: string) =>
      new SyncReceiver({ store, types: zoneToGlobalTypes(), scope: { 'kuma.io/origin': 'zone', 'kuma.io/zone': zone }, mapResource: (w) => mapOnGlobal(w, zone), mapKey: (k) => mapKeyOnGlobal(k, zone), logger });
    const dp: WireResource = { type: 'Dataplane', mesh: 'm', name: 'dp-1', labels: { 'kuma.io/origin': 'zone' }, spec: { networking: { address: '10.0.0.1' } } };
    await mk('zone-1').apply({ full: true, upserts: [dp] });
    await mk('zone-2').apply({ full: true, upserts: [dp] });
    expect(await store.count('Dataplane')).toBe(2);
    await mk('zone-1').apply({ full: true, upserts: [] });
    const left = await store.list('Dataplane');
    expect(left.map((r) => r.labels['kuma.io/zone'])).toEqual(['zone-2']);
  });
});

describe('KDS zone-to-zone forwarding', () => {
  const remoteDp = (zone: string) =>
    res('Dataplane', 'm', hashedName('m', 'backend', { 'kuma.io/zone': zone }), { 'kuma.io/origin': 'zone', 'kuma.io/zone': zone, 'kuma.io/display-name': 'backend' }, { networking: { address: '10.0.0.2' } });

  it('global forwards other zones\' Dataplanes/ZoneIngresses, never echoing a zone its own', () => {
    expect(zoneToZoneTypes()).toEqual(['Dataplane', 'ZoneIngress', 'MeshService']);
    const dp = { ...remoteDp('zone-2'), status: { x: 1 } };
    const toPub = () => undefined;
    const w = globalOutbound(dp, toPub, 'zone-1');
    expect(w).toMatchObject({ name: dp.name, labels: { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-2' } });
    expect(w?.status).toBeUndefined();
    expect(globalOutbound(dp, toPub, 'zone-2')).toBeUndefined();
    expect(globalOutbound(dp, toPub)).toBeUndefined();
    expect(globalOutbound(res('DataplaneInsight', 'm', 'x', { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-2' }), toPub, 'zone-1')).toBeUndefined();
    expect(globalOutbound(res('ZoneIngress', '', 'zi', { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-2' }), toPub, 'zone-1')).toBeDefined();
  });

  it('a zone stores them under global\'s name as remote, and never sends them back', () => {
    const w = mapOnZone(globalOutbound(remoteDp('zone-2'), () => undefined, 'zone-1')!);
    expect(w.name).toBe(remoteDp('zone-2').name);
    expect(w.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-2' });
    expect(mapKeyOnZone({ type: 'Dataplane', mesh: 'm', name: w.name }).name).toBe(w.name);
    expect(zoneOutbound(remoteDp('zone-2'), 'zone-1')).toBeUndefined();
    expect(zoneOutbound(res('Dataplane', 'm', 'x', { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' }), 'zone-1')).toBeDefined();
    expect(syncedOnZone(remoteDp('zone-2'), 'zone-1')).toBe(true);
    expect(syncedOnZone(remoteDp('zone-1'), 'zone-1')).toBe(false);
  });

  it('the zone receiver resyncs remote Dataplanes and leaves local ones alone', async () => {
    const store = new MemoryStore();
    const receiver = new SyncReceiver({
      store, types: [...globalToZoneTypes(), ...zoneToZoneTypes()], scope: { 'kuma.io/origin': 'global' }, owns: (r) => syncedOnZone(r, 'zone-1'),
      mapResource: mapOnZone, mapKey: mapKeyOnZone, logger,
    });
    await store.create({ type: 'Dataplane', mesh: 'm', name: 'local', labels: { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' }, spec: {} });
    const mesh: WireResource = { type: 'Mesh', mesh: '', name: 'm', labels: { 'kuma.io/origin': 'global' }, spec: {} };
    const dp = globalOutbound(remoteDp('zone-2'), () => undefined, 'zone-1')!;
    await receiver.apply({ full: true, upserts: [mesh, dp] });
    expect((await store.list('Dataplane')).map((r) => r.name).sort()).toEqual([dp.name, 'local'].sort());
    await receiver.apply({ removals: [{ type: 'Dataplane', mesh: 'm', name: dp.name }] });
    expect((await store.list('Dataplane')).map((r) => r.name)).toEqual(['local']);
    await receiver.apply({ full: true, upserts: [mesh, dp] });
    await receiver.apply({ full: true, upserts: [mesh] });
    expect((await store.list('Dataplane')).map((r) => r.name)).toEqual(['local']);
  });

  it('keeps other zones\' resources through a grace period after a full resync that lacks them', async () => {
    const store = new MemoryStore();
    const receiver = new SyncReceiver({
      store, types: [...globalToZoneTypes(), ...zoneToZoneTypes()], scope: { 'kuma.io/origin': 'global' }, owns: (r) => syncedOnZone(r, 'zone-1'),
      mapResource: mapOnZone, mapKey: mapKeyOnZone, logger,
      deferredRemoval: { applies: (r) => isRemoteOnZone(r, 'zone-1'), graceMs: 150 },
    });
    const mesh: WireResource = { type: 'Mesh', mesh: '', name: 'm', labels: { 'kuma.io/origin': 'global' }, spec: {} };
    const dp2 = globalOutbound(remoteDp('zone-2'), () => undefined, 'zone-1')!;
    const dp3 = globalOutbound(remoteDp('zone-3'), () => undefined, 'zone-1')!;
    await receiver.apply({ full: true, upserts: [mesh, dp2, dp3] });
    // Global restarted empty: its first full set has neither; zone-2's comes back within the grace.
    await receiver.apply({ full: true, upserts: [mesh] });
    expect(await store.count('Dataplane')).toBe(2);
    await receiver.apply({ upserts: [dp2] });
    // After the grace period only what global sent again is left.
    await vi.waitFor(async () => expect((await store.list('Dataplane')).map((r) => r.name)).toEqual([dp2.name]), { timeout: 2000 });
    receiver.close();
  });
});

describe('KDS server and client in process', () => {
  it('syncs both ways over TLS and rejects zones the authenticator refuses', async () => {
    const { generateSelfSigned } = await import('../cp/dp-server-cert.js');
    const { startKdsServer } = await import('./global-server.js');
    const { startKdsClient } = await import('./zone-client.js');
    const { KdsClient } = await import('./protocol.js');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { certPem, keyPem } = await generateSelfSigned(['localhost', '127.0.0.1']);
    const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kds-')), 'ca.crt');
    fs.writeFileSync(caFile, certPem);

    const globalStore = new MemoryStore();
    const zoneStore = new MemoryStore();
    const server = await startKdsServer({
      store: globalStore, port: 0, host: '127.0.0.1', certPem, keyPem, instanceId: 'g-1', logger,
      authenticator: async (id) => {
        if (id.zone === 'bad') throw new Error('zone token required');
      },
    });
    const client = startKdsClient({ store: zoneStore, zone: 'zone-1', globalAddress: `grpcs://127.0.0.1:${server.port}`, rootCaFile: caFile, logger });
    try {
      await globalStore.create({ type: 'Mesh', mesh: '', name: 'm', labels: {}, spec: {} });
      await waitUntil(async () => (await globalStore.get({ type: 'Zone', mesh: '', name: 'zone-1' })) !== undefined);
      await zoneStore.create({ type: 'Dataplane', mesh: 'm', name: 'dp', labels: { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' }, spec: { networking: { address: '1.2.3.4' } } });
      await waitUntil(async () => (await globalStore.count('Dataplane')) === 1);
      expect(server.connectedZones()).toEqual(['zone-1']);
      await waitUntil(async () => (await zoneStore.get({ type: 'Mesh', mesh: '', name: 'm' }))?.labels['kuma.io/origin'] === 'global');
      await waitUntil(async () => client.synced());

      const md = new grpc.Metadata();
      md.set('client-id', 'bad');
      const raw = new KdsClient(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(Buffer.from(certPem)));
      const stream = (raw as unknown as { GlobalToZoneSync(md: grpc.Metadata): grpc.ClientDuplexStream<unknown, unknown> }).GlobalToZoneSync(md);
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        stream.on('error', resolve);
        stream.on('data', () => undefined);
      });
      expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(err.details).toContain('zone token required');
      raw.close();
    } finally {
      await client.stop();
      await server.close();
    }
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
