import { describe, expect, it } from 'vitest';
import '../policies/index.js';
import { requireDescriptor } from '../api/descriptor.js';
import { ValidationError } from '../api/resource.js';
import { createLogger } from '../observability/logger.js';
import { MemoryStore } from '../store/memory.js';
import { MethodNotAllowedError } from './errors.js';
import { ResourceManager, type ManagerContext } from './resource-manager.js';
import {
  GLOBAL_READ_ONLY_MESSAGE,
  ZONE_READ_ONLY_MESSAGE,
  nameLengthViolations,
  originViolations,
  writeNotAllowed,
  type ScopeContext,
} from './scoping.js';

const standalone: ScopeContext = { mode: 'standalone' };
const global: ScopeContext = { mode: 'global' };
const zone: ScopeContext = { mode: 'zone', zone: 'zone-1' };
const federated: ScopeContext = { mode: 'zone', zone: 'zone-1', federated: true };
const d = requireDescriptor;

describe('writeNotAllowed', () => {
  it.each<[string, ScopeContext, string, string | undefined]>([
    ['standalone: Dataplane', standalone, 'Dataplane', undefined],
    ['standalone: Mesh', standalone, 'Mesh', undefined],
    ['standalone: MeshTrafficPermission', standalone, 'MeshTrafficPermission', undefined],
    ['standalone: insight is read-only', standalone, 'DataplaneInsight', ZONE_READ_ONLY_MESSAGE],
    ['global: Dataplane', global, 'Dataplane', GLOBAL_READ_ONLY_MESSAGE],
    ['global: ZoneIngress', global, 'ZoneIngress', GLOBAL_READ_ONLY_MESSAGE],
    ['global: ZoneEgress', global, 'ZoneEgress', GLOBAL_READ_ONLY_MESSAGE],
    ['global: insight', global, 'DataplaneInsight', GLOBAL_READ_ONLY_MESSAGE],
    ['global: Mesh', global, 'Mesh', undefined],
    ['global: MeshTrafficPermission', global, 'MeshTrafficPermission', undefined],
    ['global: Secret', global, 'Secret', undefined],
    ['global: Zone', global, 'Zone', undefined],
    ['unfederated zone: Mesh', zone, 'Mesh', undefined],
    ['federated zone: Mesh', federated, 'Mesh', ZONE_READ_ONLY_MESSAGE],
    ['federated zone: Dataplane', federated, 'Dataplane', undefined],
    ['federated zone: Secret', federated, 'Secret', undefined],
    ['federated zone: MeshTrafficPermission (origin rules decide)', federated, 'MeshTrafficPermission', undefined],
    ['federated zone: insight', federated, 'DataplaneInsight', ZONE_READ_ONLY_MESSAGE],
  ])('%s', (_name, ctx, type, expected) => {
    expect(writeNotAllowed(d(type), ctx)).toBe(expected);
  });

  it('apiServer.readOnly refuses everything with the mode message', () => {
    expect(writeNotAllowed(d('Mesh'), { ...standalone, apiReadOnly: true })).toBe(ZONE_READ_ONLY_MESSAGE);
    expect(writeNotAllowed(d('Mesh'), { ...global, apiReadOnly: true })).toBe(GLOBAL_READ_ONLY_MESSAGE);
  });

  it('federated needs zone mode', () => {
    expect(writeNotAllowed(d('Mesh'), { mode: 'standalone', federated: true })).toBeUndefined();
  });
});

describe('originViolations', () => {
  const mtp = d('MeshTrafficPermission');
  it('global: origin, when set, must be global', () => {
    expect(originViolations({}, mtp, global)).toEqual([]);
    expect(originViolations({ 'kuma.io/origin': 'global' }, mtp, global)).toEqual([]);
    expect(originViolations({ 'kuma.io/origin': 'zone' }, mtp, global)).toEqual([
      { field: 'labels["kuma.io/origin"]', reason: "the origin label must be set to 'global'" },
    ]);
  });

  it('federated zone: plugin kinds need origin zone, legacy kinds do not', () => {
    expect(originViolations({}, mtp, federated)).toEqual([{ field: 'labels["kuma.io/origin"]', reason: "the origin label must be set to 'zone'" }]);
    expect(originViolations({ 'kuma.io/origin': 'global' }, mtp, federated, '')).toEqual([
      { field: '["kuma.io/origin"]', reason: "the origin label must be set to 'zone'" },
    ]);
    expect(originViolations({ 'kuma.io/origin': 'zone' }, mtp, federated)).toEqual([]);
    expect(originViolations({}, d('Dataplane'), federated)).toEqual([]);
    expect(originViolations({}, mtp, zone)).toEqual([]);
    expect(originViolations({}, mtp, standalone)).toEqual([]);
  });

  it('can be disabled', () => {
    expect(originViolations({}, mtp, { ...federated, disableOriginLabelValidation: true })).toEqual([]);
  });
});

describe('nameLengthViolations', () => {
  it('leaves room for the zone prefix on a federated zone', () => {
    expect(nameLengthViolations('a'.repeat(245), federated)).toEqual([]);
    expect(nameLengthViolations('a'.repeat(246), federated)).toEqual([{ field: 'name', reason: 'the length of the name must be shorter' }]);
    expect(nameLengthViolations('a'.repeat(247), zone)).toEqual([]);
  });
});

