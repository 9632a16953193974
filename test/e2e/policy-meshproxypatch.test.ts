// MeshProxyPatch with a real CP, real `skein dp run` proxies (sidecars and a mesh-scoped zone
// ingress) and real HTTP: patches show in the proxies' config_dump and in traffic (a response
// header, a virtual host answering for its own domain, an HTTP filter, a renamed stat prefix, an
// added listener, a removed listener closing its port); a patch the proxy rejects is NACKed
// (traffic keeps flowing, the NACK shows in the DataplaneInsight and the CP log); a patch the CP
// cannot apply is logged and shown in the insight, and leaves the proxy's config and the other
// proxies' generation alone; a policy of another mesh changes nothing here.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, apiOk, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, adminStat, dataplaneTokenFile, freePort, startDp, startHttpService, writeFile, type RunningDp } from '../dp-harness.js';

function request(port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message, headers: {} }));
  });
}

interface DumpedCluster {
  name: string;
  connect_timeout?: { seconds?: string | number };
}

describe('MeshProxyPatch', () => {
  let cp: RunningCp;
  const dir = tempDir('policy-mpp');
  const dps: Record<string, RunningDp> = {};
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};

  const put = (p: string, body: unknown) => apiOk(cp, 'PUT', p, body);
  const del = (p: string) => apiOk(cp, 'DELETE', p);
  const mpp = (name: string, mods: unknown[], targetRef: Record<string, unknown> = { kind: 'Mesh' }, mesh = 'default') =>
    put(`/meshes/${mesh}/meshproxypatches/${name}`, { type: 'MeshProxyPatch', mesh, name, spec: { targetRef, default: { appendModifications: mods } } });
  const viaClient = (p = '/', headers: Record<string, string> = {}) => request(ports.clientOutbound!, p, headers);
  const dumpOf = (name: string) => adminGet(dps[name]!, '/config_dump');
  const clusterOf = async (dp: string, name: string): Promise<DumpedCluster | undefined> => {
    const dump = JSON.parse(await dumpOf(dp)) as { configs: { dynamic_active_clusters?: { cluster: DumpedCluster }[] }[] };
    return dump.configs.flatMap((c) => c.dynamic_active_clusters ?? []).map((c) => c.cluster).find((c) => c.name === name);
  };
  const logs = () => `${cp.logs().slice(-4000)}\n${Object.values(dps).map((d) => d.logs().slice(-2000)).join('\n')}`;

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    const backend = await startHttpService('backend');
    const lone = await startHttpService('lone');
    servers.push(backend.server, lone.server);
    for (const k of ['backendInbound', 'clientInbound', 'clientOutbound', 'loneInbound', 'ingress']) ports[k] = await freePort();
    await put('/meshes/other', { type: 'Mesh', name: 'other' });
    const dataplane = (mesh: string, name: string, body: string, labels = '') => writeFile(dir, `${name}.yaml`, `type: Dataplane\nmesh: ${mesh}\nname: ${name}\n${labels}networking:\n  address: 127.0.0.1\n${body}`);
    const files = {
      backend: dataplane('default', 'backend', `  inbound:\n    - { port: ${ports.backendInbound}, servicePort: ${backend.port}, tags: { kuma.io/service: backend, kuma.io/protocol: http } }\n`),
      client: dataplane('default', 'client', `  inbound:\n    - { port: ${ports.clientInbound}, servicePort: 1, tags: { kuma.io/service: client } }\n  outbound:\n    - { port: ${ports.clientOutbound}, tags: { kuma.io/service: backend } }\n`),
      lone: dataplane('other', 'lone', `  inbound:\n    - { port: ${ports.loneInbound}, servicePort: ${lone.port}, tags: { kuma.io/service: lone, kuma.io/protocol: http } }\n`),
      // A zone ingress of the CP's own zone: one SNI chain per local service (backend, client).
      ingress: dataplane('default', 'ingress', `  advertisedAddress: 127.0.0.1\n  advertisedPort: ${ports.ingress}\n  listeners:\n    - { type: ZoneIngress, port: ${ports.ingress} }\n`, 'labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress }\n'),
    };
    for (const [name, file] of Object.entries(files)) {
      const mesh = name === 'lone' ? 'other' : 'default';
      dps[name] = startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, mesh, name)]);
    }
    await waitFor(async () => (await viaClient()).status === 200, { timeoutMs: 30_000, what: () => `traffic through the mesh\n${logs()}` });
    await waitFor(async () => (await request(ports.loneInbound!, '/')).status === 200, { timeoutMs: 30_000, what: () => `the other mesh's proxy\n${logs()}` });
    await waitFor(async () => (await dumpOf('ingress')).includes('self_zoneingress_dp_'), { timeoutMs: 30_000, what: () => `the zone ingress listener\n${logs()}` });
  });

  afterAll(async () => {
    for (const dp of Object.values(dps)) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
  });

  it('patches clusters, filters and virtual hosts: seen in config_dump and in traffic; removing the policy restores', async () => {
    await mpp('patch', [
      { cluster: { match: { name: 'backend', origin: 'outbound' }, operation: 'Patch', value: 'connect_timeout: 7s' } },
      { networkFilter: { match: { name: 'envoy.filters.network.http_connection_manager', origin: 'inbound', listenerTags: { 'kuma.io/service': 'backend' } }, operation: 'Patch', jsonPatches: [{ op: 'replace', path: '/statPrefix', value: 'patched_backend' }] } },
      { virtualHost: { match: { origin: 'inbound', name: 'backend' }, operation: 'Patch', value: 'responseHeadersToAdd: [{header: {key: x-patched, value: by-mpp}}]' } },
      { virtualHost: { match: { origin: 'inbound' }, operation: 'Add', value: 'name: teapot\ndomains: [teapot.example]\nroutes:\n- match: {prefix: /}\n  directResponse: {status: 418, body: {inlineString: short and stout}}' } },
      {
        httpFilter: {
          match: { name: 'envoy.filters.http.router', origin: 'outbound' },
          operation: 'AddBefore',
          value: "name: envoy.filters.http.fault\ntypedConfig:\n  '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault\n  abort: {httpStatus: 451, percentage: {numerator: 100}}\n  headers: [{name: x-patched-fault, presentMatch: true}]",
        },
      },
    ]);
    await waitFor(async () => Number((await clusterOf('client', 'backend'))?.connect_timeout?.seconds) === 7, { timeoutMs: 30_000, what: () => `the patched connect_timeout\n${logs()}` });
    // The virtual host added to the backend's inbound answers for its domain; others still reach the service.
    await waitFor(async () => (await request(ports.backendInbound!, '/', { host: 'teapot.example' })).status === 418, { timeoutMs: 30_000, what: () => `the added virtual host\n${logs()}` });
    expect((await request(ports.backendInbound!, '/', { host: 'teapot.example' })).body).toBe('short and stout');
    // The header the patch adds on the backend's inbound virtual host reaches the client.
    const hello = await viaClient('/hello');
    expect(hello.status).toBe(200);
    expect(hello.headers['x-patched']).toBe('by-mpp');
    // The HTTP filter inserted on the client's outbound aborts the requests it matches.
    await waitFor(async () => (await viaClient('/', { 'x-patched-fault': '1' })).status === 451, { timeoutMs: 30_000, what: () => `the added fault filter\n${logs()}` });
    expect((await viaClient('/')).status).toBe(200);
    // The backend's inbound HCM counts under its new stat prefix.
    expect(await adminStat(dps.backend!, 'http.patched_backend.downstream_rq_total')).toBeGreaterThan(0);
    expect(await dumpOf('backend')).toMatch(/"stat_prefix":\s*"patched_backend"/);

    // A policy of another mesh: its proxy only.
    expect(await dumpOf('lone')).not.toContain('teapot');
    await mpp('lone-only', [{ virtualHost: { match: { origin: 'inbound' }, operation: 'Add', value: 'name: lone-extra\ndomains: [lone.example]\nroutes:\n- match: {prefix: /}\n  directResponse: {status: 404}' } }], { kind: 'Mesh' }, 'other');
    await waitFor(async () => (await dumpOf('lone')).includes('lone-extra'), { timeoutMs: 30_000, what: () => `the other mesh's patch\n${logs()}` });
    expect(await dumpOf('lone')).not.toContain('teapot');
    expect(await dumpOf('backend')).not.toContain('lone-extra');
    expect(await dumpOf('client')).not.toContain('lone-extra');
    await del('/meshes/other/meshproxypatches/lone-only');

    await del('/meshes/default/meshproxypatches/patch');
    await waitFor(async () => (await request(ports.backendInbound!, '/', { host: 'teapot.example' })).status === 200, { timeoutMs: 30_000, what: () => `the virtual host to go\n${logs()}` });
    await waitFor(async () => (await viaClient('/', { 'x-patched-fault': '1' })).status === 200, { timeoutMs: 30_000, what: () => `the fault filter to go\n${logs()}` });
    expect(Number((await clusterOf('client', 'backend'))?.connect_timeout?.seconds)).toBe(5);
    expect((await viaClient('/hello')).headers['x-patched']).toBeUndefined();
  });

  it('Remove of a listener closes its port; removing the policy opens it again', async () => {
    await mpp('no-outbound', [{ listener: { match: { name: `outbound:127.0.0.1:${ports.clientOutbound}` }, operation: 'Remove' } }], { kind: 'Dataplane', name: 'client' });
    await waitFor(async () => (await viaClient()).status === 0, { timeoutMs: 30_000, what: () => `the outbound listener to close\n${logs()}` });
    expect(await dumpOf('client')).not.toContain(`outbound:127.0.0.1:${ports.clientOutbound}`);
    await del('/meshes/default/meshproxypatches/no-outbound');
    await waitFor(async () => (await viaClient()).status === 200, { timeoutMs: 30_000, what: () => `the outbound listener back\n${logs()}` });
  });

  it('Add of a listener opens a new port that proxies to a mesh service', async () => {
    const port = await freePort();
    const added = `name: added\naddress: {socketAddress: {address: 127.0.0.1, portValue: ${port}}}\nfilterChains:\n- filters:\n  - name: envoy.filters.network.tcp_proxy\n    typedConfig: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, statPrefix: added, cluster: backend}`;
    await mpp('added-listener', [{ listener: { operation: 'Add', value: added } }], { kind: 'Dataplane', name: 'client' });
    await waitFor(async () => (await request(port, '/through-added')).status === 200, { timeoutMs: 30_000, what: () => `traffic through the added listener\n${logs()}` });
    expect((await request(port, '/through-added')).body).toBe('backend says hi to /through-added');
    await del('/meshes/default/meshproxypatches/added-listener');
    await waitFor(async () => (await request(port, '/')).status === 0, { timeoutMs: 30_000, what: () => `the added listener to close\n${logs()}` });
  });

  it('a patch the proxy cannot take is NACKed: it keeps its last good config and the NACK shows over the API', async () => {
    await mpp('breaking', [{ cluster: { match: { name: 'backend' }, operation: 'Patch', value: 'perConnectionBufferLimitBytes: 32768' } }], { kind: 'Dataplane', name: 'client' });
    let last = '';
    const overview = async () => (last = JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/client/_overview')).body));
    await waitFor(async () => (await overview()).includes('per_connection_buffer_limit_bytes'), { timeoutMs: 30_000, what: () => `the NACK in the insight\n${last}\n${logs()}` });
    expect(await overview()).toContain('lastNack');
    await waitFor(() => cp.logs().includes('proxy rejected configuration (NACK)'), { timeoutMs: 30_000, what: () => `the NACK in the CP log\n${logs()}` });
    expect((await viaClient('/still')).status).toBe(200);
    expect(await dumpOf('client')).not.toContain('per_connection_buffer_limit_bytes');
    await del('/meshes/default/meshproxypatches/breaking');
    // A listener on a port another proxy holds: the proxy cannot bind it and NACKs the listeners.
    const busy = `name: busy\naddress: {socketAddress: {address: 127.0.0.1, portValue: ${ports.backendInbound}}}\nfilterChains:\n- filters:\n  - name: envoy.filters.network.tcp_proxy\n    typedConfig: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, statPrefix: busy, cluster: backend}`;
    await mpp('busy-port', [{ listener: { operation: 'Add', value: busy } }], { kind: 'Dataplane', name: 'client' });
    await waitFor(async () => (await overview()).includes(`cannot bind 127.0.0.1:${ports.backendInbound}`), { timeoutMs: 30_000, what: () => `the bind failure NACK\n${last}\n${logs()}` });
    expect((await viaClient('/still')).status).toBe(200);
    expect(await dumpOf('client')).not.toContain('"name": "busy"');
    await del('/meshes/default/meshproxypatches/busy-port');
    // Back to a config the proxy takes: a later patch of the same cluster is applied again.
    await mpp('after-nack', [{ cluster: { match: { name: 'backend' }, operation: 'Patch', value: 'connectTimeout: 6s' } }], { kind: 'Dataplane', name: 'client' });
    await waitFor(async () => Number((await clusterOf('client', 'backend'))?.connect_timeout?.seconds) === 6, { timeoutMs: 30_000, what: () => `a good patch after the NACK\n${logs()}` });
    await del('/meshes/default/meshproxypatches/after-nack');
    expect((await viaClient()).status).toBe(200);
  });

  it('a patch the CP cannot apply is logged; the proxy keeps its config and other proxies still get theirs', async () => {
    await mpp('bad-path', [{ cluster: { match: { name: 'backend' }, operation: 'Patch', jsonPatches: [{ op: 'replace', path: '/outlierDetection/interval', value: '1s' }] } }], { kind: 'Dataplane', name: 'client' });
    await waitFor(() => cp.logs().includes('MeshProxyPatch \\"bad-path\\"') || cp.logs().includes('MeshProxyPatch "bad-path"'), { timeoutMs: 30_000, what: () => `the CP to log the failed patch\n${logs()}` });
    expect(cp.logs()).toContain('jsonPatches[0] (replace /outlierDetection/interval)');
    // ... and shows in the proxy's DataplaneInsight until generation works again.
    let last = '';
    const overview = async () => (last = JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/client/_overview')).body));
    await waitFor(async () => (await overview()).includes('lastGenerationError'), { timeoutMs: 30_000, what: () => `the failure in the insight\n${last}` });
    expect(last).toContain('MeshProxyPatch \\"bad-path\\"');
    // A value the CP cannot encode is warned about when the policy is stored.
    const stored = await api(cp.apiUrl, 'PUT', '/meshes/default/meshproxypatches/bad-value', {
      type: 'MeshProxyPatch', mesh: 'default', name: 'bad-value',
      spec: { targetRef: { kind: 'Dataplane', name: 'client' }, default: { appendModifications: [{ cluster: { match: { name: 'backend' }, operation: 'Patch', value: 'conectTimeout: 1s' } }] } },
    });
    expect(JSON.stringify(stored.body)).toContain('unknown field \\"conectTimeout\\" in envoy.config.cluster.v3.Cluster');
    await del('/meshes/default/meshproxypatches/bad-value');
    expect((await viaClient()).status).toBe(200);
    // The backend is regenerated as usual meanwhile.
    await mpp('backend-vh', [{ virtualHost: { match: { origin: 'inbound' }, operation: 'Add', value: 'name: while-broken\ndomains: [broken.example]\nroutes:\n- match: {prefix: /}\n  directResponse: {status: 418}' } }], { kind: 'Dataplane', name: 'backend' });
    await waitFor(async () => (await request(ports.backendInbound!, '/', { host: 'broken.example' })).status === 418, { timeoutMs: 30_000, what: () => `the backend's patch\n${logs()}` });
    expect((await viaClient()).status).toBe(200);
    await del('/meshes/default/meshproxypatches/bad-path');
    await waitFor(async () => !(await overview()).includes('lastGenerationError'), { timeoutMs: 30_000, what: () => `the failure to clear from the insight\n${last}` });
    await del('/meshes/default/meshproxypatches/backend-vh');
    await waitFor(async () => (await request(ports.backendInbound!, '/', { host: 'broken.example' })).status === 200, { timeoutMs: 30_000, what: () => `the backend's patch to go\n${logs()}` });
  });

  it('patches a mesh-scoped zone proxy', async () => {
    await mpp('zone', [
      { networkFilter: { match: { name: 'envoy.filters.network.tcp_proxy', origin: 'ingress' }, operation: 'Patch', jsonPatches: [{ op: 'replace', path: '/stat_prefix', value: 'zone_patched' }] } },
      { cluster: { match: { origin: 'ingress' }, operation: 'Patch', value: 'connectTimeout: 4s' } },
    ], { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } });
    await waitFor(async () => /"stat_prefix":\s*"zone_patched"/.test(await dumpOf('ingress')), { timeoutMs: 30_000, what: () => `the zone proxy's patch\n${logs()}` });
    expect(Number((await clusterOf('ingress', 'ingress:backend'))?.connect_timeout?.seconds)).toBe(4);
    // Sidecars are not selected by that targetRef.
    expect(Number((await clusterOf('client', 'backend'))?.connect_timeout?.seconds)).toBe(5);
    await del('/meshes/default/meshproxypatches/zone');
    await waitFor(async () => !(await dumpOf('ingress')).includes('zone_patched'), { timeoutMs: 30_000, what: () => `the zone proxy's patch to go\n${logs()}` });
  });
});
