// MeshCircuitBreaker and MeshHealthCheck with a real CP, real `skein dp run` proxies and real HTTP:
// a client sidecar calls service `backend`, served by two sidecars (a and b) in front of two HTTP
// servers that say who they are. b can be made to fail (500), to fail its health path (503), and
// both have a slow path. Responses are counted by backend identity.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, apiOk, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, adminStat, dataplaneTokenFile, freePort, httpGet, startDp, writeFile, type RunningDp, writeZoneEgress } from '../dp-harness.js';

interface Backend {
  server: http.Server;
  port: number;
  /** Status of every request but /health and /slow (200: answers its name). */
  status: number;
  health: number;
  /** x-kuma-tags and x-check of the last health check it got. */
  healthTags?: string;
}

async function backend(name: string): Promise<Backend> {
  const b: Backend = { server: http.createServer(), port: 0, status: 200, health: 200 };
  b.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/health') {
      b.healthTags = `${String(req.headers['x-kuma-tags'])} ${String(req.headers['x-check'])}`;
      res.writeHead(b.health).end();
    } else if (req.url === '/slow') setTimeout(() => res.end(name), 3000); // long enough for all concurrent calls to overlap
    else res.writeHead(b.status).end(name);
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', () => r()));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

/** A GET that also returns the response headers. */
function get(port: number, p = '/'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message, headers: {} }));
  });
}

