/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are inspected field by field */
// One global CP and two zone CPs; zone-1's proxies on 127.0.0.2, zone-2's on 127.0.0.3. Two meshes
// with their own builtin CAs and their own zone proxies:
//   alpha: zone-1 client → zone-2 ingress (alpha) → zone-2 backend, legacy kuma.io/service routing;
//   beta:  zone-1 client → zone-1 egress (beta) → zone-2 ingress (beta) → zone-2 backend, with
//          routing.zoneEgress and MeshService routing (the zone-2 MeshService synced through global).
// Isolation: a certificate of alpha's CA gets nowhere through beta's zone proxies (one of beta's
// does). A zone proxy started before its mesh exists comes up once global creates the mesh.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runSkein, tempDir, waitFor, type RunningCp } from '../harness.js';
import { put, startGlobal, startZone as startZoneCp, waitForMeshCa } from '../multizone-harness.js';
import { adminStat, dataplaneTokenFile, freePort, startDp, writeFile, type RunningDp } from '../dp-harness.js';
import { issueWorkloadCert } from '../../src/pki/index.js';

const ZONE_1_IP = '127.0.0.2';
const ZONE_2_IP = '127.0.0.3';
const MESHES = ['alpha', 'beta'] as const;
type MeshName = (typeof MESHES)[number];

async function items(cp: RunningCp, p: string): Promise<any[]> {
  const res = await api(cp.apiUrl, 'GET', p);
  return res.status === 200 ? (res.body as { items: any[] }).items : [];
}

function get(host: string, port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: p, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
  });
}

/** An HTTP request over TLS straight to a zone proxy, with a given client certificate and SNI. */
function requestThrough(host: string, port: number, sni: string, client: { certPem: string; keyPem: string }, caPem: string): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const socket = tls.connect({ host, port, servername: sni, cert: client.certPem, key: client.keyPem, ca: caPem, checkServerIdentity: () => undefined }, () => {
      socket.write(`GET /raw HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n`);
    });
    socket.setTimeout(4000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (d: Buffer) => (out += d.toString()));
    socket.on('error', (err) => resolve(`error: ${err.message}`));
    socket.on('close', () => resolve(out || 'closed'));
  });
}

