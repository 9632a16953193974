// Identity end to end: builtin and provided CAs, mTLS between two real data planes,
// MeshTrafficPermission, PERMISSIVE vs STRICT, mesh isolation and certificate rotation.
import tls from 'node:tls';
import type http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { dataplaneTokenFile, freePort, httpGet, startDp, startEchoService, startHttpService, tcpEcho, writeFile, writeSidecar, type RunningDp } from '../dp-harness.js';
import { generateRootCa } from '../../src/pki/index.js';

type Mode = 'STRICT' | 'PERMISSIVE';

function meshWithMtls(name: string, mode: Mode = 'STRICT', expiration = '1h') {
  return { type: 'Mesh', name, mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode, dpCert: { rotation: { expiration } } }] } };
}

/** The certificate an inbound presents, verified against `ca` (hostname checks do not apply). */
async function peerCertificate(port: number, ca: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' }, () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      resolve(cert);
    });
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.on('error', reject);
  });
}

describe('mesh mTLS and MeshTrafficPermission', () => {
  let cp: RunningCp;
  const dps: RunningDp[] = [];
  const servers: (http.Server | net.Server)[] = [];
  const ports: Record<string, number> = {};
  const dir = tempDir('mtls');

  const token = (mesh: string, name: string) => dataplaneTokenFile(cp, dir, mesh, name);

  async function put(path: string, body: object, expected = [200, 201]): Promise<void> {
    const res = await api(cp.apiUrl, 'PUT', path, body);
    expect(expected, JSON.stringify(res.body)).toContain(res.status);
  }

  async function meshCa(mesh: string): Promise<string> {
    const res = await api(cp.apiUrl, 'GET', `/meshes/${mesh}/secrets/${mesh}.ca-builtin-cert-ca-1`);
    expect(res.status).toBe(200);
    return Buffer.from((res.body as { data: string }).data, 'base64').toString();
  }

  const webThroughMesh = () => httpGet(ports.webOutbound!, '/hello').catch((err: Error) => ({ status: 0, body: err.message }));

  // A denied TCP connection is closed by the server proxy: the client sees no echo.
  const dbThroughMesh = () => tcpEcho(ports.dbOutbound!, 'ping').catch((err: Error) => err.message);

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    const web = await startHttpService('web');
    const db = await startEchoService();
    servers.push(web.server, db.server);
    for (const k of ['webInbound', 'dbInbound', 'webOutbound', 'dbOutbound', 'clientInbound', 'clientService', 'intruderInbound', 'intruderOutbound']) ports[k] = await freePort();
    const backend = writeFile(dir, 'backend.yaml', `type: Dataplane
mesh: default
name: backend
networking:
  address: 127.0.0.1
  inbound:
    - { port: ${ports.webInbound}, servicePort: ${web.port}, tags: { kuma.io/service: web, kuma.io/protocol: http } }
    - { port: ${ports.dbInbound}, servicePort: ${db.port}, tags: { kuma.io/service: db, kuma.io/protocol: tcp } }
`);
    const client = writeSidecar(dir, {
      name: 'client',
      inbound: { port: ports.clientInbound!, servicePort: ports.clientService!, service: 'client' },
      outbound: [{ port: ports.webOutbound!, service: 'web' }, { port: ports.dbOutbound!, service: 'db' }],
    });
    dps.push(startDp(cp, ['-d', backend, '--dataplane-token-file', await token('default', 'backend')]));
    dps.push(startDp(cp, ['-d', client, '--dataplane-token-file', await token('default', 'client')]));
    await waitFor(async () => (await webThroughMesh()).status === 200, { timeoutMs: 20_000, what: () => `plaintext traffic\n${dps.map((d) => d.logs()).join('\n')}` });
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
  });

  it('keeps traffic flowing when builtin mTLS is enabled, with SPIFFE certificates on the wire', async () => {
    await put('/meshes/default', meshWithMtls('default'));
    const ca = await meshCa('default');
    const cert = await waitFor(() => peerCertificate(ports.webInbound!, ca).catch(() => undefined), { what: 'the inbound to serve a mesh certificate' });
    expect(cert.subjectaltname).toContain('URI:spiffe://default/web');
    expect(cert.subjectaltname).toContain('URI:kuma://kuma.io/protocol/http');
    const db = await peerCertificate(ports.dbInbound!, ca);
    expect(db.subjectaltname).toContain('URI:spiffe://default/db');

    await waitFor(async () => (await webThroughMesh()).status === 200, { what: 'traffic over mTLS' });
    expect((await webThroughMesh()).body).toBe('web says hi to /hello');
    expect(await tcpEcho(ports.dbOutbound!, 'ping')).toBe('echo:ping');
    // The inspect API shows what was sent, nested messages expanded, without the private key.
    const dump = JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/backend/xds')).body);
    expect(dump).toContain('"@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"');
    expect(dump).toContain('"private_key":"[redacted]"');
    expect(dump).not.toContain('PRIVATE KEY');
    // STRICT: a plaintext client cannot use the inbound directly.
    await expect(httpGet(ports.webInbound!)).rejects.toThrow();
  });

  it('opens many mTLS upstream connections at once without losing a request', async () => {
    // A burst on fresh client connections makes the client proxy open several upstream mTLS
    // connections concurrently (a resumed TLS session there used to be refused by the server proxy).
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => httpGet(ports.webOutbound!, `/burst-${i}`).catch((err: Error) => ({ status: 0, body: err.message }))));
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
  });

  it('denies traffic without a permission and allows it again with a targeted one', async () => {
    expect((await api(cp.apiUrl, 'DELETE', '/meshes/default/meshtrafficpermissions/allow-all')).status).toBe(200);
    const denied = await waitFor(async () => {
      const r = await webThroughMesh();
      return r.status === 403 ? r : undefined;
    }, { what: 'HTTP to be denied' });
    expect(denied.body).toBe('RBAC: access denied');
    expect(await dbThroughMesh()).not.toBe('echo:ping');

    await put('/meshes/default/meshtrafficpermissions/web-from-client', {
      type: 'MeshTrafficPermission', mesh: 'default', name: 'web-from-client',
      spec: { targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'web' } }, from: [{ targetRef: { kind: 'MeshService', name: 'client' }, default: { action: 'Allow' } }] },
    });
    await waitFor(async () => (await webThroughMesh()).status === 200, { what: 'web allowed for client' });
    expect(await dbThroughMesh()).not.toBe('echo:ping');

    await put('/meshes/default/meshtrafficpermissions/db-by-spiffe-id', {
      type: 'MeshTrafficPermission', mesh: 'default', name: 'db-by-spiffe-id',
      spec: { targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'db' } }, rules: [{ default: { allow: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/client' } }] } }] },
    });
    await waitFor(async () => (await dbThroughMesh()) === 'echo:ping', { what: 'db allowed by SPIFFE ID' });
  });

  it('accepts a plaintext client in PERMISSIVE mode and refuses it again in STRICT', async () => {
    await put('/meshes/default', meshWithMtls('default', 'PERMISSIVE'));
    const direct = await waitFor(() => httpGet(ports.webInbound!, '/direct').catch(() => undefined), { what: 'plaintext accepted' });
    expect(direct).toEqual({ status: 200, body: 'web says hi to /direct' });
    expect((await webThroughMesh()).status).toBe(200);

    await put('/meshes/default', meshWithMtls('default', 'STRICT'));
    await waitFor(async () => (await httpGet(ports.webInbound!).then(() => false, () => true)), { what: 'plaintext refused' });
    expect((await webThroughMesh()).status).toBe(200);
  });

  it('keeps meshes apart: a proxy of another mesh cannot reach this one', async () => {
    await put('/meshes/other', meshWithMtls('other'));
    // Mesh "other" claims the real backend's inbound as its own "web" endpoint.
    await put('/meshes/other/dataplanes/fake-web', {
      type: 'Dataplane', mesh: 'other', name: 'fake-web',
      networking: { address: '127.0.0.1', inbound: [{ port: ports.webInbound, tags: { 'kuma.io/service': 'web', 'kuma.io/protocol': 'http' } }] },
    });
    const intruder = writeFile(dir, 'intruder.yaml', `type: Dataplane
mesh: other
name: intruder
networking:
  address: 127.0.0.1
  inbound:
    - { port: ${ports.intruderInbound}, servicePort: ${ports.clientService}, tags: { kuma.io/service: client } }
  outbound:
    - { port: ${ports.intruderOutbound}, tags: { kuma.io/service: web } }
`);
    const dp = startDp(cp, ['-d', intruder, '--dataplane-token-file', await token('other', 'intruder')]);
    dps.push(dp);
    await waitFor(() => dp.logs().includes('data plane is ready'), { timeoutMs: 20_000, what: () => `intruder ready\n${dp.logs()}` });
    // The intruder's mesh has its own CA: the handshake with the default mesh's backend fails.
    const otherCa = await meshCa('other');
    expect(otherCa).not.toBe(await meshCa('default'));
    for (let i = 0; i < 5; i++) {
      const r = await httpGet(ports.intruderOutbound!).catch(() => ({ status: 0, body: '' }));
      expect(r.status).not.toBe(200);
    }
    expect((await webThroughMesh()).status).toBe(200);
  });

  it('rejects a provided CA whose key does not match, and accepts a valid one', async () => {
    await put('/meshes/provided', { type: 'Mesh', name: 'provided' });
    const a = await generateRootCa({ mesh: 'provided' });
    const b = await generateRootCa({ mesh: 'provided' });
    const secret = (name: string, pem: string) => put(`/meshes/provided/secrets/${name}`, { type: 'Secret', mesh: 'provided', name, data: Buffer.from(pem).toString('base64') });
    await secret('ca-cert', a.certPem);
    await secret('wrong-key', b.keyPem);
    await secret('ca-key', a.keyPem);
    const provided = (key: string) => ({
      type: 'Mesh', name: 'provided',
      mtls: { enabledBackend: 'ca-p', backends: [{ name: 'ca-p', type: 'provided', conf: { cert: { secret: 'ca-cert' }, key: { secret: key } } }] },
    });
    const bad = await api(cp.apiUrl, 'PUT', '/meshes/provided', provided('wrong-key'));
    expect(bad.status).toBe(400);
    expect((bad.body as { invalid_parameters: unknown[] }).invalid_parameters).toContainEqual({
      field: 'mtls.backends[0].conf',
      reason: 'could not load CA: certificate and private key do not match',
    });
    const missing = await api(cp.apiUrl, 'PUT', '/meshes/provided', provided('no-such-secret'));
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toContain('no-such-secret');
    // Nothing changed: the mesh still has no mTLS.
    expect(((await api(cp.apiUrl, 'GET', '/meshes/provided')).body as { mtls?: unknown }).mtls).toBeUndefined();
    await put('/meshes/provided', provided('ca-key'));
  });

  it('rotates certificates under steady traffic without dropping a request', async () => {
    await put('/meshes/default', meshWithMtls('default', 'STRICT', '4s'));
    const ca = await meshCa('default');
    const serials = new Set<string>();
    let failures = 0;
    let requests = 0;
    const deadline = Date.now() + 11_000;
    const probe = setInterval(() => {
      peerCertificate(ports.webInbound!, ca).then((c) => serials.add(c.serialNumber), () => undefined);
    }, 250);
    try {
      while (Date.now() < deadline) {
        const r = await webThroughMesh();
        requests++;
        if (r.status !== 200) failures++;
        await new Promise((res) => setTimeout(res, 10));
      }
    } finally {
      clearInterval(probe);
    }
    expect(requests).toBeGreaterThan(200);
    expect(failures).toBe(0);
    // 4s certificates renewed at 80% of their life: at least two renewals in 11s.
    expect(serials.size).toBeGreaterThanOrEqual(3);
  }, 30_000);
});