describe('MeshCircuitBreaker and MeshHealthCheck on sidecars', () => {
  let cp: RunningCp;
  const dir = tempDir('policy-cb-hc');
  const dps: Record<string, RunningDp> = {};
  const backends: Record<string, Backend> = {};
  const ports: Record<string, number> = {};

  const put = (p: string, body: unknown) => apiOk(cp, 'PUT', p, body);
  const del = (p: string) => apiOk(cp, 'DELETE', p);
  const viaClient = (p = '/') => get(ports.clientOutbound!, p);
  const logs = () => [cp.logs(), ...Object.values(dps).map((d) => d.logs())].join('\n');
  const clientClusters = async (): Promise<string> => adminGet(dps.client!, '/config_dump');
  /** The clusters part of the CP's xDS dump of a proxy. */
  const xdsClusters = async (mesh: string, name: string): Promise<string> => {
    const body = (await api(cp.apiUrl, 'GET', `/meshes/${mesh}/dataplanes/${name}/xds`)).body as { resources?: { Cluster?: { resource: unknown }[] } };
    return JSON.stringify((body.resources?.Cluster ?? []).map((c) => c.resource));
  };
  /** Who answered `n` requests in a row, in order. */
  const answers = async (n: number, p = '/'): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await viaClient(p);
      out.push(r.status === 200 ? r.body : `${r.status}`);
    }
    return out;
  };

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    backends.a = await backend('backend-a');
    backends.b = await backend('backend-b');
    const lone = await backend('lone');
    backends.lone = lone;
    for (const k of ['aInbound', 'bInbound', 'clientInbound', 'clientOutbound', 'loneInbound']) ports[k] = await freePort();
    await put('/meshes/other', { type: 'Mesh', name: 'other' });
    const dataplane = (mesh: string, name: string, body: string) => writeFile(dir, `${name}.yaml`, `type: Dataplane\nmesh: ${mesh}\nname: ${name}\nnetworking:\n  address: 127.0.0.1\n${body}`);
    const files = {
      'backend-a': dataplane('default', 'backend-a', `  inbound:\n    - { port: ${ports.aInbound}, servicePort: ${backends.a.port}, tags: { kuma.io/service: backend, kuma.io/protocol: http } }\n`),
      'backend-b': dataplane('default', 'backend-b', `  inbound:\n    - { port: ${ports.bInbound}, servicePort: ${backends.b.port}, tags: { kuma.io/service: backend, kuma.io/protocol: http } }\n`),
      client: dataplane('default', 'client', `  inbound:\n    - { port: ${ports.clientInbound}, servicePort: 1, tags: { kuma.io/service: client, kuma.io/protocol: http } }\n  outbound:\n    - { port: ${ports.clientOutbound}, tags: { kuma.io/service: backend } }\n`),
      lone: dataplane('other', 'lone', `  inbound:\n    - { port: ${ports.loneInbound}, servicePort: ${lone.port}, tags: { kuma.io/service: lone, kuma.io/protocol: http } }\n`),
    };
    for (const [name, file] of Object.entries(files)) {
      const mesh = name === 'lone' ? 'other' : 'default';
      dps[name] = startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, mesh, name)]);
    }
    // Both backends serve before any test starts.
    await waitFor(async () => new Set(await answers(4)).size === 2, { timeoutMs: 30_000, what: () => `traffic to both backends\n${logs()}` });
    await waitFor(async () => (await httpGet(ports.loneInbound!).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 30_000, what: () => `the other mesh's proxy\n${logs()}` });
  }, 180_000); // a loaded CI box: four proxies and token runs

  afterAll(async () => {
    for (const dp of Object.values(dps)) await dp.stop();
    for (const b of Object.values(backends)) b.server.close();
    await cp?.stop();
  }, 120_000);

  it("the mesh's default MeshCircuitBreaker gives Kuma's connection limits, tracked by the proxy", async () => {
    const dump = await xdsClusters('default', 'client');
    expect(dump).toContain('"max_requests":{"value":1024}');
    expect(dump).toContain('"max_retries":{"value":3}');
    expect(dump).toContain('"track_remaining":true');
    expect(await adminStat(dps.client!, 'cluster.backend.circuit_breakers.default.remaining_rq')).toBe(1024);
  }, 120_000);

  it('outlier detection: after consecutive 5xx the failing backend is ejected and the next requests all go to the healthy one', async () => {
    backends.b!.status = 500;
    // Without outlier detection the failing backend keeps getting its share.
    expect(await answers(6)).toContain('500');
    await put('/meshes/default/meshcircuitbreakers/backend-outlier', {
      type: 'MeshCircuitBreaker', mesh: 'default', name: 'backend-outlier',
      spec: {
        targetRef: { kind: 'Mesh' },
        to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: {
          outlierDetection: {
            interval: '1s', baseEjectionTime: '1m', maxEjectionPercent: 50, splitExternalAndLocalErrors: false, healthyPanicThreshold: 10,
            // Only totalFailures can act with two hosts; the others are here to be accepted by the proxy.
            detectors: {
              totalFailures: { consecutive: 3 }, gatewayFailures: { consecutive: 5 }, localOriginFailures: { consecutive: 5 },
              successRate: { minimumHosts: 5, requestVolume: 100, standardDeviationFactor: '1.9' }, failurePercentage: { minimumHosts: 5, requestVolume: 50, threshold: 85 },
            },
          },
        } }],
      },
    });
    await waitFor(async () => (await clientClusters()).includes('consecutive_5xx'), { timeoutMs: 30_000, what: () => `outlier detection on the client\n${logs()}` });
    // Traffic ejects b (its 3rd 500 in a row); from then on a answers everything.
    await waitFor(async () => (await answers(3)).every((r) => r === 'backend-a'), { timeoutMs: 30_000, what: () => `b ejected\n${logs()}` });
    expect(await answers(10)).toEqual(Array(10).fill('backend-a'));
    expect(await adminStat(dps.client!, 'cluster.backend.outlier_detection.ejections_enforced_total')).toBeGreaterThanOrEqual(1);
    expect(await adminGet(dps.client!, '/clusters')).toContain(`backend::127.0.0.1:${ports.bInbound}::health_flags::/failed_outlier_check`);

    await del('/meshes/default/meshcircuitbreakers/backend-outlier');
    backends.b!.status = 200;
    await waitFor(async () => (await answers(4)).includes('backend-b'), { timeoutMs: 30_000, what: () => `b back without the policy\n${logs()}` });
  }, 120_000);

  it('health check: an endpoint failing its health path gets no traffic, and gets it again once healthy', async () => {
    backends.b!.health = 503;
    const eventLog = path.join(dir, 'hc-events.log');
    const events = () => (fs.existsSync(eventLog) ? fs.readFileSync(eventLog, 'utf8') : '');
    await put('/meshes/default/meshhealthchecks/backend-hc', {
      type: 'MeshHealthCheck', mesh: 'default', name: 'backend-hc',
      spec: {
        targetRef: { kind: 'Mesh' },
        to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: {
          interval: '1s', timeout: '1s', unhealthyThreshold: 1, healthyThreshold: 1, initialJitter: '100ms', intervalJitterPercent: 10, noTrafficInterval: '1s', reuseConnection: true,
          eventLogPath: eventLog, alwaysLogHealthCheckFailures: true,
          http: { path: '/health', expectedStatuses: [200], requestHeadersToAdd: { set: [{ name: 'x-check', value: 'mesh' }] } },
        } }],
      },
    });
    await waitFor(async () => (await clientClusters()).includes('http_health_check'), { timeoutMs: 30_000, what: () => `the health check on the client\n${logs()}` });
    // Checked (not just pending, when every host counts as failed): a passes, b fails.
    await waitFor(async () => {
      const hosts = await adminGet(dps.client!, '/clusters');
      return hosts.includes(`backend::127.0.0.1:${ports.aInbound}::health_flags::healthy\n`) && hosts.includes(`backend::127.0.0.1:${ports.bInbound}::health_flags::/failed_active_hc\n`);
    }, { timeoutMs: 30_000, what: () => `a passing and b failing its check\n${logs()}` });
    expect(await answers(10)).toEqual(Array(10).fill('backend-a'));
    // The checks come from the client's proxy, with its inbound tags.
    expect(backends.b!.healthTags).toBe('&kuma.io/protocol=http&kuma.io/service=client& mesh');

    // The client's proxy logged the failed check of b (event_logger file sink).
    expect(events()).toMatch(new RegExp(`"port_value":${ports.bInbound}}},"cluster_name":"backend","health_check_failure_event"`));

    backends.b!.health = 200;
    await waitFor(async () => (await answers(4)).includes('backend-b'), { timeoutMs: 30_000, what: () => `b back once healthy\n${logs()}` });
    expect(events()).toMatch(new RegExp(`"port_value":${ports.bInbound}}},"cluster_name":"backend","add_healthy_event"`));
    await del('/meshes/default/meshhealthchecks/backend-hc');
    await waitFor(async () => !(await clientClusters()).includes('http_health_check'), { timeoutMs: 30_000, what: 'the health check to go' });
  }, 120_000);

  it('connection limits: concurrent requests beyond maxRequests get 503 x-envoy-overloaded', async () => {
    await put('/meshes/default/meshcircuitbreakers/backend-limits', {
      type: 'MeshCircuitBreaker', mesh: 'default', name: 'backend-limits',
      spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: { connectionLimits: { maxRequests: 2 } } }] },
    });
    await waitFor(async () => (await adminStat(dps.client!, 'cluster.backend.circuit_breakers.default.remaining_rq')) === 2, { timeoutMs: 30_000, what: () => `maxRequests 2 on the client\n${logs()}` });
    const replies = await Promise.all(Array.from({ length: 6 }, () => viaClient('/slow')));
    const overloaded = replies.filter((r) => r.status === 503);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(2);
    expect(overloaded).toHaveLength(4);
    for (const r of overloaded) expect(r.headers['x-envoy-overloaded']).toBe('true');
    expect(await adminStat(dps.client!, 'cluster.backend.upstream_rq_pending_overflow')).toBeGreaterThanOrEqual(4);

    await del('/meshes/default/meshcircuitbreakers/backend-limits');
    await waitFor(async () => (await adminStat(dps.client!, 'cluster.backend.circuit_breakers.default.remaining_rq')) === 1024, { timeoutMs: 30_000, what: 'the default limits back' });
    expect((await Promise.all(Array.from({ length: 4 }, () => viaClient('/slow')))).map((r) => r.status)).toEqual([200, 200, 200, 200]);
  }, 120_000);

  it("a policy of another mesh changes none of this mesh's proxies' clusters", async () => {
    const before = await xdsClusters('default', 'client');
    await put('/meshes/other/meshcircuitbreakers/other-cb', {
      type: 'MeshCircuitBreaker', mesh: 'other', name: 'other-cb',
      spec: { targetRef: { kind: 'Mesh' }, rules: [{ default: { connectionLimits: { maxConnections: 7 } } }] },
    });
    await put('/meshes/other/meshhealthchecks/other-hc', {
      type: 'MeshHealthCheck', mesh: 'other', name: 'other-hc',
      spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { interval: '1s', tcp: {} } }] },
    });
    // The other mesh's proxy got its policy...
    await waitFor(async () => (await xdsClusters('other', 'lone')).includes('"max_connections":{"value":7}'), { timeoutMs: 30_000, what: () => `the other mesh's policy\n${logs()}` });
    // ...and this mesh's client did not.
    expect(await xdsClusters('default', 'client')).toBe(before);
    expect(await xdsClusters('default', 'client')).not.toContain('"max_connections":{"value":7}');
  }, 120_000);

  it('zone egress: to[] MeshExternalService policies apply to the egress cluster; a dead external endpoint gets no traffic once health checked', async () => {
    // A second mesh with mTLS and routing.zoneEgress: the client reaches MeshExternalService `ext`
    // through a zone egress. `ext` has a live endpoint (closing each connection, so that every
    // request is a new pick at the egress) and a dead one (a port nothing listens on).
    const live = http.createServer((req, res) => res.writeHead(200, { connection: 'close' }).end('ext-live'));
    await new Promise<void>((r) => live.listen(0, '127.0.0.1', () => r()));
    backends.live = { server: live, port: (live.address() as AddressInfo).port, status: 200, health: 200 };
    for (const k of ['dead', 'egress', 'secureClientInbound', 'extOutbound']) ports[k] = await freePort();
    await put('/meshes/secure', { type: 'Mesh', name: 'secure', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] }, routing: { zoneEgress: true } });
    await put('/meshes/secure/meshexternalservices/ext', {
      type: 'MeshExternalService', mesh: 'secure', name: 'ext',
      spec: { match: { type: 'HostnameGenerator', port: 80, protocol: 'http' }, endpoints: [{ address: '127.0.0.1', port: backends.live.port }, { address: '127.0.0.1', port: ports.dead }] },
    });
    await put('/meshes/secure/meshtrafficpermissions/egress-ext', {
      type: 'MeshTrafficPermission', mesh: 'secure', name: 'egress-ext',
      spec: { targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } }, rules: [{ default: { allow: [{ sni: { type: 'Exact', value: 'sni.extsvc.secure.ext.80' } }] } }] },
    });
    const egressFile = writeZoneEgress(dir, 'secure', ports.egress!);
    const clientFile = writeFile(dir, 'secure-client.yaml', `type: Dataplane\nmesh: secure\nname: client\nnetworking:\n  address: 127.0.0.1\n  inbound:\n    - { port: ${ports.secureClientInbound}, servicePort: 1, tags: { kuma.io/service: client } }\n  outbound:\n    - { port: ${ports.extOutbound}, tags: { kuma.io/service: ext } }\n`);
    dps.egress = startDp(cp, ['-d', egressFile, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'secure', 'egress')]);
    dps.secureClient = startDp(cp, ['-d', clientFile, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'secure', 'client')]);
    const viaEgress = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await get(ports.extOutbound!);
        out.push(r.status === 200 ? r.body : `${r.status}`);
      }
      return out;
    };
    await waitFor(async () => (await viaEgress(1))[0] === 'ext-live', { timeoutMs: 30_000, what: () => `a call through the egress\n${logs()}` });
    // The default MeshCircuitBreaker (targetRef Mesh) selects the zone proxy too.
    expect(await xdsClusters('secure', 'egress')).toContain('"track_remaining":true');
    // Without a health check, the dead endpoint fails its share of the calls.
    await waitFor(async () => (await viaEgress(6)).some((r) => r !== 'ext-live'), { timeoutMs: 20_000, what: () => `a failed call to the dead endpoint\n${logs()}` });

    await put('/meshes/secure/meshhealthchecks/egress-hc', {
      type: 'MeshHealthCheck', mesh: 'secure', name: 'egress-hc',
      spec: {
        targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } },
        to: [{ targetRef: { kind: 'MeshExternalService', name: 'ext' }, default: { interval: '1s', timeout: '1s', unhealthyThreshold: 1, healthyThreshold: 1, tcp: {} } }],
      },
    });
    await waitFor(async () => (await adminGet(dps.egress!, '/clusters')).includes(`egress:ext::127.0.0.1:${ports.dead}::health_flags::/failed_active_hc`), { timeoutMs: 30_000, what: () => `the dead endpoint failing its check\n${logs()}` });
    await waitFor(async () => (await adminGet(dps.egress!, '/clusters')).includes(`egress:ext::127.0.0.1:${backends.live!.port}::health_flags::healthy`), { timeoutMs: 30_000, what: () => `the live endpoint passing its check\n${logs()}` });
    expect(await viaEgress(10)).toEqual(Array(10).fill('ext-live'));
    // The policy selected the egress only: the client's own cluster has no health check.
    expect(await xdsClusters('secure', 'client')).not.toContain('health_checks');
    expect(await xdsClusters('secure', 'egress')).toContain('tcp_health_check');
  }, 150_000);
});
