// Legacy global-scoped ZoneIngress (Kuma 2.x, kept for migration) with real processes: a global CP and
// two zone CPs. The zone token is issued on global (`POST /tokens/zone`); zone-2 verifies it with the
// public key global synced (zone CPs never hold global's private key). A zone-1 sidecar reaches a
// zone-2 service through the legacy ingress; once a mesh-scoped ingress of the mesh runs in zone-2,
// traffic moves to it (mesh-scoped proxies take precedence).
import fs from 'node:fs';
import https from 'node:https';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir, waitFor, type RunningCp } from '../harness.js';
import { dpTokenFile, list, startGlobal, startZone as startZoneCp, statSum, strictDefaultMesh, zoneTokenFile, type Item } from '../multizone-harness.js';
import { adminStat, freePort, httpGet, startDp, startHttpService, writeFile, writeSidecar, type RunningDp } from '../dp-harness.js';

/** POST /bootstrap on the CP's DP server, as `skein dp run` does. */
function bootstrap(cp: RunningCp, body: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(new URL('/bootstrap', cp.dpUrl), { method: 'POST', ca: fs.readFileSync(cp.caCertFile), headers: { 'content-type': 'application/json' } }, (r) => {
      let text = '';
      r.on('data', (d: Buffer) => (text += d.toString()));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('legacy ZoneIngress with zone tokens, and precedence of mesh-scoped ingresses', () => {
  let global: RunningCp;
  let zone1: RunningCp;
  let zone2: RunningCp;
  let legacyIngress: RunningDp;
  let kdsPort: number;
  const dps: RunningDp[] = [];
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};
  const dir = tempDir('legacy-zp');
  const globalWork = tempDir('legacy-zp-global');

  const startZone = (zone: string) => startZoneCp(kdsPort, globalWork, zone, { store: 'memory' });

  const legacyIngressYaml = (name: string, port: number) =>
    writeFile(dir, `${name}.yaml`, `type: ZoneIngress
name: ${name}
networking:
  address: 127.0.0.1
  port: ${port}
  advertisedAddress: 127.0.0.1
  advertisedPort: ${port}
`);

  const callBackend = () => httpGet(ports.backendOutbound!, '/legacy').catch((err: Error) => ({ status: 0, body: err.message }));
  const clientDump = async () => JSON.stringify((await api(zone1.apiUrl, 'GET', '/meshes/default/dataplanes/client/xds')).body);
  const logs = () => [global, zone1, zone2].map((cp) => cp?.logs().split('\n').slice(-30).join('\n')).join('\n---\n') + dps.map((d) => d.logs()).join('\n');
  /** Connections the legacy ingress carried to backend (its cluster is mesh-prefixed). */
  const legacyCx = () => statSum(legacyIngress, /^cluster\.default:ingress:.*backend.*\.upstream_cx_total$/);

  beforeAll(async () => {
    kdsPort = await freePort();
    global = await startGlobal(kdsPort, globalWork, { store: 'memory' });
    zone1 = await startZone('zone-1');
    zone2 = await startZone('zone-2');
    await strictDefaultMesh(global, [zone1, zone2]);
    const backendSvc = await startHttpService('backend');
    servers.push(backendSvc.server);
    for (const k of ['backendInbound', 'legacyIngress', 'meshIngress', 'clientInbound', 'clientService', 'backendOutbound']) ports[k] = await freePort();
    const backend = writeFile(dir, 'backend.yaml', `type: Dataplane
mesh: default
name: backend
networking:
  address: 127.0.0.1
  inbound:
    - { port: ${ports.backendInbound}, servicePort: ${backendSvc.port}, tags: { kuma.io/service: backend } }
`);
    const client = writeSidecar(dir, {
      name: 'client',
      inbound: { port: ports.clientInbound!, servicePort: ports.clientService!, service: 'client' },
      outbound: [{ port: ports.backendOutbound!, service: 'backend' }],
    });
    dps.push(startDp(zone2, ['-d', backend, '--dataplane-token-file', await dpTokenFile(zone2, dir, 'default', 'backend')]));
    dps.push(startDp(zone1, ['-d', client, '--dataplane-token-file', await dpTokenFile(zone1, dir, 'default', 'client')]));
  }, 90_000);

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await zone1?.stop();
    await zone2?.stop();
    await global?.stop();
  });

  it('refuses a zone token with the wrong scope or for another zone', async () => {
    const wrongScope = await zoneTokenFile(global, dir, 'zone-2', ['egress']);
    const otherZone = await zoneTokenFile(global, dir, 'zone-1', ['ingress']);
    // zone-2 verifies with global's public key: wait for it before presenting tokens.
    await waitFor(async () => (await list(zone2, '/global-secrets')).some((s) => s.name === 'zone-token-signing-public-key-1') || undefined, {
      what: 'zone token public key synced to zone-2',
    });
    const file = legacyIngressYaml('refused-ingress', await freePort());
    // A proxy started with the wrong scope gives up with the CP's reason.
    const dp = startDp(zone2, ['--proxy-type', 'ingress', '-d', file, '--dataplane-token-file', wrongScope]);
    dps.push(dp);
    await waitFor(() => dp.proc.exitCode !== null || undefined, { what: () => `refused DP to exit\n${dp.logs()}`, timeoutMs: 15_000 });
    expect(dp.proc.exitCode).toBe(1);
    expect(dp.logs()).toContain('bootstrap refused by the control plane');
    expect(dp.logs()).toContain("token cannot be used to authenticate zone entity (ingress is out of token's scope: [egress])");
    // The bootstrap request itself, with a token for another zone: 401 and the reason.
    const res = await bootstrap(zone2, { proxyType: 'ingress', name: 'refused-ingress', dataplaneToken: fs.readFileSync(otherZone, 'utf8').trim(), dataplaneResource: fs.readFileSync(file, 'utf8') });
    expect(res.status).toBe(401);
    expect(res.text).toBe('authentication failed: zone from requestor: zone-2 is different than in token: zone-1');
    // Nothing was registered for the refused proxy.
    expect((await api(zone2.apiUrl, 'GET', '/zoneingresses/refused-ingress')).status).toBe(404);
  });

  it('registers a legacy ZoneIngress authenticated with a zone token issued on global (zone-2 verifies with the synced public key)', async () => {
    // zone-2 holds only the public half of global's zone-token signing key.
    const globalSecrets = (await list(zone2, '/global-secrets')).map((s) => s.name);
    expect(globalSecrets).toContain('zone-token-signing-public-key-1');
    expect(globalSecrets.some((n) => n.startsWith('zone-token-signing-key'))).toBe(false);

    const token = await zoneTokenFile(global, dir, 'zone-2', ['ingress']);
    legacyIngress = startDp(zone2, ['--proxy-type', 'ingress', '-d', legacyIngressYaml('legacy-ingress', ports.legacyIngress!), '--dataplane-token-file', token]);
    dps.push(legacyIngress);

    const stored = await waitFor(async () => {
      const r = await api(zone2.apiUrl, 'GET', '/zoneingresses/legacy-ingress');
      return r.status === 200 ? (r.body as Item) : undefined;
    }, { what: () => `legacy ingress on zone-2\n${logs()}`, timeoutMs: 20_000 });
    expect(stored.zone).toBe('zone-2');
    expect(stored.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-2' });
    // Online: its insight has an open subscription.
    await waitFor(async () => {
      const r = await api(zone2.apiUrl, 'GET', '/zone-ingress-insights/legacy-ingress');
      const subs = (r.body as { subscriptions?: { connectTime?: string; disconnectTime?: string }[] } | undefined)?.subscriptions ?? [];
      return r.status === 200 && subs.some((s) => s.connectTime && !s.disconnectTime) ? true : undefined;
    }, { what: 'ZoneIngressInsight online' });
    // Synced to global, and forwarded by global to zone-1.
    for (const cp of [global, zone1]) {
      await waitFor(async () => (await list(cp, '/zoneingresses')).some((i) => i.labels?.['kuma.io/display-name'] === 'legacy-ingress' && i.labels?.['kuma.io/zone'] === 'zone-2') || undefined, {
        what: () => `legacy ingress synced\n${logs()}`, timeoutMs: 20_000,
      });
    }
  });

  it('carries a zone-1 sidecar\'s request to the zone-2 service', async () => {
    const res = await waitFor(async () => {
      const r = await callBackend();
      return r.status === 200 ? r : undefined;
    }, { what: () => `cross-zone request through the legacy ingress\n${logs()}`, timeoutMs: 30_000 });
    expect(res.body).toBe('backend says hi to /legacy');
    const dump = await clientDump();
    expect(dump).toContain(`"port_value":${ports.legacyIngress}`);
    expect(dump).not.toContain(`"port_value":${ports.backendInbound}`);
    const before = await legacyCx();
    expect(before).toBeGreaterThan(0);
    expect(await callBackend()).toEqual({ status: 200, body: 'backend says hi to /legacy' });
    expect(await legacyCx()).toBeGreaterThan(before);
  });

  it('moves traffic to a mesh-scoped ingress of the mesh once one runs in zone-2', async () => {
    const meshIngress = startDp(zone2, ['-d', writeFile(dir, 'mesh-ingress.yaml', `type: Dataplane
mesh: default
name: zone-2-mesh-ingress
labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress }
networking:
  address: 127.0.0.1
  advertisedAddress: 127.0.0.1
  advertisedPort: ${ports.meshIngress}
  listeners:
    - { type: ZoneIngress, port: ${ports.meshIngress} }
`), '--dataplane-token-file', await dpTokenFile(zone2, dir, 'default', 'zone-2-mesh-ingress')]);
    dps.push(meshIngress);
    // zone-1's sidecar now reaches backend through the mesh-scoped ingress only.
    await waitFor(async () => {
      const dump = await clientDump();
      return dump.includes(`"port_value":${ports.meshIngress}`) && !dump.includes(`"port_value":${ports.legacyIngress}`) ? true : undefined;
    }, { what: () => `client endpoints switched to the mesh-scoped ingress\n${logs()}`, timeoutMs: 30_000 });
    await waitFor(async () => (await callBackend()).status === 200 || undefined, { what: 'request through the mesh-scoped ingress' });
    const legacyBefore = await legacyCx();
    const meshBefore = await adminStat(meshIngress, 'cluster.ingress:backend.upstream_cx_total');
    for (let i = 0; i < 3; i++) expect(await callBackend()).toEqual({ status: 200, body: 'backend says hi to /legacy' });
    expect(await adminStat(meshIngress, 'cluster.ingress:backend.upstream_cx_total')).toBeGreaterThanOrEqual(meshBefore + 3);
    expect(await legacyCx()).toBe(legacyBefore);
  });
});
