// Mesh-scoped zone ingress and cross-zone routing on ONE standalone CP that stands in for two zones
// by labels (SKEIN-SPEC §2): the backend and an ingress zone proxy are labelled `kuma.io/zone: zone-2`,
// the client has no zone (the CP's, local). With builtin mTLS, the client's sidecar must reach the
// backend only through the zone-2 ingress (its endpoint for `backend` is the ingress's advertised
// address), which passes the still-encrypted stream to the backend's inbound by SNI.
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminStat, dataplaneTokenFile, freePort, startDp, startEchoService, tcpEcho, writeFile, writeSidecar, type RunningDp } from '../dp-harness.js';

describe('zone ingress and cross-zone routing', () => {
  let cp: RunningCp;
  let ingress: RunningDp;
  const dps: RunningDp[] = [];
  const servers: net.Server[] = [];
  const ports: Record<string, number> = {};
  const dir = tempDir('zoneproxy');

  const token = (mesh: string, name: string) => dataplaneTokenFile(cp, dir, mesh, name);

  const echoThroughMesh = () => tcpEcho(ports.backendOutbound!, 'ping').catch((err: Error) => err.message);

  /** A counter of the DP's admin /stats (0 when absent). */
  const stat = adminStat;

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    const res = await api(cp.apiUrl, 'PUT', '/meshes/default', {
      type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] },
    });
    expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
    const echo = await startEchoService();
    servers.push(echo.server);
    for (const k of ['backendInbound', 'ingress', 'clientInbound', 'clientService', 'backendOutbound']) ports[k] = await freePort();

    const backend = writeFile(dir, 'backend.yaml', `type: Dataplane
mesh: default
name: backend
labels: { kuma.io/zone: zone-2 }
networking:
  address: 127.0.0.1
  inbound:
    - { port: ${ports.backendInbound}, servicePort: ${echo.port}, tags: { kuma.io/service: backend } }
`);
    const zoneIngress = writeFile(dir, 'ingress.yaml', `type: Dataplane
mesh: default
name: zone-2-ingress
labels: { kuma.io/zone: zone-2, kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress }
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
    dps.push(startDp(cp, ['-d', backend, '--dataplane-token-file', await token('default', 'backend')]));
    ingress = startDp(cp, ['-d', zoneIngress, '--dataplane-token-file', await token('default', 'zone-2-ingress')]);
    dps.push(ingress);
    dps.push(startDp(cp, ['-d', client, '--dataplane-token-file', await token('default', 'client')]));
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
  });

  it('routes the client to the remote backend through the remote zone ingress, over mTLS', async () => {
    await waitFor(async () => (await echoThroughMesh()) === 'echo:ping', { timeoutMs: 20_000, what: () => `cross-zone traffic\n${dps.map((d) => d.logs()).join('\n')}` });

    // The client's only endpoint for backend is the ingress's advertised address.
    const clientDump = JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/client/xds')).body);
    expect(clientDump).toContain(`"port_value":${ports.ingress}`);
    expect(clientDump).not.toContain(`"port_value":${ports.backendInbound}`);
    expect(clientDump).toContain(`"sni":"sni.msvc.default.backend.${ports.backendInbound}"`);

    // The ingress: SNI chain, passthrough (no TLS context of its own), endpoints = the zone-2 backend.
    const ingressDump = JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/zone-2-ingress/xds')).body);
    expect(ingressDump).toContain(`"server_names":["sni.msvc.default.backend.${ports.backendInbound}"]`);
    expect(ingressDump).not.toContain('DownstreamTlsContext');
    expect(ingressDump).toContain(`"port_value":${ports.backendInbound}`);

    // Provably through the ingress: its listener and cluster count the connections.
    const before = await stat(ingress, 'cluster.ingress:backend.upstream_cx_total');
    expect(before).toBeGreaterThan(0);
    expect(await echoThroughMesh()).toBe('echo:ping');
    expect(await stat(ingress, 'cluster.ingress:backend.upstream_cx_total')).toBeGreaterThan(before);
    expect(await stat(ingress, `listener.127.0.0.1_${ports.ingress}.downstream_cx_total`)).toBeGreaterThan(0);
  });

  it('keeps the TLS end to end: the ingress cannot be used in plaintext', async () => {
    // A plaintext connection matches no SNI chain and is closed.
    expect(await tcpEcho(ports.ingress!, 'ping').catch((err: Error) => err.message)).not.toBe('echo:ping');
  });

  it('cuts cross-zone traffic when the ingress goes away', async () => {
    await ingress.stop();
    await waitFor(async () => (await echoThroughMesh()) !== 'echo:ping', { what: 'traffic to stop without the ingress' });
  });

  it('logs that a zone proxy waits for its mesh, and keeps retrying', async () => {
    const later = writeFile(dir, 'later-ingress.yaml', `type: Dataplane
mesh: later
name: later-ingress
labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: all }
networking:
  address: 127.0.0.1
`);
    const tokenFile = writeFile(dir, 'later.token', 'not-yet');
    const dp = startDp(cp, ['-d', later, '--dataplane-token-file', tokenFile]);
    dps.push(dp);
    await waitFor(async () => dp.logs().split("Mesh 'later' not found. Zone proxy waiting for mesh creation.").length > 2, { what: () => `the zone proxy to wait for its mesh\n${dp.logs()}` });
    expect(dp.proc.exitCode).toBeNull();
  });
});