describe('ResourceManager write origins', () => {
  const logger = createLogger('silent');
  const newManager = (ctx: Partial<ManagerContext>) =>
    new ResourceManager(new MemoryStore(), { mode: 'standalone', zone: '', environment: 'universal', unsafeDelete: false, ...ctx }, logger);
  const dataplane = (labels: Record<string, string> = {}) => ({
    type: 'Dataplane',
    mesh: 'default',
    name: 'dp-1',
    labels,
    spec: { networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }] } },
  });
  const mtp = (labels: Record<string, string> = {}) => ({
    type: 'MeshTrafficPermission',
    mesh: 'default',
    name: 'mtp-1',
    labels,
    spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
  });

  it('global: users cannot write Dataplanes, sync can; origin global stamped on user writes', async () => {
    const m = newManager({ mode: 'global' });
    const mesh = await m.create({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} });
    expect(mesh.labels['kuma.io/origin']).toBe('global');
    await expect(m.upsert(dataplane(), { origin: 'api' })).rejects.toThrow(MethodNotAllowedError);
    const synced = await m.upsert(dataplane({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' }), { origin: 'sync' });
    expect(synced.resource.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' });
    await expect(m.delete('Dataplane', 'default', 'dp-1', { origin: 'api' })).rejects.toThrow(MethodNotAllowedError);
    // A user-written policy gets origin global; a user cannot delete a zone-originated one.
    const p = await m.upsert(mtp(), { origin: 'api' });
    expect(p.resource.labels['kuma.io/origin']).toBe('global');
    await m.upsert({ ...mtp({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' }), name: 'from-zone' }, { origin: 'sync' });
    const err = await m.delete('MeshTrafficPermission', 'default', 'from-zone', { origin: 'api' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).violations).toEqual([{ field: '["kuma.io/origin"]', reason: "the origin label must be set to 'global'" }]);
    await m.delete('MeshTrafficPermission', 'default', 'from-zone', { origin: 'sync' });
    await m.delete('Dataplane', 'default', 'dp-1', { origin: 'sync' });
  });

  it('federated zone: Mesh only by sync; policies need origin zone; synced ones are protected', async () => {
    const m = newManager({ mode: 'zone', zone: 'zone-1', federated: true });
    await expect(m.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} }, { origin: 'api' })).rejects.toThrow(ZONE_READ_ONLY_MESSAGE.trim());
    // Sync may deliver a policy before its mesh.
    await m.upsert({ ...mtp({ 'kuma.io/origin': 'global', 'kuma.io/display-name': 'mtp-1' }), name: 'mtp-1-abc' }, { origin: 'sync' });
    const mesh = await m.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: { 'kuma.io/origin': 'global' }, spec: {} }, { origin: 'sync' });
    expect(mesh.resource.labels).toEqual({ 'kuma.io/origin': 'global' });

    const noOrigin = await m.upsert(mtp(), { origin: 'api' }).catch((e: unknown) => e);
    expect((noOrigin as ValidationError).violations).toEqual([{ field: 'labels["kuma.io/origin"]', reason: "the origin label must be set to 'zone'" }]);
    const own = await m.upsert(mtp({ 'kuma.io/origin': 'zone' }), { origin: 'api' });
    expect(own.resource.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1', 'kuma.io/env': 'universal' });

    const delSynced = await m.delete('MeshTrafficPermission', 'default', 'mtp-1-abc', { origin: 'api' }).catch((e: unknown) => e);
    expect((delSynced as ValidationError).violations).toEqual([{ field: '["kuma.io/origin"]', reason: "the origin label must be set to 'zone'" }]);
    await m.delete('MeshTrafficPermission', 'default', 'mtp-1', { origin: 'api' });

    const dp = await m.upsert(dataplane(), { origin: 'api' });
    expect(dp.resource.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' });
    // A synced mesh deletion wins over the Dataplane protection.
    await m.delete('Mesh', '', 'default', { origin: 'sync' });
    expect(await m.get('Dataplane', 'default', 'dp-1')).toBeUndefined();
  });

  it('sync does not run mesh hooks unless asked', async () => {
    const m = newManager({ mode: 'zone', zone: 'zone-1', federated: true });
    const seen: string[] = [];
    m.meshHooks.push(async (mesh) => void seen.push(mesh.name));
    await m.upsert({ type: 'Mesh', mesh: '', name: 'a', labels: {}, spec: {} }, { origin: 'sync' });
    await m.upsert({ type: 'Mesh', mesh: '', name: 'b', labels: {}, spec: {} }, { origin: 'sync', runMeshHooks: true });
    expect(seen).toEqual(['b']);
  });

  it('standalone: everything writable, no origin labels', async () => {
    const m = newManager({});
    await m.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} }, { origin: 'api' });
    const dp = await m.upsert(dataplane(), { origin: 'api' });
    expect(dp.resource.labels['kuma.io/origin']).toBeUndefined();
    await m.upsert(mtp(), { origin: 'api' });
    await m.delete('Dataplane', 'default', 'dp-1', { origin: 'api' });
  });
});