describe('multi-zone with two meshes and mesh-scoped zone proxies', () => {
  let global: RunningCp;
  let zone1: RunningCp;
  let zone2: RunningCp;
  let kdsPort: number;
  const dir = tempDir('mzmeshes');
  const globalWork = tempDir('mzm-global-work');
  const dps: Record<string, RunningDp> = {};
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};
  const keyFile = path.join(dir, 'offline.key');
  const pubFile = path.join(dir, 'offline.pub');

  const startZone = (zone: string, args: string[] = []) => startZoneCp(kdsPort, globalWork, zone, { store: 'memory', args });
  const logs = () => [global, zone1, zone2].map((cp) => cp?.logs().split('\n').slice(-20).join('\n')).join('\n---\n') + Object.values(dps).map((d) => d.logs().split('\n').slice(-15).join('\n')).join('\n');
  const dataplane = (mesh: string, name: string, body: string) => writeFile(dir, `${mesh}-${name}.yaml`, `type: Dataplane\nmesh: ${mesh}\nname: ${name}\n${body}`);
  const run = async (key: string, cp: RunningCp, mesh: string, file: string, name: string) => {
    dps[key] = startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, mesh, name)]);
  };
  const secret = async (mesh: string, name: string) => Buffer.from(((await api(global.apiUrl, 'GET', `/meshes/${mesh}/secrets/${name}`)).body as any).data, 'base64').toString('utf8');
  const ca = async (mesh: string) => ({ certPem: await secret(mesh, `${mesh}.ca-builtin-cert-ca-1`), keyPem: await secret(mesh, `${mesh}.ca-builtin-key-ca-1`) });
  const call = (mesh: MeshName) => get(ZONE_1_IP, ports[`${mesh}Outbound`]!, '/cross');

  beforeAll(async () => {
    fs.writeFileSync(keyFile, (await runSkein(['generate', 'signing-key', '--format', 'pem'])).stdout);
    fs.writeFileSync(pubFile, (await runSkein(['generate', 'public-key', '--signing-key-path', keyFile])).stdout);
    kdsPort = await freePort();
    global = await startGlobal(kdsPort, globalWork, { store: 'memory' });
    // zone-1 also accepts dataplane tokens signed offline (for a proxy of a mesh that does not exist yet).
    zone1 = await startZone('zone-1', ['--dataplane-token-public-key', `offline-1=${pubFile}`]);
    zone2 = await startZone('zone-2');

    for (const mesh of MESHES) {
      await put(global, `/meshes/${mesh}`, {
        type: 'Mesh', name: mesh,
        mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] },
        ...(mesh === 'beta' ? { routing: { zoneEgress: true }, meshServices: { mode: 'Everywhere' } } : {}),
      });
      await put(global, `/meshes/${mesh}/meshtrafficpermissions/allow-all-${mesh}`, {
        type: 'MeshTrafficPermission', mesh, name: `allow-all-${mesh}`,
        spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
      });
    }
    for (const zone of [zone1, zone2]) {
      for (const mesh of MESHES) {
        await waitForMeshCa(zone, mesh, `${mesh} CA and signing key on the zone`, 30_000);
      }
    }

    const backendSvc = http.createServer((req, res) => res.end(`backend says hi to ${req.url}`));
    await new Promise<void>((r) => backendSvc.listen(0, '127.0.0.1', () => r()));
    servers.push(backendSvc);
    const servicePort = (backendSvc.address() as { port: number }).port;
    for (const mesh of MESHES) {
      for (const k of ['BackendInbound', 'Ingress', 'ClientInbound', 'Outbound', 'Egress', 'MzsOutbound']) ports[`${mesh}${k}`] = await freePort();
      const backendPort = ports[`${mesh}BackendInbound`]!;
      // One name for beta's backends of every zone (its port picks the MeshServices' port of that number).
      if (mesh === 'beta') {
        await put(global, '/meshes/beta/meshmultizoneservices/backend-all', {
          type: 'MeshMultiZoneService', mesh: 'beta', name: 'backend-all',
          spec: { selector: { meshService: { matchLabels: { 'kuma.io/display-name': 'backend' } } }, ports: [{ port: backendPort, appProtocol: 'http' }] },
        });
      }
      await run(`${mesh}-backend`, zone2, mesh, dataplane(mesh, 'backend', `networking:
  address: ${ZONE_2_IP}
  inbound:
    - { port: ${backendPort}, servicePort: ${servicePort}, tags: { kuma.io/service: backend, kuma.io/protocol: http } }
`), 'backend');
      await run(`${mesh}-ingress`, zone2, mesh, dataplane(mesh, 'ingress', `labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress }
networking:
  address: ${ZONE_2_IP}
  advertisedAddress: ${ZONE_2_IP}
  advertisedPort: ${ports[`${mesh}Ingress`]}
  listeners:
    - { type: ZoneIngress, port: ${ports[`${mesh}Ingress`]} }
`), 'ingress');
      const outbound = mesh === 'alpha'
        ? `{ port: ${ports.alphaOutbound}, address: ${ZONE_1_IP}, tags: { kuma.io/service: backend } }`
        : `{ port: ${ports.betaOutbound}, address: ${ZONE_1_IP}, backendRef: { kind: MeshService, labels: { kuma.io/display-name: backend, kuma.io/zone: zone-2 }, port: ${backendPort} } }
    - { port: ${ports.betaMzsOutbound}, address: ${ZONE_1_IP}, backendRef: { kind: MeshMultiZoneService, name: backend-all, port: ${backendPort} } }`;
      await run(`${mesh}-client`, zone1, mesh, dataplane(mesh, 'client', `networking:
  address: ${ZONE_1_IP}
  inbound:
    - { port: ${ports[`${mesh}ClientInbound`]}, servicePort: 1, tags: { kuma.io/service: client } }
  outbound:
    - ${outbound}
`), 'client');
    }
    await run('beta-egress', zone1, 'beta', dataplane('beta', 'egress', `labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: egress }
networking:
  address: ${ZONE_1_IP}
  listeners:
    - { type: ZoneEgress, port: ${ports.betaEgress} }
`), 'egress');
  }, 180_000);

  afterAll(async () => {
    for (const dp of Object.values(dps)) await dp.stop();
    for (const s of servers) s.close();
    await zone1?.stop();
    await zone2?.stop();
    await global?.stop();
  });

  it('routes cross-zone in both meshes, each through its own zone proxies', async () => {
    for (const mesh of MESHES) {
      await waitFor(async () => (await call(mesh)).status === 200 || undefined, { what: () => `cross-zone request in ${mesh}\n${logs()}`, timeoutMs: 45_000 });
      expect((await call(mesh)).body).toBe('backend says hi to /cross');
    }
    expect(await adminStat(dps['alpha-ingress']!, 'cluster.ingress:backend.upstream_cx_total')).toBeGreaterThan(0);
    // beta: the client dials zone-1's egress, which passes the stream on to zone-2's beta ingress.
    const msKey = `beta_backend__zone-2_msvc_${ports.betaBackendInbound}`;
    expect(await adminStat(dps['beta-egress']!, `cluster.egress-zone:${msKey}.upstream_cx_total`)).toBeGreaterThan(0);
    expect(await adminStat(dps['beta-ingress']!, `cluster.ingress:${msKey}.upstream_cx_total`)).toBeGreaterThan(0);
    // The MeshService zone-2 generated reached zone-1 through global, under its hashed name.
    const synced = (await items(zone1, '/meshes/beta/meshservices')).find((i) => i.labels['kuma.io/zone'] === 'zone-2');
    expect(synced.labels['kuma.io/display-name']).toBe('backend');
    expect(synced.snis).toEqual([{ port: ports.betaBackendInbound, sni: `sni.msvc.beta.zone-2.backend.${ports.betaBackendInbound}` }]);
  });

  it('reaches a MeshMultiZoneService: one name for the backends of every zone', async () => {
    const mzs = await waitFor(async () => (await items(zone1, '/meshes/beta/meshmultizoneservices')).find((i) => i.labels['kuma.io/display-name'] === 'backend-all'), { what: 'the MeshMultiZoneService on zone-1' });
    expect(mzs.labels['kuma.io/origin']).toBe('global');
    expect(mzs.snis).toEqual([{ port: ports.betaBackendInbound, sni: `sni.mzsvc.beta.backend-all.${ports.betaBackendInbound}` }]);
    await waitFor(async () => (await get(ZONE_1_IP, ports.betaMzsOutbound!, '/mzs')).status === 200 || undefined, { what: () => `a request to the MeshMultiZoneService\n${logs()}`, timeoutMs: 30_000 });
    expect((await get(ZONE_1_IP, ports.betaMzsOutbound!, '/mzs')).body).toBe('backend says hi to /mzs');
  });

  it('keeps the meshes apart: another mesh\'s certificate gets nowhere through any of beta\'s zone proxies', async () => {
    const sni = `sni.msvc.beta.zone-2.backend.${ports.betaBackendInbound}`;
    const alphaCa = await ca('alpha');
    const betaCa = await ca('beta');
    const alphaClient = await issueWorkloadCert({ ca: alphaCa, uris: ['spiffe://alpha/client'], validForMs: 3_600_000 });
    const betaClient = await issueWorkloadCert({ ca: betaCa, uris: ['spiffe://beta/client'], validForMs: 3_600_000 });
    // Control: beta's own certificate goes through beta's ingress and its egress.
    expect(await requestThrough(ZONE_2_IP, ports.betaIngress!, sni, betaClient, betaCa.certPem)).toContain('backend says hi to /raw');
    expect(await requestThrough(ZONE_1_IP, ports.betaEgress!, sni, betaClient, betaCa.certPem)).toContain('backend says hi to /raw');
    // alpha's identity, same SNI, same zone proxies: refused end to end by beta's backend.
    expect(await requestThrough(ZONE_2_IP, ports.betaIngress!, sni, alphaClient, betaCa.certPem)).not.toContain('backend says hi');
    expect(await requestThrough(ZONE_1_IP, ports.betaEgress!, sni, alphaClient, betaCa.certPem)).not.toContain('backend says hi');
    // And alpha's ingress knows nothing of beta's destinations.
    expect(await requestThrough(ZONE_2_IP, ports.alphaIngress!, sni, alphaClient, alphaCa.certPem)).not.toContain('backend says hi');
  });

  it('brings up a zone proxy started before its mesh exists once global creates the mesh', async () => {
    const token = (await runSkein(['generate', 'dataplane-token', '--signing-key-path', keyFile, '--kid', 'offline-1', '--mesh', 'gamma', '--name', 'gamma-ingress', '--valid-for', '1h'])).stdout.trim();
    const tokenFile = writeFile(dir, 'gamma.token', token);
    const gammaPort = await freePort();
    const file = dataplane('gamma', 'gamma-ingress', `labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress }
networking:
  address: ${ZONE_1_IP}
  listeners:
    - { type: ZoneIngress, port: ${gammaPort} }
`);
    dps['gamma-ingress'] = startDp(zone1, ['-d', file, '--dataplane-token-file', tokenFile]);
    const dp = dps['gamma-ingress'];
    await waitFor(() => dp.logs().includes("Mesh 'gamma' not found. Zone proxy waiting for mesh creation.") || undefined, { what: () => `the zone proxy to wait for its mesh\n${dp.logs()}` });
    await put(global, '/meshes/gamma', { type: 'Mesh', name: 'gamma' });
    await waitFor(() => dp.logs().includes('data plane is ready') || undefined, { what: () => `the zone proxy to come up\n${dp.logs()}`, timeoutMs: 30_000 });
    expect(dp.proc.exitCode).toBeNull();
    const onGlobal = await waitFor(async () => (await items(global, '/meshes/gamma/dataplanes')).find((i) => i.labels['kuma.io/display-name'] === 'gamma-ingress'), { what: 'the zone proxy on global' });
    expect(onGlobal.labels).toMatchObject({ 'kuma.io/zone': 'zone-1', 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/workload': 'zone-proxy-gamma-ingress' });
  });
});
