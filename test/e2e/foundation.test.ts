// Foundation end to end: a real `skein cp run` process, the REST API, bad input, durability.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { createTestDatabase, postgresReachable, type TestDatabase } from '../postgres.js';

type ErrorBody = { status: number; title: string; detail: string; invalid_parameters?: { field: string; reason: string }[] };

const dataplane = (name: string, mesh = 'default') => ({
  type: 'Dataplane',
  mesh,
  name,
  networking: {
    address: '127.0.0.1',
    inbound: [{ port: 10000 + name.length, servicePort: 8080, tags: { 'kuma.io/service': name } }],
  },
});

describe('REST API on a memory store', () => {
  let cp: RunningCp;
  beforeAll(async () => {
    cp = await startCp({ store: 'memory', args: ['--cors-allowed-domains', 'https://gui.example.com'] });
  });
  afterAll(async () => cp?.stop());

  it('serves the index and the list of resource types', async () => {
    const index = await api(cp.apiUrl, 'GET', '/');
    expect(index.status).toBe(200);
    expect(index.body).toMatchObject({ product: 'Skein' });
    const types = await api(cp.apiUrl, 'GET', '/_resources');
    const names = (types.body as { resources: { name: string; path: string }[] }).resources.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['Mesh', 'Dataplane', 'ZoneIngress', 'ZoneEgress', 'Secret', 'GlobalSecret', 'Zone']));
  });

  it('creates mesh default on start', async () => {
    const res = await api(cp.apiUrl, 'GET', '/meshes/default');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ type: 'Mesh', name: 'default' });
  });

  it('creates (201) and updates (200) with PUT, and lists with paging', async () => {
    expect((await api(cp.apiUrl, 'PUT', '/meshes/paging', { type: 'Mesh', name: 'paging' })).status).toBe(201);
    for (const n of ['dp-a', 'dp-b', 'dp-c']) {
      expect((await api(cp.apiUrl, 'PUT', `/meshes/paging/dataplanes/${n}`, dataplane(n, 'paging'))).status).toBe(201);
    }
    const updated = await api(cp.apiUrl, 'PUT', '/meshes/paging/dataplanes/dp-a', { ...dataplane('dp-a', 'paging'), labels: { team: 'a' } });
    expect(updated.status).toBe(200);

    const page1 = await api(cp.apiUrl, 'GET', '/meshes/paging/dataplanes?size=2');
    const body1 = page1.body as { total: number; items: { name: string }[]; next: string | null };
    expect(body1.total).toBe(3);
    expect(body1.items.map((i) => i.name)).toEqual(['dp-a', 'dp-b']);
    expect(body1.next).toMatch(/\/meshes\/paging\/dataplanes\?offset=2&size=2$/);
    const page2 = await api(cp.apiUrl, 'GET', new URL(body1.next!).pathname + new URL(body1.next!).search);
    expect((page2.body as { items: { name: string }[]; next: null }).items.map((i) => i.name)).toEqual(['dp-c']);
    expect((page2.body as { next: null }).next).toBeNull();

    const filtered = await api(cp.apiUrl, 'GET', '/meshes/paging/dataplanes?filter[labels.team]=a');
    expect((filtered.body as { items: { name: string }[] }).items.map((i) => i.name)).toEqual(['dp-a']);

    const item = await api(cp.apiUrl, 'GET', '/meshes/paging/dataplanes/dp-a');
    expect(item.body).toMatchObject({ type: 'Dataplane', mesh: 'paging', name: 'dp-a', labels: { team: 'a', 'kuma.io/mesh': 'paging' } });
    const across = await api(cp.apiUrl, 'GET', '/dataplanes');
    expect((across.body as { total: number }).total).toBeGreaterThanOrEqual(3);
  });

  it('protects a mesh with dataplanes from deletion, then deletes it with its resources', async () => {
    await api(cp.apiUrl, 'PUT', '/meshes/protected', { type: 'Mesh', name: 'protected' });
    await api(cp.apiUrl, 'PUT', '/meshes/protected/dataplanes/web', dataplane('web', 'protected'));
    const refused = await api(cp.apiUrl, 'DELETE', '/meshes/protected');
    expect(refused.status).toBe(400);
    expect((refused.body as ErrorBody).invalid_parameters).toEqual([
      { field: 'mesh', reason: 'unable to delete mesh, there are still some dataplanes attached' },
    ]);
    expect((await api(cp.apiUrl, 'GET', '/meshes/protected')).status).toBe(200);

    expect((await api(cp.apiUrl, 'DELETE', '/meshes/protected/dataplanes/web')).status).toBe(200);
    expect((await api(cp.apiUrl, 'DELETE', '/meshes/protected')).status).toBe(200);
    expect((await api(cp.apiUrl, 'GET', '/meshes/protected')).status).toBe(404);
  });

  it('rejects a Dataplane in a mesh that does not exist', async () => {
    const res = await api(cp.apiUrl, 'PUT', '/meshes/nope/dataplanes/x', dataplane('x', 'nope'));
    expect(res.status).toBe(404);
    expect((res.body as ErrorBody).title).toBe('Failed to retrieve Mesh');
    expect((await api(cp.apiUrl, 'GET', '/meshes/nope')).status).toBe(404);
  });

  it('labels zone proxy Dataplanes with their workload and listeners', async () => {
    const res = await api(cp.apiUrl, 'PUT', '/meshes/default/dataplanes/zp-1', {
      type: 'Dataplane',
      mesh: 'default',
      name: 'zp-1',
      labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'all' },
      networking: { address: '127.0.0.1', advertisedAddress: '10.0.0.1', advertisedPort: 10001 },
    });
    expect(res.status, res.text).toBe(201);
    const zp = (await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/zp-1')).body as { labels: Record<string, string> };
    expect(zp.labels).toMatchObject({
      'kuma.io/workload': 'zone-proxy-default-all',
      'kuma.io/listener-zoneingress': 'enabled',
      'kuma.io/listener-zoneegress': 'enabled',
    });
    await api(cp.apiUrl, 'DELETE', '/meshes/default/dataplanes/zp-1');
  });

  describe('bad input gets a clear 4xx and changes nothing', () => {
    const unchanged = async () => {
      const list = await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes');
      return (list.body as { total: number }).total;
    };

    it('malformed JSON → 400', async () => {
      const before = await unchanged();
      const res = await api(cp.apiUrl, 'PUT', '/meshes/default/dataplanes/bad', '{"type": "Dataplane", ');
      expect(res.status).toBe(400);
      expect((res.body as ErrorBody).title).toBe('Bad Request');
      expect(await unchanged()).toBe(before);
    });

    it('YAML body with a syntax error → 400', async () => {
      const res = await api(cp.apiUrl, 'PUT', '/meshes/m1', 'type: Mesh\nname: [m1', { 'content-type': 'application/yaml' });
      expect(res.status).toBe(400);
    });

    it('unknown field and wrong type → 400 naming each field', async () => {
      const res = await api(cp.apiUrl, 'PUT', '/meshes/default/dataplanes/bad', {
        ...dataplane('bad'),
        networking: { address: '127.0.0.1', inbound: [{ port: 'eighty', tags: { 'kuma.io/service': 'x' } }], bogus: 1 },
      });
      expect(res.status).toBe(400);
      const fields = (res.body as ErrorBody).invalid_parameters!.map((p) => p.field);
      expect(fields).toEqual(expect.arrayContaining(['networking.inbound[0].port', 'networking.bogus']));
      expect((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/bad')).status).toBe(404);
    });

    it('semantic errors list every violation', async () => {
      const res = await api(cp.apiUrl, 'PUT', '/meshes/default/dataplanes/bad', {
        type: 'Dataplane', mesh: 'default', name: 'bad',
        networking: { address: '0.0.0.0', inbound: [{ port: 70000, tags: { 'kuma.io/protocol': 'smtp', 'kuma.io/service': 'x' } }] },
      });
      expect(res.status).toBe(400);
      const params = (res.body as ErrorBody).invalid_parameters!;
      expect(params.map((p) => p.field)).toEqual(expect.arrayContaining(['networking.address', 'networking.inbound[0].port']));
      expect(params.find((p) => p.field === 'networking.address')!.reason).toBe('must not be 0.0.0.0 or ::');
    });

    it('invalid names and labels → 400', async () => {
      const badName = await api(cp.apiUrl, 'PUT', '/meshes/Bad_Mesh', { type: 'Mesh', name: 'Bad_Mesh' });
      expect(badName.status).toBe(400);
      expect((badName.body as ErrorBody).invalid_parameters![0]!.field).toBe('name');
      const longName = 'a'.repeat(64);
      expect((await api(cp.apiUrl, 'PUT', `/meshes/${longName}`, { type: 'Mesh', name: longName })).status).toBe(400);
      const badLabel = await api(cp.apiUrl, 'PUT', '/meshes/labelled', { type: 'Mesh', name: 'labelled', labels: { 'bad key!': 'v' } });
      expect(badLabel.status).toBe(400);
      expect((badLabel.body as ErrorBody).invalid_parameters![0]!.field).toMatch(/^labels/);
      expect((await api(cp.apiUrl, 'GET', '/meshes/labelled')).status).toBe(404);
    });

    it('name or mesh differing between URL and body → 400', async () => {
      const res = await api(cp.apiUrl, 'PUT', '/meshes/default/dataplanes/one', dataplane('two'));
      expect(res.status).toBe(400);
      expect((res.body as ErrorBody).invalid_parameters).toContainEqual({ field: 'name', reason: 'name from the URL has to be the same as in body' });
      expect((await api(cp.apiUrl, 'PUT', '/meshes/default/dataplanes/one', { ...dataplane('one'), mesh: 'other' })).status).toBe(400);
      expect((await api(cp.apiUrl, 'PUT', '/meshes/default/dataplanes/one', { ...dataplane('one'), type: 'Mesh' })).status).toBe(400);
    });

    it('unknown resource type → 404, unsupported media type → 415, oversize → 413, wrong method → 404/405', async () => {
      expect((await api(cp.apiUrl, 'GET', '/meshes/default/frobnicators')).status).toBe(404);
      expect((await api(cp.apiUrl, 'PUT', '/meshes/x', 'name: x', { 'content-type': 'text/plain' })).status).toBe(415);
      const huge = { type: 'Mesh', name: 'huge', labels: { big: 'x'.repeat(2 * 1024 * 1024) } };
      // The server answers 413 as soon as it sees the length and closes; a client still writing the
      // body may get EPIPE before it reads the answer. Retry until the answer is read.
      const oversize = await waitFor(() => api(cp.apiUrl, 'PUT', '/meshes/huge', huge).catch(() => undefined), { what: 'an answer to an oversize body' });
      expect(oversize.status).toBe(413);
      const readOnly = await api(cp.apiUrl, 'PUT', '/meshes/default/dataplane-insights/x', { type: 'DataplaneInsight', name: 'x', mesh: 'default' });
      expect(readOnly.status).toBe(405);
      expect((await api(cp.apiUrl, 'GET', '/meshes?size=abc')).status).toBe(400);
      expect((await api(cp.apiUrl, 'GET', '/meshes?size=5000')).status).toBe(400);
      expect((await api(cp.apiUrl, 'GET', '/meshes?filter[spec.x]=1')).status).toBe(400);
      expect((await api(cp.apiUrl, 'DELETE', '/meshes/default/dataplanes/never-existed')).status).toBe(404);
      // Still serving after all of that.
      expect((await api(cp.apiUrl, 'GET', '/meshes/default')).status).toBe(200);
    });
  });

  it('answers CORS only for allowed origins', async () => {
    const allowed = await api(cp.apiUrl, 'GET', '/meshes', undefined, { origin: 'https://gui.example.com' });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://gui.example.com');
    const other = await api(cp.apiUrl, 'GET', '/meshes', undefined, { origin: 'https://evil.example.com' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('exposes readiness and Prometheus metrics on the diagnostics port', async () => {
    const ready = await fetch(`http://127.0.0.1:${cp.diagnosticsPort}/ready`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${cp.diagnosticsPort}/metrics`)).text();
    expect(metrics).toMatch(/skein_api_server_requests_total\{method="PUT"/);
    expect(metrics).toMatch(/skein_resources\{resource_type="Mesh"\} \d+/);
  });
});

describe('KUMA_DEFAULTS_SKIP_MESH_CREATION', () => {
  it('skips the default mesh', async () => {
    const cp = await startCp({ store: 'memory', env: { KUMA_DEFAULTS_SKIP_MESH_CREATION: 'true' } });
    try {
      expect((await api(cp.apiUrl, 'GET', '/meshes/default')).status).toBe(404);
    } finally {
      await cp.stop();
    }
  });
});

async function writeThenKillAndReadBack(start: () => Promise<RunningCp>) {
  let cp = await start();
  expect((await api(cp.apiUrl, 'PUT', '/meshes/durable', { type: 'Mesh', name: 'durable', mtls: { enabledBackend: '', backends: [] } })).status).toBe(201);
  for (let i = 0; i < 20; i++) {
    expect((await api(cp.apiUrl, 'PUT', `/meshes/durable/dataplanes/dp-${i}`, dataplane(`dp-${i}`, 'durable'))).status).toBe(201);
  }
  await cp.kill(); // SIGKILL: no graceful shutdown
  cp = await start();
  try {
    const list = await api(cp.apiUrl, 'GET', '/meshes/durable/dataplanes');
    expect((list.body as { total: number }).total).toBe(20);
    expect((await api(cp.apiUrl, 'GET', '/meshes/durable/dataplanes/dp-7')).body).toMatchObject({ name: 'dp-7', networking: { address: '127.0.0.1' } });
    // Mesh default was not duplicated or reset by the restart.
    expect((await api(cp.apiUrl, 'GET', '/meshes')).body).toMatchObject({ total: 2 });
  } finally {
    await cp.stop();
  }
}

describe('restart durability', () => {
  it('embedded store: write, kill -9, restart, read back', async () => {
    const dataDir = tempDir('embedded');
    await writeThenKillAndReadBack(() => startCp({ store: 'embedded', dataDir }));
  });

  describe('postgres store', () => {
    let db: TestDatabase | undefined;
    beforeAll(async () => {
      if (await postgresReachable()) db = await createTestDatabase();
    });
    afterAll(async () => db?.drop());

    it('write, kill -9, restart, read back', async (ctx) => {
      if (!db) return ctx.skip();
      await writeThenKillAndReadBack(() => startCp({ store: 'postgres', postgresUrl: db!.url }));
    });
  });
});
