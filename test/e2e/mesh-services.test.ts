/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are inspected field by field */
// MeshService routing modes, MeshExternalService TLS origination and forbidden-by-default external
// access, on one standalone CP with real data planes and real traffic.
import type http from 'node:http';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, apiOk, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, dataplaneTokenFile, freePort, httpGet, startDp, startHttpService, writeFile, type RunningDp } from '../dp-harness.js';
import { generateSelfSigned } from '../../src/cp/dp-server-cert.js';

const MTLS = { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] };

describe('meshServices.mode', () => {
  let cp: RunningCp;
  const dir = tempDir('msvc');
  const dps: RunningDp[] = [];
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};
  let client: RunningDp;

  const put = (p: string, body: unknown) => apiOk(cp, 'PUT', p, body);
  const setMode = (mode: string) => put('/meshes/default', { type: 'Mesh', name: 'default', mtls: MTLS, meshServices: { mode } });
  const meshServices = async () => ((await api(cp.apiUrl, 'GET', '/meshes/default/meshservices')).body as { items: { name: string }[] }).items.map((i) => i.name).sort();
  const clientListeners = async () => adminGet(client, '/config_dump');
  const tpDump = async () => JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/tp/xds')).body);
  const vipListeners = async () => [...(await tpDump()).matchAll(/"name":"(outbound:241\.[0-9.]+:\d+)"/g)].map((m) => m[1]).filter((v, i, a) => a.indexOf(v) === i);

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    await setMode('Disabled');
    const backend = await startHttpService('backend');
    servers.push(backend.server);
    for (const k of ['backendInbound', 'clientInbound', 'legacyOutbound', 'msOutbound', 'tpInbound', 'tpRedirect']) ports[k] = await freePort();
    const dataplane = (name: string, body: string) => writeFile(dir, `${name}.yaml`, `type: Dataplane\nmesh: default\nname: ${name}\nnetworking:\n  address: 127.0.0.1\n${body}`);
    const token = (name: string) => dataplaneTokenFile(cp, dir, 'default', name);
    const files = {
      backend: dataplane('backend', `  inbound:\n    - { port: ${ports.backendInbound}, servicePort: ${backend.port}, tags: { kuma.io/service: backend, kuma.io/protocol: http } }\n`),
      client: dataplane('client', `  inbound:
    - { port: ${ports.clientInbound}, servicePort: 1, tags: { kuma.io/service: client } }
  outbound:
    - { port: ${ports.legacyOutbound}, tags: { kuma.io/service: backend } }
    - { port: ${ports.msOutbound}, backendRef: { kind: MeshService, name: backend, port: ${ports.backendInbound} } }
`),
      // Registered for its generated config only (the CP's /xds view): a transparent proxy whose
      // listeners on VIPs depend on the mode.
      tp: dataplane('tp', `  inbound:
    - { port: ${ports.tpInbound}, servicePort: 2, tags: { kuma.io/service: tp } }
  transparentProxying:
    redirectPortInbound: ${ports.tpRedirect}
    redirectPortOutbound: ${ports.tpRedirect}
    reachableBackends: { refs: [ { kind: MeshService, name: backend } ] }
`),
    };
    dps.push(startDp(cp, ['-d', files.backend, '--dataplane-token-file', await token('backend')]));
    client = startDp(cp, ['-d', files.client, '--dataplane-token-file', await token('client')]);
    dps.push(client);
    dps.push(startDp(cp, ['-d', files.tp, '--dataplane-token-file', await token('tp')]));
    await waitFor(async () => (await httpGet(ports.legacyOutbound!).catch(() => ({ status: 0 }))).status === 200, {
      timeoutMs: 30_000,
      what: () => `legacy routing to work\n${dps.map((d) => d.logs()).join('\n')}\nCP warnings and errors:\n${cp.logs().split('\n').filter((l) => /"level":[456]0/.test(l)).join('\n')}`,
    });
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
  });

  it('Disabled: no MeshServices, legacy kuma.io/service routing only', async () => {
    expect(await meshServices()).toEqual([]);
    expect(await clientListeners()).toContain(`outbound:127.0.0.1:${ports.legacyOutbound}`);
    expect(await clientListeners()).not.toContain(`outbound:127.0.0.1:${ports.msOutbound}`);
    expect(await vipListeners()).toEqual([]);
  });

  it('Everywhere: MeshServices generated with SNIs and VIPs, both kinds of outbound carry traffic', async () => {
    await setMode('Everywhere');
    await waitFor(async () => (await meshServices()).join() === 'backend,client,tp', { what: 'generated MeshServices' });
    const ms = (await api(cp.apiUrl, 'GET', '/meshes/default/meshservices/backend')).body as Record<string, any>;
    expect(ms.labels['kuma.io/managed-by']).toBe('meshservice-generator');
    expect(ms.spec).toMatchObject({ selector: { dataplaneTags: { 'kuma.io/service': 'backend' } }, ports: [{ port: ports.backendInbound, appProtocol: 'http' }] });
    expect(ms.snis).toEqual([{ port: ports.backendInbound, sni: `sni.msvc.default.backend.${ports.backendInbound}` }]);
    expect(ms.status.vips[0].ip).toMatch(/^241\./);
    expect(ms.status.tls).toEqual({ status: 'Ready' });
    await waitFor(async () => (await httpGet(ports.msOutbound!).catch(() => ({ status: 0 }))).status === 200, { what: 'the MeshService outbound to carry traffic' });
    expect((await httpGet(ports.msOutbound!)).body).toBe('backend says hi to /');
    expect((await httpGet(ports.legacyOutbound!)).status).toBe(200);
    // The client's MeshService cluster sends the MeshService's SNI.
    const dump = JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/client/xds')).body);
    expect(dump).toContain(`"sni":"sni.msvc.default.backend.${ports.backendInbound}"`);
    await waitFor(async () => (await vipListeners()).length === 3, { what: 'a VIP listener per MeshService on the transparent proxy' });
  });

  it('ReachableBackends: a transparent proxy gets only the MeshServices it declares', async () => {
    await setMode('ReachableBackends');
    await waitFor(async () => (await vipListeners()).length === 1, { what: 'only the reachable backend' });
    const vip = ((await api(cp.apiUrl, 'GET', '/meshes/default/meshservices/backend')).body as any).status.vips[0].ip;
    expect(await vipListeners()).toEqual([`outbound:${vip}:${ports.backendInbound}`]);
  });

  it('Exclusive: legacy outbounds are gone, MeshService routing carries on', async () => {
    await setMode('Exclusive');
    await waitFor(async () => !(await clientListeners()).includes(`outbound:127.0.0.1:${ports.legacyOutbound}`), { what: 'the legacy outbound to go' });
    expect((await httpGet(ports.legacyOutbound!).catch(() => ({ status: 0 }))).status).toBe(0);
    expect((await httpGet(ports.msOutbound!)).status).toBe(200);
    expect((await vipListeners()).length).toBe(3);
  });

  it('removes a generated MeshService with its last Dataplane, and all of them when set back to Disabled', async () => {
    await put('/meshes/default/dataplanes/lonely', { type: 'Dataplane', mesh: 'default', name: 'lonely', networking: { address: '127.0.0.1', inbound: [{ port: 1234, tags: { 'kuma.io/service': 'lonely' } }] } });
    await waitFor(async () => (await meshServices()).includes('lonely'), { what: 'MeshService lonely' });
    await api(cp.apiUrl, 'DELETE', '/meshes/default/dataplanes/lonely');
    await waitFor(async () => !(await meshServices()).includes('lonely'), { what: 'MeshService lonely to go' });
    await setMode('Disabled');
    await waitFor(async () => (await meshServices()).length === 0, { what: 'generated MeshServices to go' });
    await waitFor(async () => (await httpGet(ports.legacyOutbound!).catch(() => ({ status: 0 }))).status === 200, { what: 'legacy routing back' });
  });

  it('validates MeshService and MeshMultiZoneService with field-level errors', async () => {
    const bad = await api(cp.apiUrl, 'PUT', '/meshes/default/meshservices/bad', {
      type: 'MeshService', mesh: 'default', name: 'bad',
      spec: { selector: { dataplaneTags: { 'kuma.io/service': 'x' }, dataplaneRef: { name: 'y' } }, ports: [{ port: 0, appProtocol: 'smtp' }], identities: [{ type: 'ServiceTag' }] },
    });
    expect(bad.status).toBe(400);
    const text = JSON.stringify(bad.body);
    for (const field of ['spec.selector', 'spec.ports[0].port', 'spec.ports[0].appProtocol', 'spec.identities[0].value']) expect(text).toContain(field);
    const mzs = await api(cp.apiUrl, 'PUT', '/meshes/default/meshmultizoneservices/bad', { type: 'MeshMultiZoneService', mesh: 'default', name: 'bad', spec: { selector: { meshService: { matchLabels: {} } }, ports: [] } });
    expect(mzs.status).toBe(400);
    expect(JSON.stringify(mzs.body)).toContain('spec.selector.meshService.matchLabels');
    const ok = await api(cp.apiUrl, 'PUT', '/meshes/default/meshmultizoneservices/all-backends', {
      type: 'MeshMultiZoneService', mesh: 'default', name: 'all-backends', spec: { selector: { meshService: { matchLabels: { 'kuma.io/display-name': 'backend' } } }, ports: [{ port: 80, appProtocol: 'http' }] },
    });
    expect(ok.status).toBe(201);
    expect(((await api(cp.apiUrl, 'GET', '/meshes/default/meshmultizoneservices/all-backends')).body as any).snis).toEqual([{ port: 80, sni: 'sni.mzsvc.default.all-backends.80' }]);
  });
});

