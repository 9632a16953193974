// Cross-zone traffic with real processes: a global CP and two zone CPs over KDS. Global forwards each
// zone's Dataplanes (service endpoints and zone proxies) to the other zone, so zone-1's client sidecar
// reaches the zone-2 backend through zone-2's ingress zone proxy (builtin mTLS from the mesh CA that
// global syncs to both zones). Zones keep routing with global gone.
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir, waitFor, type RunningCp } from '../harness.js';
import { list, put, startGlobal, startZone as startZoneCp, strictDefaultMesh } from '../multizone-harness.js';
import { adminStat, dataplaneTokenFile, freePort, httpGet, startDp, startHttpService, writeFile, writeSidecar, type RunningDp } from '../dp-harness.js';

describe('cross-zone traffic through global-forwarded zone proxies', () => {
  let global: RunningCp;
  let zone1: RunningCp;
  let zone2: RunningCp;
  let ingress: RunningDp;
  let kdsPort: number;
  const dps: RunningDp[] = [];
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};
  const dir = tempDir('crosszone');
  const globalWork = tempDir('cz-global-work');

  const startZone = (zone: string) => startZoneCp(kdsPort, globalWork, zone, { store: 'memory' });

  const token = (cp: RunningCp, name: string) => dataplaneTokenFile(cp, dir, 'default', name);

  /** A counter of the DP's admin /stats (0 when absent). */
  const stat = adminStat;

  const callBackend = () => httpGet(ports.backendOutbound!, '/cross').catch((err: Error) => ({ status: 0, body: err.message }));
  const logs = () => [global, zone1, zone2].map((cp) => cp?.logs().split('\n').slice(-30).join('\n')).join('\n---\n') + dps.map((d) => d.logs()).join('\n');

  beforeAll(async () => {
    kdsPort = await freePort();
    global = await startGlobal(kdsPort, globalWork, { store: 'memory' });
    zone1 = await startZone('zone-1');
    zone2 = await startZone('zone-2');
    await strictDefaultMesh(global, [zone1, zone2]);

    const backendSvc = await startHttpService('backend');
    servers.push(backendSvc.server);
    for (const k of ['backendInbound', 'ingress', 'clientInbound', 'clientService', 'backendOutbound']) ports[k] = await freePort();

    const backend = writeFile(dir, 'backend.yaml', `type: Dataplane
mesh: default
name: backend
networking:
  address: 127.0.0.1
  inbound:
    - { port: ${ports.backendInbound}, servicePort: ${backendSvc.port}, tags: { kuma.io/service: backend } }
`);
    const zoneIngress = writeFile(dir, 'ingress.yaml', `type: Dataplane
mesh: default
name: zone-2-ingress
labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress }
networking:
  address: 127.0.0.1
  advertisedAddress: 127.0.0.1
  advertisedPort: ${ports.ingress}
  listeners:
    - { type: ZoneIngress, port: ${ports.ingress} }
`);
    const client = writeSidecar(dir, {
      name: 'client',
      inbound: { port: ports.clientInbound!, servicePort: ports.clientService!, service: 'client' },
      outbound: [{ port: ports.backendOutbound!, service: 'backend' }],
    });
    dps.push(startDp(zone2, ['-d', backend, '--dataplane-token-file', await token(zone2, 'backend')]));
    ingress = startDp(zone2, ['-d', zoneIngress, '--dataplane-token-file', await token(zone2, 'zone-2-ingress')]);
    dps.push(ingress);
    dps.push(startDp(zone1, ['-d', client, '--dataplane-token-file', await token(zone1, 'client')]));
  }, 90_000);

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await zone1?.stop();
    await zone2?.stop();
    await global?.stop();
  });

  it('forwards each zone\'s Dataplanes to the other zone as remote, never back to their own zone', async () => {
    const remoteOnZone1 = await waitFor(async () => {
      const items = (await list(zone1, '/meshes/default/dataplanes')).filter((i) => i.labels?.['kuma.io/zone'] === 'zone-2');
      return items.length === 2 ? items : undefined;
    }, { what: () => `zone-2 dataplanes on zone-1\n${logs()}`, timeoutMs: 30_000 });
    expect(remoteOnZone1.map((i) => i.labels?.['kuma.io/display-name']).sort()).toEqual(['backend', 'zone-2-ingress']);
    for (const i of remoteOnZone1) {
      expect(i.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-2' });
      expect(i.name).toMatch(/-[a-z0-9]{16}$/);
    }
    const remoteOnZone2 = await waitFor(async () => {
      const items = (await list(zone2, '/meshes/default/dataplanes')).filter((i) => i.labels?.['kuma.io/zone'] === 'zone-1');
      return items.length === 1 ? items : undefined;
    }, { what: 'zone-1 client on zone-2' });
    expect(remoteOnZone2[0]?.labels?.['kuma.io/display-name']).toBe('client');
    // No echo: global holds exactly the three zone-originated Dataplanes, each from its own zone.
    const onGlobal = await list(global, '/meshes/default/dataplanes');
    expect(onGlobal.map((i) => `${i.labels?.['kuma.io/zone']}/${i.labels?.['kuma.io/display-name']}`).sort()).toEqual([
      'zone-1/client', 'zone-2/backend', 'zone-2/zone-2-ingress',
    ]);
    // Each zone holds its own Dataplanes once, under their local names.
    expect((await list(zone1, '/meshes/default/dataplanes')).filter((i) => i.labels?.['kuma.io/zone'] !== 'zone-2').map((i) => i.name)).toEqual(['client']);
  });

  it('forwards removals: a Dataplane deleted in zone-2 disappears from zone-1', async () => {
    await put(zone2, '/meshes/default/dataplanes/extra', {
      type: 'Dataplane', mesh: 'default', name: 'extra',
      networking: { address: '127.0.0.1', inbound: [{ port: 20999, servicePort: 8080, tags: { 'kuma.io/service': 'extra' } }] },
    });
    const onZone1 = async () => (await list(zone1, '/meshes/default/dataplanes')).some((i) => i.labels?.['kuma.io/display-name'] === 'extra');
    await waitFor(async () => (await onZone1()) || undefined, { what: 'extra on zone-1' });
    expect((await api(zone2.apiUrl, 'DELETE', '/meshes/default/dataplanes/extra')).status).toBe(200);
    await waitFor(async () => !(await onZone1()) || undefined, { what: 'extra gone from zone-1' });
  });

  it('routes zone-1\'s client to the zone-2 backend through the zone-2 ingress', async () => {
    const res = await waitFor(async () => {
      const r = await callBackend();
      return r.status === 200 ? r : undefined;
    }, { what: () => `cross-zone request\n${logs()}`, timeoutMs: 30_000 });
    expect(res.body).toBe('backend says hi to /cross');

    // The client's endpoint for backend is zone-2's ingress, not the backend itself.
    const clientDump = JSON.stringify((await api(zone1.apiUrl, 'GET', '/meshes/default/dataplanes/client/xds')).body);
    expect(clientDump).toContain(`"port_value":${ports.ingress}`);
    expect(clientDump).not.toContain(`"port_value":${ports.backendInbound}`);

    // Provably through the ingress: its cluster counts the connections.
    const before = await stat(ingress, 'cluster.ingress:backend.upstream_cx_total');
    expect(before).toBeGreaterThan(0);
    expect(await callBackend()).toEqual({ status: 200, body: 'backend says hi to /cross' });
    expect(await stat(ingress, 'cluster.ingress:backend.upstream_cx_total')).toBeGreaterThan(before);
  });

  it('keeps routing across zones with global gone', async () => {
    await global.kill();
    const before = await stat(ingress, 'cluster.ingress:backend.upstream_cx_total');
    // Wait until both zones have noticed that global is gone, then route.
    await waitFor(() => zone1.logs().includes('connection to global lost') && zone2.logs().includes('connection to global lost'), { what: 'zones noticing global is gone' });
    for (let i = 0; i < 3; i++) expect(await callBackend()).toEqual({ status: 200, body: 'backend says hi to /cross' });
    expect(await stat(ingress, 'cluster.ingress:backend.upstream_cx_total')).toBeGreaterThan(before);
    // The remote Dataplanes stay on the zones while global is away.
    expect((await list(zone1, '/meshes/default/dataplanes')).filter((i) => i.labels?.['kuma.io/zone'] === 'zone-2')).toHaveLength(2);
  });
});
