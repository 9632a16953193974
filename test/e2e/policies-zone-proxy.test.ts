// Policies on a mesh-scoped zone proxy (SKEIN-SPEC §3), with real processes and real traffic: one
// CP, a builtin-mTLS mesh `zp` with a zone egress and a client sidecar calling two
// MeshExternalServices through it: `tcpsvc` (a TCP echo server) and `web` (an HTTP server). The
// policies select the egress by its labels and a destination by `rules[].matches[].sni`:
// MeshTimeout's idle timeout (all chains, and one SNI's) and MeshRateLimit's TCP connection rate
// on the `tcpsvc` chain only,
// MeshFaultInjection's abort on the `web` chain (an HCM there). The same policies in mesh `other`
// never reach `zp`'s egress.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminStat, dataplaneTokenFile, freePort, httpGet, startDp, startEchoService, startHttpService, tcpEcho, writeSidecar, type RunningDp, writeZoneEgress } from '../dp-harness.js';

const MTLS = { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] };

describe('policies on a mesh-scoped zone egress', () => {
  let cp: RunningCp;
  let egress: RunningDp;
  const dps: RunningDp[] = [];
  const servers: { close(): unknown }[] = [];
  const ports: Record<string, number> = {};
  const dir = tempDir('policies-zp');

  async function put(path: string, body: unknown): Promise<void> {
    const res = await api(cp.apiUrl, 'PUT', path, body);
    expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
  }

  const egressXds = async () => JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/zp/dataplanes/egress/xds')).body);
  const tcpSni = () => `sni.extsvc.zp.tcpsvc.${ports.tcpsvc}`;
  const webSni = () => `sni.extsvc.zp.web.${ports.web}`;
  const tcpChain = () => `self_zoneegress_dp_${ports.egress}_egress_tcpsvc`;
  const logs = () => `${dps.map((d) => d.logs()).join('\n')}\nCP:\n${cp.logs().split('\n').filter((l) => /"level":[456]0/.test(l)).join('\n')}`;
  const callTcp = () => tcpEcho(ports.tcpOutbound!, 'ping').catch((err: Error) => err.message);
  const callWeb = () => httpGet(ports.webOutbound!, '/hello').catch((err: Error) => ({ status: 0, body: err.message }));

  /** A MeshTimeout, MeshRateLimit and MeshFaultInjection on every zone proxy of `mesh`, with values `zp` never uses. */
  async function putElsewhere(mesh: string): Promise<void> {
    const targetRef = { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } };
    await put(`/meshes/${mesh}/meshtimeouts/zp-elsewhere`, { type: 'MeshTimeout', mesh, name: 'zp-elsewhere', spec: { targetRef, rules: [{ default: { idleTimeout: '77s', connectionTimeout: '7s' } }] } });
    await put(`/meshes/${mesh}/meshratelimits/zp-elsewhere`, { type: 'MeshRateLimit', mesh, name: 'zp-elsewhere', spec: { targetRef, rules: [{ default: { local: { tcp: { connectionRate: { num: 77, interval: '1s' } } } } }] } });
    await put(`/meshes/${mesh}/meshfaultinjections/zp-elsewhere`, { type: 'MeshFaultInjection', mesh, name: 'zp-elsewhere', spec: { targetRef, rules: [{ default: { http: [{ abort: { httpStatus: 577, percentage: 100 } }] } }] } });
  }

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    // routing.zoneEgress: sidecars reach external services through the egress, not directly.
    await put('/meshes/zp', { type: 'Mesh', name: 'zp', mtls: MTLS, routing: { zoneEgress: true } });
    await put('/meshes/other', { type: 'Mesh', name: 'other', mtls: MTLS });
    const echo = await startEchoService();
    const web = await startHttpService('web');
    servers.push(echo.server, web.server);
    ports.tcpsvc = echo.port;
    ports.web = web.port;
    for (const k of ['egress', 'clientInbound', 'clientService', 'tcpOutbound', 'webOutbound']) ports[k] = await freePort();

    for (const [name, port, protocol] of [['tcpsvc', echo.port, 'tcp'], ['web', web.port, 'http']] as const) {
      await put(`/meshes/zp/meshexternalservices/${name}`, {
        type: 'MeshExternalService', mesh: 'zp', name,
        spec: { match: { type: 'HostnameGenerator', port, protocol }, endpoints: [{ address: '127.0.0.1', port }] },
      });
    }
    // The egress is deny-all until a MeshTrafficPermission on it lets the client through.
    await put('/meshes/zp/meshtrafficpermissions/egress-client', {
      type: 'MeshTrafficPermission', mesh: 'zp', name: 'egress-client',
      spec: { targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } }, rules: [{ default: { allow: [{ spiffeID: { type: 'Exact', value: 'spiffe://zp/client' } }] } }] },
    });

    // Every chain of the egress closes connections idle for 1 s. Connections accepted before a
    // listener update keep their chain (as in Envoy): this makes the client's pooled connections
    // short-lived, so that the tests' later policies reach its next requests.
    await put('/meshes/zp/meshtimeouts/egress-idle', {
      type: 'MeshTimeout', mesh: 'zp', name: 'egress-idle',
      spec: { targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } }, rules: [{ default: { idleTimeout: '1s' } }] },
    });

    const zoneEgress = writeZoneEgress(dir, 'zp', ports.egress!);
    const client = writeSidecar(dir, {
      name: 'client',
      mesh: 'zp',
      inbound: { port: ports.clientInbound!, servicePort: ports.clientService!, service: 'client' },
      outbound: [{ port: ports.tcpOutbound!, service: 'tcpsvc' }, { port: ports.webOutbound!, service: 'web' }],
    });
    egress = startDp(cp, ['-d', zoneEgress, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'zp', 'egress')]);
    dps.push(egress);
    dps.push(startDp(cp, ['-d', client, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'zp', 'client')]));
    await waitFor(async () => (await callTcp()) === 'echo:ping' && (await callWeb()).status === 200, { timeoutMs: 30_000, what: () => `both external services to answer through the egress\n${logs()}` });
    expect(await adminStat(egress, 'cluster.egress:tcpsvc.upstream_cx_total')).toBeGreaterThan(0);
    expect(await adminStat(egress, 'cluster.egress:web.upstream_cx_total')).toBeGreaterThan(0);
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
  });

  it("MeshTimeout: the idle timeout of one SNI's chain closes an idle connection; another mesh's timeouts never show up", async () => {
    await putElsewhere('other');
    await put('/meshes/zp/meshtimeouts/egress-tcpsvc', {
      type: 'MeshTimeout', mesh: 'zp', name: 'egress-tcpsvc',
      spec: { targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } }, rules: [{ matches: [{ sni: { type: 'Exact', value: tcpSni() } }], default: { idleTimeout: '4s' } }] },
    });
    const dump = await waitFor(async () => {
      const text = await egressXds();
      return text.includes('"idle_timeout":{"seconds":"4"}') ? text : undefined;
    }, { timeoutMs: 30_000, what: () => `the egress to get the idle timeout\n${logs()}` });
    // The SNI rule on the tcpsvc chain, the catch-all one (1 s) on the web chain.
    expect(dump).toContain('"idle_timeout":{"seconds":"1"}');
    // Mesh `other`'s policies (written first) are nowhere in zp's egress.
    expect(dump).not.toContain('"seconds":"77"');
    expect(dump).not.toContain('"seconds":"7"');
    expect(dump).not.toContain('local_ratelimit');
    expect(dump).not.toContain('577');

    // An idle connection through the client's sidecar is closed by the egress within seconds.
    const started = Date.now();
    const closedAfterMs = await new Promise<number>((resolve, reject) => {
      const socket = net.connect(ports.tcpOutbound!, '127.0.0.1', () => socket.write('ping'));
      socket.setTimeout(30_000, () => socket.destroy(new Error('still open after 30 s')));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve(Date.now() - started));
      socket.on('error', reject);
    });
    expect(closedAfterMs).toBeGreaterThanOrEqual(3_500);
    expect(closedAfterMs).toBeLessThan(25_000);
    await waitFor(async () => (await adminStat(egress, `tcp.${tcpChain()}.idle_timeout`)) > 0, { what: () => `the egress to count the idle timeout\n${logs()}` });
  });

  it("MeshRateLimit: the TCP connection rate of one SNI's chain refuses connections there, the other chain keeps serving", async () => {
    await put('/meshes/zp/meshratelimits/egress-tcpsvc', {
      type: 'MeshRateLimit', mesh: 'zp', name: 'egress-tcpsvc',
      spec: {
        targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } },
        rules: [{ matches: [{ sni: { type: 'Exact', value: tcpSni() } }], default: { local: { tcp: { connectionRate: { num: 1, interval: '10m' } } } } }],
      },
    });
    await waitFor(async () => (await egressXds()).includes('envoy.filters.network.local_ratelimit'), { timeoutMs: 30_000, what: () => `the egress to get the rate limit\n${logs()}` });
    // One connection per 10 minutes: after at most one more success, calls are refused.
    await waitFor(async () => (await callTcp()) !== 'echo:ping' && (await adminStat(egress, 'local_rate_limit.tcp_rate_limit.rate_limited')) > 0, {
      timeoutMs: 20_000,
      what: () => `a rate-limited TCP call\n${logs()}`,
    });
    expect(await callTcp()).not.toBe('echo:ping');
    for (let i = 0; i < 5; i++) expect((await callWeb()).status).toBe(200);
  });

  it('MeshFaultInjection: an abort on the HTTP external service chain (the egress speaks HTTP there)', async () => {
    expect(await callWeb()).toEqual({ status: 200, body: 'web says hi to /hello' });
    await put('/meshes/zp/meshfaultinjections/egress-web', {
      type: 'MeshFaultInjection', mesh: 'zp', name: 'egress-web',
      spec: { targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } }, rules: [{ matches: [{ sni: { type: 'Exact', value: webSni() } }], default: { http: [{ abort: { httpStatus: 418, percentage: 100 } }] } }] },
    });
    // Polled slower than the egress's idle timeout: each call finds the pooled connection gone.
    await waitFor(async () => (await callWeb()).status === 418, { timeoutMs: 30_000, intervalMs: 1_500, what: () => `the abort through the egress\n${logs()}` });
    const dump = await egressXds();
    expect(dump).toContain('envoy.filters.http.fault');
    expect(dump).not.toContain('577');
  });
});