describe('MeshExternalService from a sidecar', () => {
  let cp: RunningCp;
  const dir = tempDir('mes');
  const dps: RunningDp[] = [];
  let httpsServer: https.Server;
  const ports: Record<string, number> = {};
  let client: RunningDp;

  const put = (p: string, body: unknown) => apiOk(cp, 'PUT', p, body);
  const external = (serverName: string) => ({
    type: 'MeshExternalService', mesh: 'ext', name: 'secure-api',
    spec: {
      match: { type: 'HostnameGenerator', port: 443, protocol: 'http' },
      endpoints: [{ address: '127.0.0.1', port: ports.https }],
      tls: { enabled: true, version: { min: 'TLS12' }, verification: { serverName, caCert: { secret: 'external-ca' } } },
    },
  });
  const call = async () => (await httpGet(ports.outbound!, '/hello').catch((e: Error) => ({ status: 0, body: e.message })));

  beforeAll(async () => {
    const cert = await generateSelfSigned(['external.test']);
    httpsServer = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => res.end(`tls hello ${req.url}`));
    await new Promise<void>((r) => httpsServer.listen(0, '127.0.0.1', () => r()));
    ports.https = (httpsServer.address() as { port: number }).port;
    for (const k of ['inbound', 'outbound']) ports[k] = await freePort();

    cp = await startCp({ store: 'memory' });
    await put('/meshes/ext', { type: 'Mesh', name: 'ext', routing: { defaultForbidMeshExternalServiceAccess: true } });
    await put('/meshes/ext/secrets/external-ca', { type: 'Secret', mesh: 'ext', name: 'external-ca', data: Buffer.from(cert.certPem).toString('base64') });
    await put('/meshes/ext/meshexternalservices/secure-api', external('external.test'));
    const file = writeFile(dir, 'client.yaml', `type: Dataplane
mesh: ext
name: client
networking:
  address: 127.0.0.1
  inbound:
    - { port: ${ports.inbound}, servicePort: 1, tags: { kuma.io/service: client } }
  outbound:
    - { port: ${ports.outbound}, backendRef: { kind: MeshExternalService, name: secure-api } }
`);
    client = startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'ext', 'client')]);
    dps.push(client);
    await waitFor(async () => (await adminGet(client, '/config_dump').catch(() => '')).includes(`inbound:127.0.0.1:${ports.inbound}`), { what: 'the client to be configured' });
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    httpsServer?.close();
    await cp?.stop();
  });

  it('is forbidden by default: the sidecar gets no route to it', async () => {
    expect(await adminGet(client, '/config_dump')).not.toContain(`outbound:127.0.0.1:${ports.outbound}`);
    expect((await call()).status).toBe(0);
  });

  it('is reachable once a MeshTrafficPermission allows the client, with TLS verified against the CA secret', async () => {
    await put('/meshes/ext/meshtrafficpermissions/allow-client', {
      type: 'MeshTrafficPermission', mesh: 'ext', name: 'allow-client',
      spec: { targetRef: { kind: 'MeshExternalService', name: 'secure-api' }, from: [{ targetRef: { kind: 'MeshService', name: 'client' }, default: { action: 'Allow' } }] },
    });
    await waitFor(async () => (await call()).status === 200, { what: () => `the external call over TLS\n${client.logs()}` });
    expect((await call()).body).toBe('tls hello /hello');
    const dump = JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/ext/dataplanes/client/xds')).body);
    expect(dump).toContain('"sni":"external.test"');
    expect(dump).toContain('"tls_minimum_protocol_version":"TLSv1_2"');
  });

  it('fails when the server certificate does not match the expected server name', async () => {
    await put('/meshes/ext/meshexternalservices/secure-api', external('other.test'));
    await waitFor(async () => (await call()).status !== 200, { what: 'the call to fail verification' });
    await put('/meshes/ext/meshexternalservices/secure-api', external('external.test'));
    await waitFor(async () => (await call()).status === 200, { what: 'the call to work again' });
  });
});
