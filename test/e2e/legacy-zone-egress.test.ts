// Legacy global-scoped ZoneEgress (Kuma 2.x, kept for migration) with real processes: a global CP and
// a zone CP. Started with a zone token (scope egress) issued on global, it serves every mesh: for mesh
// `ext` (mTLS, `routing.zoneEgress`, no mesh-scoped egress) it terminates the sidecar's mTLS with
// ext's certificate for it and forwards to the MeshExternalService, deny-by-default until a
// MeshTrafficPermission selecting it (`kuma.io/proxy-type: zoneegress`) allows the SNI.
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir, waitFor, type RunningCp } from '../harness.js';
import { dpTokenFile, list, put, startGlobal, startZone, statSum, waitForMeshCa, zoneTokenFile } from '../multizone-harness.js';
import { freePort, startDp, startEchoService, tcpEcho, writeFile, writeSidecar, type RunningDp } from '../dp-harness.js';

describe('legacy ZoneEgress serving a mesh with a zone token', () => {
  let global: RunningCp;
  let zone1: RunningCp;
  const dps: RunningDp[] = [];
  const servers: net.Server[] = [];
  const ports: Record<string, number> = {};
  const dir = tempDir('legacy-ze');
  const globalWork = tempDir('legacy-ze-global');

  const logs = () => [global, zone1].map((cp) => cp?.logs().split('\n').slice(-30).join('\n')).join('\n---\n') + dps.map((d) => d.logs()).join('\n');

  beforeAll(async () => {
    const kdsPort = await freePort();
    global = await startGlobal(kdsPort, globalWork, { store: 'memory' });
    zone1 = await startZone(kdsPort, globalWork, 'zone-1', { store: 'memory' });
  }, 60_000);

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await zone1?.stop();
    await global?.stop();
  });

  it('carries MeshExternalService traffic of a mesh through a legacy ZoneEgress once an MTP allows it', async () => {
    // Mesh `ext` (created on global) sends external traffic through zone egresses; it has none of its own.
    await put(global, '/meshes/ext', {
      type: 'Mesh', name: 'ext', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] }, routing: { zoneEgress: true },
    });
    await waitForMeshCa(zone1, 'ext', 'mesh ext CA on zone-1');
    const echo = await startEchoService();
    servers.push(echo.server);
    for (const k of ['legacyEgress', 'extClientInbound', 'extClientService', 'httpbinOutbound']) ports[k] = await freePort();
    await put(zone1, '/meshes/ext/meshexternalservices/httpbin', {
      type: 'MeshExternalService', mesh: 'ext', name: 'httpbin', labels: { 'kuma.io/origin': 'zone' },
      spec: { match: { type: 'HostnameGenerator', port: echo.port, protocol: 'tcp' }, endpoints: [{ address: '127.0.0.1', port: echo.port }] },
    });
    // The token is verified on zone-1 with global's synced public key.
    const token = await zoneTokenFile(global, dir, 'zone-1', ['egress']);
    await waitFor(async () => (await list(zone1, '/global-secrets')).some((s) => s.name === 'zone-token-signing-public-key-1') || undefined, { what: 'zone token public key on zone-1' });
    const egress = startDp(zone1, ['--proxy-type', 'egress', '-d', writeFile(dir, 'legacy-egress.yaml', `type: ZoneEgress
name: legacy-egress
networking:
  address: 127.0.0.1
  port: ${ports.legacyEgress}
`), '--dataplane-token-file', token]);
    dps.push(egress);
    const client = startDp(zone1, ['-d', writeSidecar(dir, {
      name: 'ext-client', mesh: 'ext',
      inbound: { port: ports.extClientInbound!, servicePort: ports.extClientService!, service: 'ext-client' },
      outbound: [{ port: ports.httpbinOutbound!, service: 'httpbin' }],
    }), '--dataplane-token-file', await dpTokenFile(zone1, dir, 'ext', 'ext-client')]);
    dps.push(client);
    const callExternal = () => tcpEcho(ports.httpbinOutbound!, 'ping').catch((err: Error) => err.message);

    // The sidecar dials the legacy egress with the external service's SNI.
    const sni = await waitFor(async () => {
      const dump = JSON.stringify((await api(zone1.apiUrl, 'GET', '/meshes/ext/dataplanes/ext-client/xds')).body);
      const found = /"sni":"(sni\.extsvc\.ext\.[^"]+)"/.exec(dump)?.[1];
      return found && dump.includes(`"port_value":${ports.legacyEgress}`) ? found : undefined;
    }, { what: () => `ext-client routed to the legacy egress\n${logs()}`, timeoutMs: 30_000 });
    // The sidecar accepts the egress's identity in mesh ext.
    expect(JSON.stringify((await api(zone1.apiUrl, 'GET', '/meshes/ext/dataplanes/ext-client/xds')).body)).toContain('spiffe://ext/legacy/zone-egress');
    // Deny by default: nothing allows the SNI yet.
    await waitFor(async () => (await statSum(egress, /rbac\.denied$/)) > 0 || (await callExternal(), undefined), { what: () => `a denied call\n${logs()}`, timeoutMs: 20_000 });
    expect(await callExternal()).not.toBe('echo:ping');

    await put(zone1, '/meshes/ext/meshtrafficpermissions/legacy-egress-httpbin', {
      type: 'MeshTrafficPermission', mesh: 'ext', name: 'legacy-egress-httpbin', labels: { 'kuma.io/origin': 'zone' },
      spec: {
        targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneegress' } },
        rules: [{ default: { allow: [{ sni: { type: 'Exact', value: sni }, spiffeID: { type: 'Exact', value: 'spiffe://ext/ext-client' } }] } }],
      },
    });
    await waitFor(async () => (await callExternal()) === 'echo:ping' || undefined, { what: () => `the external call through the legacy egress\n${logs()}`, timeoutMs: 20_000 });
    expect(await statSum(egress, /^cluster\.ext:egress:httpbin\.upstream_cx_total$/)).toBeGreaterThan(0);
    expect(await statSum(egress, /rbac\.allowed$/)).toBeGreaterThan(0);

    // Online, and synced to global.
    await waitFor(async () => {
      const r = await api(zone1.apiUrl, 'GET', '/zoneegressinsights/legacy-egress');
      const subs = (r.body as { subscriptions?: { disconnectTime?: string }[] } | undefined)?.subscriptions ?? [];
      return r.status === 200 && subs.some((x) => !x.disconnectTime) ? true : undefined;
    }, { what: 'ZoneEgressInsight online' });
    await waitFor(async () => (await list(global, '/zoneegresses')).some((i) => i.labels?.['kuma.io/zone'] === 'zone-1' && i.labels?.['kuma.io/display-name'] === 'legacy-egress') || undefined, {
      what: 'legacy egress on global',
    });
  });
});
