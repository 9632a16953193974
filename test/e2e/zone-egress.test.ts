// Mesh-scoped zone egress toward a MeshExternalService (SKEIN-SPEC §2), with real processes: one CP,
// a builtin-mTLS mesh, an egress zone proxy and a client whose outbound names the external service
// `httpbin` (a local plain TCP echo server). The client's sidecar dials the egress over mTLS with
// SNI `sni.extsvc.default.httpbin.<port>`; the egress terminates it, is deny-all until a
// MeshTrafficPermission targeting it allows that SNI, and then opens a plain connection to the
// external endpoint.
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminStat, dataplaneTokenFile, freePort, startDp, startEchoService, tcpEcho, writeSidecar, type RunningDp, writeZoneEgress } from '../dp-harness.js';

describe('zone egress to a MeshExternalService', () => {
  let cp: RunningCp;
  let egress: RunningDp;
  const dps: RunningDp[] = [];
  const servers: net.Server[] = [];
  const ports: Record<string, number> = {};
  const dir = tempDir('zoneegress');

  const token = (mesh: string, name: string) => dataplaneTokenFile(cp, dir, mesh, name);

  async function put(path: string, body: unknown): Promise<void> {
    const res = await api(cp.apiUrl, 'PUT', path, body);
    expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
  }

  const callExternal = () => tcpEcho(ports.httpbinOutbound!, 'ping').catch((err: Error) => err.message);

  /** A counter of the DP's admin /stats (0 when absent). */
  const stat = adminStat;

  const sni = () => `sni.extsvc.default.httpbin.${ports.external}`;
  const chainPrefix = () => `self_zoneegress_dp_${ports.egress}_egress_httpbin`;

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    await put('/meshes/default', {
      type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] }, routing: { zoneEgress: true },
    });
    const echo = await startEchoService();
    servers.push(echo.server);
    ports.external = echo.port;
    for (const k of ['egress', 'clientInbound', 'clientService', 'httpbinOutbound']) ports[k] = await freePort();

    await put('/meshes/default/meshexternalservices/httpbin', {
      type: 'MeshExternalService', mesh: 'default', name: 'httpbin',
      spec: { match: { type: 'HostnameGenerator', port: echo.port, protocol: 'tcp' }, endpoints: [{ address: '127.0.0.1', port: echo.port }] },
    });

    const zoneEgress = writeZoneEgress(dir, 'default', ports.egress!);
    const client = writeSidecar(dir, {
      name: 'client',
      inbound: { port: ports.clientInbound!, servicePort: ports.clientService!, service: 'client' },
      outbound: [{ port: ports.httpbinOutbound!, service: 'httpbin' }],
    });
    egress = startDp(cp, ['-d', zoneEgress, '--dataplane-token-file', await token('default', 'egress')]);
    dps.push(egress);
    dps.push(startDp(cp, ['-d', client, '--dataplane-token-file', await token('default', 'client')]));
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
  });

  it('validates MeshExternalService and the sni matches of MeshTrafficPermission', async () => {
    const mes = await api(cp.apiUrl, 'PUT', '/meshes/default/meshexternalservices/bad', {
      type: 'MeshExternalService', mesh: 'default', name: 'bad', spec: { match: { type: 'HostnameGenerator', protocol: 'smtp' }, endpoints: [] },
    });
    expect(mes.status).toBe(400);
    const mesBody = JSON.stringify(mes.body);
    expect(mesBody).toContain('spec.match.port');
    expect(mesBody).toContain('spec.match.protocol');
    expect(mesBody).toContain('spec.endpoints');

    const mtp = await api(cp.apiUrl, 'PUT', '/meshes/default/meshtrafficpermissions/bad-sni', {
      type: 'MeshTrafficPermission', mesh: 'default', name: 'bad-sni',
      spec: { targetRef: { kind: 'Mesh' }, rules: [{ default: { allow: [{ sni: { type: 'Prefix', value: 'x' } }, { sni: {} }] } }] },
    });
    expect(mtp.status).toBe(400);
    const mtpBody = JSON.stringify(mtp.body);
    expect(mtpBody).toContain('unrecognized type \\"Prefix\\", supported values are: Exact');
    expect(mtpBody).toContain('spec.rules[0].default.allow[1].sni.type');
    expect(mtpBody).toContain('spec.rules[0].default.allow[1].sni.value');
  });

  it('sends the client to the egress with the external SNI, and the egress denies by default', async () => {
    await waitFor(async () => {
      const dump = JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/client/xds')).body);
      return dump.includes(`"sni":"${sni()}"`) && dump.includes(`"port_value":${ports.egress}`);
    }, { what: 'the client to get the external-service cluster' });
    // The egress may connect after the client: wait for its config too.
    const egressDump = await waitFor(async () => {
      const res = await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/egress/xds');
      const dump = JSON.stringify(res.body);
      return res.status === 200 && dump.includes(`"server_names":["${sni()}"]`) ? dump : undefined;
    }, { what: 'the egress to be configured' });
    expect(egressDump).toContain(`"server_names":["${sni()}"]`);
    expect(egressDump).toContain('DownstreamTlsContext');
    expect(egressDump).toContain(`"port_value":${ports.external}`);

    // The default allow-all policy (`from`) does not open the egress: nothing allows the SNI.
    await waitFor(async () => (await stat(egress, `${chainPrefix()}.rbac.denied`)) > 0 || (await callExternal(), false), {
      timeoutMs: 20_000,
      what: () => `a denied call through the egress\n${dps.map((d) => d.logs()).join('\n')}`,
    });
    expect(await callExternal()).not.toBe('echo:ping');
    expect(await stat(egress, 'cluster.egress:httpbin.upstream_cx_total')).toBe(0);
  });

  it('lets the call through once a MeshTrafficPermission on the egress allows the SNI', async () => {
    await put('/meshes/default/meshtrafficpermissions/egress-httpbin', {
      type: 'MeshTrafficPermission', mesh: 'default', name: 'egress-httpbin',
      spec: {
        targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } },
        rules: [{ default: { allow: [{ sni: { type: 'Exact', value: sni() }, spiffeID: { type: 'Exact', value: 'spiffe://default/client' } }] } }],
      },
    });
    await waitFor(async () => (await callExternal()) === 'echo:ping', { timeoutMs: 20_000, what: () => `the external call to succeed\n${dps.map((d) => d.logs()).join('\n')}` });
    expect(await stat(egress, `${chainPrefix()}.rbac.allowed`)).toBeGreaterThan(0);
    expect(await stat(egress, 'cluster.egress:httpbin.upstream_cx_total')).toBeGreaterThan(0);
  });

  it('denies again for another identity than the one allowed', async () => {
    await put('/meshes/default/meshtrafficpermissions/egress-httpbin', {
      type: 'MeshTrafficPermission', mesh: 'default', name: 'egress-httpbin',
      spec: {
        targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } },
        rules: [{ default: { allow: [{ sni: { type: 'Exact', value: sni() }, spiffeID: { type: 'Exact', value: 'spiffe://default/someone-else' } }] } }],
      },
    });
    await waitFor(async () => (await callExternal()) !== 'echo:ping', { what: 'the external call to be denied again' });
  });
});
