// Control plane modes end to end: real `skein cp run` processes in standalone, global and zone mode
// (federated with an unreachable global address), and what the REST API lets users write in each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runSkein, startCp, tempDir, type RunningCp } from '../harness.js';

type ErrorBody = { status: number; title: string; detail: string; invalid_parameters?: { field: string; reason: string }[] };
type Labelled = { labels?: Record<string, string> };

const GLOBAL_READ_ONLY =
  "On global control plane you can not modify dataplane resources with 'kumactl apply' or via the HTTP API. You can still use 'kumactl' or the HTTP API to modify them on the zone control plane.\n";
const ZONE_READ_ONLY =
  "On zone control plane you can only modify zone resources with 'kumactl apply' or via the HTTP API. You can still use 'kumactl' or the HTTP API to modify the rest of the resource on the global control plane.\n";

const dataplane = (name: string, labels?: Record<string, string>) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  ...(labels ? { labels } : {}),
  networking: { address: '127.0.0.1', inbound: [{ port: 10001, servicePort: 8080, tags: { 'kuma.io/service': name } }] },
});

const mtp = (name: string, labels?: Record<string, string>) => ({
  type: 'MeshTrafficPermission',
  mesh: 'default',
  name,
  ...(labels ? { labels } : {}),
  spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
});

