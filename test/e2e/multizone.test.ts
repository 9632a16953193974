// Multi-zone sync end to end: a real global CP and a real zone CP over KDS (gRPC + TLS).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir, waitFor, type RunningCp } from '../harness.js';
import { freePort } from '../dp-harness.js';
import { list, put, startGlobal as startGlobalCp, startZone as startZoneCp, type Item } from '../multizone-harness.js';

const dataplane = (name: string, mesh: string, port: number) => ({
  type: 'Dataplane',
  mesh,
  name,
  networking: { address: '127.0.0.1', inbound: [{ port, servicePort: 8080, tags: { 'kuma.io/service': name } }] },
});

const mtp = (name: string, mesh: string) => ({
  type: 'MeshTrafficPermission',
  mesh,
  name,
  spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
});

describe('multi-zone sync (global ↔ zone)', () => {
  let global: RunningCp;
  let zone: RunningCp;
  let kdsPort: number;
  const globalData = tempDir('mz-global-data');
  const globalWork = tempDir('mz-global-work');
  const zoneData = tempDir('mz-zone-data');
  const zoneWork = tempDir('mz-zone-work');

  const startGlobal = () => startGlobalCp(kdsPort, globalWork, { store: 'embedded', dataDir: path.join(globalData, 'db') });
  const startZone = () => startZoneCp(kdsPort, globalWork, 'zone-1', { store: 'embedded', dataDir: path.join(zoneData, 'db'), workDir: zoneWork });

  beforeAll(async () => {
    kdsPort = await freePort();
    global = await startGlobal();
    zone = await startZone();
  });
  afterAll(async () => {
    await zone?.stop();
    await global?.stop();
  });

  it('registers the zone on global with a Zone and a ZoneInsight', async () => {
    const z = await waitFor(async () => {
      const res = await api(global.apiUrl, 'GET', '/zones/zone-1');
      return res.status === 200 ? res.body : undefined;
    }, { what: 'Zone zone-1 on global' });
    expect(z).toMatchObject({ type: 'Zone', name: 'zone-1', enabled: true });
    const insight = await waitFor(async () => {
      const res = await api(global.apiUrl, 'GET', '/zone-insights/zone-1');
      return res.status === 200 ? (res.body as { subscriptions?: { connectTime: string; disconnectTime?: string }[] }) : undefined;
    }, { what: 'ZoneInsight zone-1' });
    expect(insight.subscriptions?.length).toBeGreaterThanOrEqual(1);
    expect(insight.subscriptions?.at(-1)?.connectTime).toBeTruthy();
    expect(insight.subscriptions?.at(-1)?.disconnectTime).toBeUndefined();
    // Sync state: what was sent and acknowledged, and how far behind the zone is.
    const synced = await waitFor(async () => {
      const res = await api(global.apiUrl, 'GET', '/zone-insights/zone-1');
      const sub = (res.body as { subscriptions?: { status?: { total?: { responsesAcknowledged?: number }; syncLag?: { pendingMs: number; lastAckMs?: number } } }[] }).subscriptions?.at(-1);
      return (sub?.status?.total?.responsesAcknowledged ?? 0) > 0 && sub?.status?.syncLag?.lastAckMs !== undefined ? sub.status : undefined;
    }, { what: 'acknowledged sync with its lag in the ZoneInsight' });
    expect(synced.syncLag!.lastAckMs).toBeGreaterThanOrEqual(0);
    expect(synced.syncLag!.lastAckMs).toBeLessThan(10_000);
  });

  it('syncs a mesh and a policy from global to the zone with origin global', async () => {
    await put(global, '/meshes/mz', { type: 'Mesh', name: 'mz' });
    await put(global, '/meshes/mz/meshtrafficpermissions/allow-mz', mtp('allow-mz', 'mz'));
    const mesh = await waitFor(async () => {
      const res = await api(zone.apiUrl, 'GET', '/meshes/mz');
      return res.status === 200 ? (res.body as Item) : undefined;
    }, { what: 'mesh mz on the zone' });
    expect(mesh.labels).toMatchObject({ 'kuma.io/origin': 'global' });
    const policy = await waitFor(async () => (await list(zone, '/meshes/mz/meshtrafficpermissions')).find((i) => i.labels?.['kuma.io/display-name'] === 'allow-mz'), {
      what: 'MTP allow-mz on the zone',
    });
    expect(policy.name).toMatch(/^allow-mz-[a-z0-9]{16}$/);
    expect(policy.labels).toMatchObject({ 'kuma.io/origin': 'global', 'kuma.io/display-name': 'allow-mz' });
    expect(policy.spec).toMatchObject({ targetRef: { kind: 'Mesh' } });
  });

  it('syncs the mesh CA secrets and zone-token public keys (never private keys)', async () => {
    await put(global, '/meshes/mz-tls', {
      type: 'Mesh', name: 'mz-tls',
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
    });
    const secrets = await waitFor(async () => {
      const items = await list(zone, '/meshes/mz-tls/secrets');
      return items.some((i) => i.name === 'mz-tls.ca-builtin-cert-ca-1') ? items : undefined;
    }, { what: 'CA secrets on the zone' });
    expect(secrets.map((i) => i.name)).toEqual(expect.arrayContaining(['mz-tls.ca-builtin-cert-ca-1', 'mz-tls.ca-builtin-key-ca-1']));
    expect(secrets.find((i) => i.name === 'mz-tls.ca-builtin-cert-ca-1')?.labels).toMatchObject({ 'kuma.io/origin': 'global' });

    const token = await api(global.apiUrl, 'POST', '/tokens/zone', { zone: 'zone-1', scope: ['cp'], validFor: '24h' });
    expect(token.status).toBe(200);
    const pub = await waitFor(async () => {
      const res = await api(zone.apiUrl, 'GET', '/global-secrets/zone-token-signing-public-key-1');
      return res.status === 200 ? (res.body as { data: string; labels?: Record<string, string> }) : undefined;
    }, { what: 'zone-token public key on the zone' });
    expect(Buffer.from(pub.data, 'base64').toString()).toContain('PUBLIC KEY');
    expect((await api(zone.apiUrl, 'GET', '/global-secrets/zone-token-signing-key-1')).status).toBe(404);
  });

  it('syncs a dataplane from the zone to global with zone labels', async () => {
    await put(zone, '/meshes/mz/dataplanes/dp-1', dataplane('dp-1', 'mz', 20001));
    const dp = await waitFor(async () => (await list(global, '/meshes/mz/dataplanes')).find((i) => i.labels?.['kuma.io/display-name'] === 'dp-1'), {
      what: 'dp-1 on global',
    });
    expect(dp.name).toMatch(/^dp-1-[a-z0-9]{16}$/);
    expect(dp.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1', 'kuma.io/display-name': 'dp-1' });
  });

  it('converges after global is killed and restarted, without duplicates', async () => {
    const zonePolicies = (await list(zone, '/meshes/mz/meshtrafficpermissions')).map((i) => i.name).sort();
    await global.kill();
    await put(zone, '/meshes/mz/dataplanes/dp-2', dataplane('dp-2', 'mz', 20002));
    global = await startGlobal();
    await waitFor(async () => (await list(global, '/meshes/mz/dataplanes')).length === 2, { what: 'dp-1 and dp-2 on global', timeoutMs: 30_000 });
    const dps = await list(global, '/meshes/mz/dataplanes');
    expect(dps.map((i) => i.labels?.['kuma.io/display-name']).sort()).toEqual(['dp-1', 'dp-2']);
    // The zone reconnected: a new subscription on the insight.
    await waitFor(async () => {
      const res = await api(global.apiUrl, 'GET', '/zone-insights/zone-1');
      const subs = (res.body as { subscriptions?: unknown[] }).subscriptions ?? [];
      return subs.length >= 2;
    }, { what: 'second subscription', timeoutMs: 30_000 });
    // The zone applies global's full set again: same policies, no duplicates.
    await waitFor(async () => {
      const names = (await list(zone, '/meshes/mz/meshtrafficpermissions')).map((i) => i.name).sort();
      return JSON.stringify(names) === JSON.stringify(zonePolicies);
    }, { what: 'zone policies unchanged after the resync', timeoutMs: 30_000 });
    expect((await list(global, '/meshes/mz/dataplanes')).length).toBe(2);
    expect((await list(global, '/zones')).map((z) => z.name)).toEqual(['zone-1']);
  });

  it('propagates deletions both ways', async () => {
    expect((await api(global.apiUrl, 'DELETE', '/meshes/mz/meshtrafficpermissions/allow-mz')).status).toBe(200);
    await waitFor(async () => !(await list(zone, '/meshes/mz/meshtrafficpermissions')).some((i) => i.labels?.['kuma.io/display-name'] === 'allow-mz'), {
      what: 'allow-mz removed on the zone',
    });
    expect((await api(zone.apiUrl, 'DELETE', '/meshes/mz/dataplanes/dp-1')).status).toBe(200);
    await waitFor(async () => !(await list(global, '/meshes/mz/dataplanes')).some((i) => i.labels?.['kuma.io/display-name'] === 'dp-1'), {
      what: 'dp-1 removed on global',
    });
  });

  it('removes stale synced resources when a zone restarts after missing a deletion', async () => {
    await put(global, '/meshes/mz/meshtrafficpermissions/short-lived', mtp('short-lived', 'mz'));
    await waitFor(async () => (await list(zone, '/meshes/mz/meshtrafficpermissions')).some((i) => i.labels?.['kuma.io/display-name'] === 'short-lived'), {
      what: 'short-lived on the zone',
    });
    await zone.kill();
    expect((await api(global.apiUrl, 'DELETE', '/meshes/mz/meshtrafficpermissions/short-lived')).status).toBe(200);
    zone = await startZone();
    await waitFor(async () => !(await list(zone, '/meshes/mz/meshtrafficpermissions')).some((i) => i.labels?.['kuma.io/display-name'] === 'short-lived'), {
      what: 'short-lived removed on the restarted zone',
      timeoutMs: 30_000,
    });
    expect(zone.logs()).not.toContain('could not apply');
    expect(global.logs()).not.toContain('could not apply');
    // The zone's own dataplane survived and is still on global exactly once.
    expect((await list(global, '/meshes/mz/dataplanes')).map((i) => i.labels?.['kuma.io/display-name'])).toEqual(['dp-2']);
  });

  it('measures sync lag both ways and counts connected zones (metrics)', async () => {
    const scrape = async (cp: RunningCp) => (await fetch(`http://127.0.0.1:${cp.diagnosticsPort}/metrics`)).text();
    const count = (text: string, direction: string) => Number(new RegExp(`^skein_kds_sync_lag_seconds_count\\{zone="zone-1",direction="${direction}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const onGlobal = await waitFor(async () => {
      const text = await scrape(global);
      return count(text, 'global-to-zone') > 0 && /^skein_kds_connected_zones 1$/m.test(text) ? text : undefined;
    }, { what: 'global-to-zone sync lag on global' });
    expect(onGlobal).toMatch(/^skein_kds_messages_total\{zone="zone-1",direction="zone-to-global",result="applied"\} [1-9]/m);
    const onZone = await waitFor(async () => {
      const text = await scrape(zone);
      return count(text, 'zone-to-global') > 0 ? text : undefined;
    }, { what: 'zone-to-global sync lag on the zone' });
    expect(onZone).toMatch(/^skein_kds_connected_zones 1$/m);
  });
});
