// The Mesh's constraints as the ResourceManager applies them to Dataplane writes, by write origin.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../api/resource.js';
import { createLogger } from '../observability/logger.js';
import { MemoryStore } from '../store/memory.js';
import { ResourceManager, type ManagerContext } from './resource-manager.js';

const logger = createLogger('silent');
const newManager = (ctx: Partial<ManagerContext> = {}) =>
  new ResourceManager(new MemoryStore(), { mode: 'standalone', zone: '', environment: 'universal', unsafeDelete: false, ...ctx }, logger);
const constraints = { dataplaneProxy: { requirements: [{ tags: { team: '*' } }], restrictions: [{ tags: { env: 'legacy' } }] } };
const dataplane = (name: string, tags: Record<string, string>, labels: Record<string, string> = {}) => ({
  type: 'Dataplane',
  mesh: 'demo',
  name,
  labels,
  spec: { networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': name, ...tags } }] } },
});

async function refusal(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).violations.map((v) => `${v.field}: ${v.reason}`);
}

describe('Mesh constraints on Dataplane writes', () => {
  it('refuses user and bootstrap writes that break them, on create and update; sync is not checked', async () => {
    const m = newManager();
    await m.create({ type: 'Mesh', mesh: '', name: 'demo', labels: {}, spec: { constraints } });
    await m.upsert(dataplane('ok', { team: 'a' }), { origin: 'api' });
    expect(await refusal(m.upsert(dataplane('no-team', {}), { origin: 'api' }))).toEqual([
      'networking.inbound[0].tags: dataplane cannot be a member of mesh "demo" because its tags "kuma.io/service=no-team" does not fulfill any requirements defined on the Mesh',
    ]);
    // Bootstrap writes with the default ('system') origin.
    expect(await refusal(m.upsert(dataplane('old', { team: 'a', env: 'legacy' })))).toEqual([
      'networking.inbound[0].tags: dataplane cannot be a member of mesh "demo" because its tags "env=legacy kuma.io/service=old team=a" matches restricted tags "env=legacy" defined on the Mesh',
    ]);
    await expect(refusal(m.create(dataplane('no-team', {})))).resolves.toHaveLength(1);
    // An update is checked as well.
    await expect(refusal(m.upsert(dataplane('ok', { team: 'a', env: 'legacy' }), { origin: 'api' }))).resolves.toHaveLength(1);
    expect(await m.get('Dataplane', 'demo', 'no-team')).toBeUndefined();
    // What another zone admitted is stored as it is.
    await m.upsert(dataplane('remote', {}, { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'z2' }), { origin: 'sync' });
    expect(await m.get('Dataplane', 'demo', 'remote')).toBeDefined();
  });

  it('tightening the constraints leaves stored Dataplanes alone; loosening admits new ones', async () => {
    const m = newManager();
    await m.create({ type: 'Mesh', mesh: '', name: 'demo', labels: {}, spec: {} });
    await m.upsert(dataplane('web', {}), { origin: 'api' });
    await m.upsert({ type: 'Mesh', mesh: '', name: 'demo', labels: {}, spec: { constraints } }, { origin: 'api' });
    expect(await m.get('Dataplane', 'demo', 'web')).toBeDefined();
    await expect(refusal(m.upsert(dataplane('web', {}), { origin: 'api' }))).resolves.toHaveLength(1);
    await m.upsert({ type: 'Mesh', mesh: '', name: 'demo', labels: {}, spec: {} }, { origin: 'api' });
    await m.upsert(dataplane('web', {}), { origin: 'api' });
  });

  it("counts the zone CP's kuma.io/zone tag on every inbound", async () => {
    const m = newManager({ mode: 'zone', zone: 'east' });
    await m.create({ type: 'Mesh', mesh: '', name: 'demo', labels: {}, spec: { constraints: { dataplaneProxy: { requirements: [{ tags: { 'kuma.io/zone': 'east' } }] } } } });
    await m.upsert(dataplane('web', {}), { origin: 'api' });
  });
});