describe('standalone CP (default mode)', () => {
  let cp: RunningCp;
  beforeAll(async () => {
    cp = await startCp();
  });
  afterAll(async () => cp?.stop());

  it('reports its mode and lets users write anything, without origin labels', async () => {
    expect((await api(cp.apiUrl, 'GET', '/')).body).toMatchObject({ mode: 'standalone', zone: '', federated: false });
    expect((await api(cp.apiUrl, 'PUT', '/meshes/default/dataplanes/dp-1', dataplane('dp-1'))).status).toBe(201);
    expect((await api(cp.apiUrl, 'PUT', '/meshes/default/meshtrafficpermissions/mtp-1', mtp('mtp-1'))).status).toBe(201);
    expect((await api(cp.apiUrl, 'PUT', '/meshes/other', { type: 'Mesh', name: 'other' })).status).toBe(201);
    const dp = (await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/dp-1')).body as Labelled;
    expect(dp.labels?.['kuma.io/origin']).toBeUndefined();
    expect((await api(cp.apiUrl, 'DELETE', '/meshes/default/dataplanes/dp-1')).status).toBe(200);
  });

  it('read-only kinds answer 405 with the Kuma message', async () => {
    const res = await api(cp.apiUrl, 'PUT', '/meshes/default/dataplane-insights/x', { type: 'DataplaneInsight', name: 'x', mesh: 'default' });
    expect(res.status).toBe(405);
    expect(res.body).toMatchObject({ title: 'Method not allowed', detail: ZONE_READ_ONLY });
  });
});

describe('global CP', () => {
  let cp: RunningCp;
  beforeAll(async () => {
    cp = await startCp({ args: ['--mode', 'global'] });
  });
  afterAll(async () => cp?.stop());

  it('reports mode global and creates mesh default with origin global', async () => {
    expect((await api(cp.apiUrl, 'GET', '/')).body).toMatchObject({ mode: 'global', zone: '', federated: false });
    const mesh = await api(cp.apiUrl, 'GET', '/meshes/default');
    expect(mesh.status).toBe(200);
    expect((mesh.body as Labelled).labels).toMatchObject({ 'kuma.io/origin': 'global' });
  });

  it('refuses user-created Dataplanes, ZoneIngresses, ZoneEgresses and insights with 405', async () => {
    const writes: [string, string, unknown][] = [
      ['PUT', '/meshes/default/dataplanes/dp-1', dataplane('dp-1')],
      ['DELETE', '/meshes/default/dataplanes/dp-1', undefined],
      ['PUT', '/zoneingresses/zi-1', { type: 'ZoneIngress', name: 'zi-1', networking: { address: '127.0.0.1', port: 10001 } }],
      ['PUT', '/zoneegresses/ze-1', { type: 'ZoneEgress', name: 'ze-1', networking: { address: '127.0.0.1', port: 10002 } }],
      ['PUT', '/meshes/default/dataplane-insights/dp-1', { type: 'DataplaneInsight', name: 'dp-1', mesh: 'default' }],
    ];
    for (const [method, path, body] of writes) {
      const res = await api(cp.apiUrl, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.body, `${method} ${path}`).toMatchObject({ status: 405, title: 'Method not allowed', detail: GLOBAL_READ_ONLY });
    }
    expect((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes')).body).toMatchObject({ total: 0 });
  });

  it('accepts meshes and policies, labelled origin global; refuses another origin', async () => {
    expect((await api(cp.apiUrl, 'PUT', '/meshes/m2', { type: 'Mesh', name: 'm2' })).status).toBe(201);
    expect((await api(cp.apiUrl, 'PUT', '/meshes/default/meshtrafficpermissions/allow', mtp('allow'))).status).toBe(201);
    const got = (await api(cp.apiUrl, 'GET', '/meshes/default/meshtrafficpermissions/allow')).body as Labelled;
    expect(got.labels).toMatchObject({ 'kuma.io/origin': 'global', 'kuma.io/mesh': 'default' });
    expect(got.labels?.['kuma.io/zone']).toBeUndefined();

    const bad = await api(cp.apiUrl, 'PUT', '/meshes/default/meshtrafficpermissions/z', mtp('z', { 'kuma.io/origin': 'zone' }));
    expect(bad.status).toBe(400);
    expect((bad.body as ErrorBody).invalid_parameters).toEqual([{ field: 'labels["kuma.io/origin"]', reason: "the origin label must be set to 'global'" }]);
  });
});

describe('zone CP', () => {
  const dataDir = tempDir('zone-data');
  let cp: RunningCp | undefined;
  afterAll(async () => cp?.stop());

  it('unfederated: creates mesh default, labels zone resources with origin zone', async () => {
    cp = await startCp({ store: 'embedded', dataDir, args: ['--mode', 'zone', '--zone', 'zone-1'] });
    expect((await api(cp.apiUrl, 'GET', '/')).body).toMatchObject({ mode: 'zone', zone: 'zone-1', federated: false });
    expect((await api(cp.apiUrl, 'GET', '/meshes/default')).status).toBe(200);
    expect((await api(cp.apiUrl, 'PUT', '/meshes/default/meshtrafficpermissions/local', mtp('local'))).status).toBe(201);
    const got = (await api(cp.apiUrl, 'GET', '/meshes/default/meshtrafficpermissions/local')).body as Labelled;
    expect(got.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1', 'kuma.io/env': 'universal' });
    const wrongZone = await api(cp.apiUrl, 'PUT', '/meshes/default/dataplanes/dp-x', dataplane('dp-x', { 'kuma.io/zone': 'zone-2' }));
    expect(wrongZone.status).toBe(400);
    expect((wrongZone.body as ErrorBody).invalid_parameters).toEqual([{ field: 'labels["kuma.io/zone"]', reason: 'kuma.io/zone label should have zone-1 value' }]);
    await cp.stop();
    cp = undefined;
  });

  describe('federated (global address set, global unreachable)', () => {
    beforeAll(async () => {
      cp = await startCp({ store: 'embedded', dataDir, args: ['--mode', 'zone', '--zone', 'zone-1', '--global-address', 'grpcs://127.0.0.1:1'] });
    });

    it('reports mode zone, its zone name and federation', async () => {
      expect((await api(cp!.apiUrl, 'GET', '/')).body).toMatchObject({ mode: 'zone', zone: 'zone-1', federated: true });
    });

    it('refuses creating, updating and deleting a Mesh with 405', async () => {
      for (const [method, path, body] of [
        ['PUT', '/meshes/new-mesh', { type: 'Mesh', name: 'new-mesh' }],
        ['PUT', '/meshes/default', { type: 'Mesh', name: 'default' }],
        ['DELETE', '/meshes/default', undefined],
      ] as const) {
        const res = await api(cp!.apiUrl, method, path, body);
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.body).toMatchObject({ status: 405, title: 'Method not allowed', detail: ZONE_READ_ONLY });
      }
      expect((await api(cp!.apiUrl, 'GET', '/meshes/new-mesh')).status).toBe(404);
    });

    it('refuses a MeshTrafficPermission without kuma.io/origin: zone (it belongs on global)', async () => {
      const res = await api(cp!.apiUrl, 'PUT', '/meshes/default/meshtrafficpermissions/from-user', mtp('from-user'));
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ title: 'Could not process a resource', detail: 'Resource is not valid' });
      expect((res.body as ErrorBody).invalid_parameters).toEqual([{ field: 'labels["kuma.io/origin"]', reason: "the origin label must be set to 'zone'" }]);
      // The zone's own policies (origin zone, created before federation) stay editable.
      const del = await api(cp!.apiUrl, 'DELETE', '/meshes/default/meshtrafficpermissions/local');
      expect(del.status).toBe(200);
    });

    it('accepts a zone-originated policy and Dataplanes, labelled with origin and zone', async () => {
      const res = await api(cp!.apiUrl, 'PUT', '/meshes/default/meshtrafficpermissions/zone-own', mtp('zone-own', { 'kuma.io/origin': 'zone' }));
      expect(res.status).toBe(201);
      const got = (await api(cp!.apiUrl, 'GET', '/meshes/default/meshtrafficpermissions/zone-own')).body as Labelled;
      expect(got.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1', 'kuma.io/mesh': 'default' });

      expect((await api(cp!.apiUrl, 'PUT', '/meshes/default/dataplanes/dp-1', dataplane('dp-1'))).status).toBe(201);
      const dp = (await api(cp!.apiUrl, 'GET', '/meshes/default/dataplanes/dp-1')).body as Labelled;
      expect(dp.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' });
      expect((await api(cp!.apiUrl, 'DELETE', '/meshes/default/dataplanes/dp-1')).status).toBe(200);
    });
  });
});

describe('mode configuration errors', () => {
  const common = ['cp', 'run', '--store', 'memory', '--api-port', '0', '--dp-port', '0', '--diagnostics-port', '0', '--kds-port', '0', '--work-dir', tempDir('cfg')];
  it.each([
    [['--mode', 'zone'], 'multizone.zone.name (--zone, KUMA_MULTIZONE_ZONE_NAME) is required in zone mode'],
    [['--mode', 'zone', '--zone', 'z1', '--global-address', 'http://127.0.0.1:5685'], 'unsupported scheme "http"'],
    [['--mode', 'global', '--global-address', 'grpcs://127.0.0.1:5685'], 'is only valid in zone mode'],
    [['--mode', 'remote'], 'mode must be one of standalone, global, zone'],
  ])('%j', async (args, message) => {
    const res = await runSkein([...common, ...args]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(message);
  });

  it('takes the mode and zone from KUMA_* env vars', async () => {
    const res = await runSkein([...common], { env: { KUMA_MODE: 'zone', KUMA_MULTIZONE_ZONE_GLOBAL_ADDRESS: 'grpcs://127.0.0.1:1' } });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('is required in zone mode');
  });
});
