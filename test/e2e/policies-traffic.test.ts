// The traffic policies Skein generates into sidecars, with a real CP, real data planes and real
// HTTP: MeshTimeout (request timeout → 504), MeshRateLimit (local limit → 429), MeshFaultInjection
// (abort → the configured status), and that a policy of one mesh leaves another mesh's proxy alone.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, apiOk, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, dataplaneTokenFile, freePort, httpGet, startDp, startHttpService, writeFile, type RunningDp } from '../dp-harness.js';

describe('traffic policies on sidecars', () => {
  let cp: RunningCp;
  const dir = tempDir('policies-traffic');
  const dps: Record<string, RunningDp> = {};
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};

  const put = (p: string, body: unknown) => apiOk(cp, 'PUT', p, body);
  const del = (p: string) => apiOk(cp, 'DELETE', p);
  const viaClient = (p = '/') => httpGet(ports.clientOutbound!, p).catch((err: Error) => ({ status: 0, body: err.message }));
  const dumpOf = (name: string) => adminGet(dps[name]!, '/config_dump');

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    // `/slow` answers after 1.5 s (longer than the MeshTimeout below), anything else at once.
    const slow = http.createServer((req, res) => (req.url === '/slow' ? setTimeout(() => res.end('slow'), 1500) : res.end(`backend says hi to ${req.url}`)));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    const lone = await startHttpService('lone');
    servers.push(slow, lone.server);
    for (const k of ['backendInbound', 'clientInbound', 'clientOutbound', 'loneInbound']) ports[k] = await freePort();
    await put('/meshes/other', { type: 'Mesh', name: 'other' });
    const dataplane = (mesh: string, name: string, body: string) => writeFile(dir, `${name}.yaml`, `type: Dataplane\nmesh: ${mesh}\nname: ${name}\nnetworking:\n  address: 127.0.0.1\n${body}`);
    const files = {
      backend: dataplane('default', 'backend', `  inbound:\n    - { port: ${ports.backendInbound}, servicePort: ${(slow.address() as AddressInfo).port}, tags: { kuma.io/service: backend, kuma.io/protocol: http } }\n`),
      client: dataplane('default', 'client', `  inbound:\n    - { port: ${ports.clientInbound}, servicePort: 1, tags: { kuma.io/service: client } }\n  outbound:\n    - { port: ${ports.clientOutbound}, tags: { kuma.io/service: backend } }\n`),
      lone: dataplane('other', 'lone', `  inbound:\n    - { port: ${ports.loneInbound}, servicePort: ${lone.port}, tags: { kuma.io/service: lone, kuma.io/protocol: http } }\n`),
    };
    for (const [name, file] of Object.entries(files)) {
      const mesh = name === 'lone' ? 'other' : 'default';
      dps[name] = startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, mesh, name)]);
    }
    await waitFor(async () => (await viaClient()).status === 200, { timeoutMs: 30_000, what: () => `traffic through the mesh\n${Object.values(dps).map((d) => d.logs()).join('\n')}` });
    await waitFor(async () => (await httpGet(ports.loneInbound!).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 30_000, what: 'the other mesh proxy' });
  });

  afterAll(async () => {
    for (const dp of Object.values(dps)) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
  });

  it('the default MeshTimeout gives the outbound route its 15 s request timeout', async () => {
    const dump = JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/client/xds')).body);
    expect(dump).toContain('"timeout":{"seconds":"15"}');
    expect((await viaClient('/slow')).status).toBe(200);
  });

  it('MeshTimeout: a short http.requestTimeout to a slow service gives 504', async () => {
    await put('/meshes/default/meshtimeouts/short', {
      type: 'MeshTimeout', mesh: 'default', name: 'short',
      spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: { http: { requestTimeout: '300ms' } } }] },
    });
    await waitFor(async () => (await viaClient('/slow')).status === 504, { what: 'the request timeout' });
    expect((await viaClient('/slow')).body).toContain('upstream request timeout');
    expect((await viaClient('/fast')).status).toBe(200);
    await del('/meshes/default/meshtimeouts/short');
    await waitFor(async () => (await viaClient('/slow')).status === 200, { what: 'the default timeout back' });
  });

  it('MeshRateLimit: the 3rd request within the interval gets 429', async () => {
    await put('/meshes/default/meshratelimits/backend-rl', {
      type: 'MeshRateLimit', mesh: 'default', name: 'backend-rl',
      spec: {
        targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] },
        from: [{ targetRef: { kind: 'Mesh' }, default: { local: { http: { requestRate: { num: 2, interval: '30s' }, onRateLimit: { headers: { add: [{ name: 'x-limited', value: 'yes' }] } } } } } }],
      },
    });
    // Wait on the backend proxy's own config, not on traffic (which would spend the tokens).
    await waitFor(async () => (await dumpOf('backend')).includes('local_ratelimit'), { what: 'the rate limit filter on the backend proxy' });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await viaClient(`/rl-${i}`)).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect(statuses.filter((s) => s === 429).length).toBe(1);
    await del('/meshes/default/meshratelimits/backend-rl');
    await waitFor(async () => !(await dumpOf('backend')).includes('local_ratelimit'), { what: 'the rate limit to go' });
    expect((await viaClient()).status).toBe(200);
  });

  it('MeshFaultInjection: a 100% abort answers with its status from the inbound; other meshes are untouched', async () => {
    await put('/meshes/default/meshfaultinjections/backend-abort', {
      type: 'MeshFaultInjection', mesh: 'default', name: 'backend-abort',
      spec: { targetRef: { kind: 'Mesh' }, rules: [{ default: { http: [{ abort: { httpStatus: 503, percentage: 100 } }] } }] },
    });
    await waitFor(async () => (await viaClient()).status === 503, { what: 'the injected abort' });
    // Straight to the backend's inbound too (no mTLS here): the fault is the inbound's.
    expect((await httpGet(ports.backendInbound!)).status).toBe(503);
    expect(await dumpOf('backend')).toContain('envoy.filters.http.fault');
    // The other mesh's proxy has none of mesh default's policies.
    const lone = await dumpOf('lone');
    expect(lone).toContain(`inbound:127.0.0.1:${ports.loneInbound}`);
    expect(lone).not.toContain('envoy.filters.http.fault');
    expect(lone).not.toContain('local_ratelimit');
    expect((await httpGet(ports.loneInbound!)).status).toBe(200);
    await del('/meshes/default/meshfaultinjections/backend-abort');
    await waitFor(async () => (await viaClient()).status === 200, { what: 'traffic back after the fault is removed' });
  });

  it('MeshFaultInjection: a 50% abort fails about half the requests; a delay holds each one back', async () => {
    await put('/meshes/default/meshfaultinjections/half', {
      type: 'MeshFaultInjection', mesh: 'default', name: 'half',
      spec: { targetRef: { kind: 'Mesh' }, rules: [{ default: { http: [{ abort: { httpStatus: 500, percentage: 50 } }] } }] },
    });
    await waitFor(async () => (await viaClient()).status === 500, { what: 'the first injected abort', timeoutMs: 20_000 });
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) statuses.push((await httpGet(ports.backendInbound!)).status);
    const aborted = statuses.filter((s) => s === 500).length;
    // Binomial(200, 0.5): 100 ± 35 is more than 4.9 standard deviations wide.
    expect(aborted).toBeGreaterThan(65);
    expect(aborted).toBeLessThan(135);
    expect(statuses.filter((s) => s !== 500).every((s) => s === 200)).toBe(true);

    await put('/meshes/default/meshfaultinjections/half', {
      type: 'MeshFaultInjection', mesh: 'default', name: 'half',
      spec: { targetRef: { kind: 'Mesh' }, rules: [{ default: { http: [{ delay: { value: '600ms', percentage: 100 } }] } }] },
    });
    const timed = async () => {
      const started = Date.now();
      const res = await httpGet(ports.backendInbound!);
      return { status: res.status, ms: Date.now() - started };
    };
    await waitFor(async () => { const r = await timed(); return r.status === 200 && r.ms >= 600; }, { what: 'the injected delay', timeoutMs: 20_000 });
    await del('/meshes/default/meshfaultinjections/half');
    await waitFor(async () => { const r = await timed(); return r.status === 200 && r.ms < 500; }, { what: 'no delay once the policy is gone', timeoutMs: 20_000 });
  });
});
