// MeshAccessLog end to end: a real CP, real `skein dp run` sidecars and zone proxy, real traffic,
// and real log sinks: files, a TCP server (lines forwarded by the DP agent from the proxy's access
// log pipe) and an OTLP/gRPC LogsService receiver built from the OpenTelemetry protos. A policy of
// one mesh leaves another mesh's proxies alone.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, apiOk, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, dataplaneTokenFile, freePort, httpGet, startDp, startEchoService, startHttpService, tcpEcho, writeFile, writeSidecar, type RunningDp } from '../dp-harness.js';
import { startOtlpLogsReceiver, type OtlpLogsReceiver } from '../support/otlp-logs-receiver.js';

const readLines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/** A TCP log collector: every line it receives. */
async function startTcpCollector(): Promise<{ server: net.Server; port: number; lines: string[] }> {
  const lines: string[] = [];
  const server = net.createServer((s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts.filter(Boolean));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port, lines };
}

describe('MeshAccessLog on sidecars', () => {
  let cp: RunningCp;
  let receiver: OtlpLogsReceiver;
  let collector: Awaited<ReturnType<typeof startTcpCollector>>;
  const dir = tempDir('meshaccesslog');
  const dps: Record<string, RunningDp> = {};
  const closers: (() => void)[] = [];
  const ports: Record<string, number> = {};

  const put = (p: string, body: unknown) => apiOk(cp, 'PUT', p, body);
  const del = (p: string) => apiOk(cp, 'DELETE', p);
  const viaClient = (p: string) => httpGet(ports.clientOutbound!, p).catch((err: Error) => ({ status: 0, body: err.message }));
  const dumpOf = (name: string) => adminGet(dps[name]!, '/config_dump');
  const logs = () => Object.entries(dps).map(([n, d]) => `--- ${n}\n${d.logs()}`).join('\n');
  const accessLog = (name: string, spec: Record<string, unknown>, mesh = 'default') => put(`/meshes/${mesh}/meshaccesslogs/${name}`, { type: 'MeshAccessLog', mesh, name, spec });

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    receiver = await startOtlpLogsReceiver();
    collector = await startTcpCollector();
    const backend = await startHttpService('backend');
    const lone = await startHttpService('lone');
    closers.push(() => backend.server.close(), () => lone.server.close(), () => collector.server.close());
    for (const k of ['backendInbound', 'clientInbound', 'clientOutbound', 'loneInbound']) ports[k] = await freePort();
    await put('/meshes/other', { type: 'Mesh', name: 'other' });
    const dataplane = (mesh: string, name: string, body: string) => writeFile(dir, `${name}.yaml`, `type: Dataplane\nmesh: ${mesh}\nname: ${name}\nnetworking:\n  address: 127.0.0.1\n${body}`);
    const files = {
      backend: dataplane('default', 'backend', `  inbound:\n    - { port: ${ports.backendInbound}, servicePort: ${backend.port}, tags: { kuma.io/service: backend, kuma.io/protocol: http } }\n`),
      client: dataplane('default', 'client', `  inbound:\n    - { port: ${ports.clientInbound}, servicePort: 1, tags: { kuma.io/service: client } }\n  outbound:\n    - { port: ${ports.clientOutbound}, tags: { kuma.io/service: backend } }\n`),
      lone: dataplane('other', 'lone', `  inbound:\n    - { port: ${ports.loneInbound}, servicePort: ${lone.port}, tags: { kuma.io/service: lone, kuma.io/protocol: http } }\n`),
    };
    for (const [name, file] of Object.entries(files)) {
      const mesh = name === 'lone' ? 'other' : 'default';
      dps[name] = startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, mesh, name)]);
    }
    await waitFor(async () => (await viaClient('/')).status === 200, { timeoutMs: 30_000, what: () => `traffic through the mesh\n${logs()}` });
    await waitFor(async () => (await httpGet(ports.loneInbound!).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 30_000, what: () => `the other mesh's proxy\n${logs()}` });
  });

  afterAll(async () => {
    for (const dp of Object.values(dps)) await dp.stop();
    for (const close of closers) close();
    await receiver?.close();
    await cp?.stop();
  });

  it('File backend: the inbound writes Kuma\'s default line and a JSON line per request', async () => {
    const plain = path.join(dir, 'backend-access.log');
    const json = path.join(dir, 'backend-access.json');
    await accessLog('backend-file', {
      targetRef: { kind: 'Mesh' },
      rules: [{
        default: {
          backends: [
            { type: 'File', file: { path: plain } },
            { type: 'File', file: { path: json, format: { type: 'Json', json: [{ key: 'method', value: '%REQ(:METHOD)%' }, { key: 'path', value: '%REQ(:PATH)%' }, { key: 'status', value: '%RESPONSE_CODE%' }, { key: 'mesh', value: '%KUMA_MESH%' }, { key: 'destination', value: '%KUMA_DESTINATION_SERVICE%' }, { key: 'direction', value: '%KUMA_TRAFFIC_DIRECTION%' }] } } },
          ],
        },
      }],
    });
    await waitFor(async () => (await dumpOf('backend')).includes(plain), { timeoutMs: 30_000, what: () => `the access log on the backend proxy\n${logs()}` });
    expect((await viaClient('/file-test')).status).toBe(200);
    await waitFor(() => readLines(plain).some((l) => l.includes('/file-test')), { timeoutMs: 20_000, what: () => `a line in ${plain}: ${readLines(plain).join('\n')}` });
    const line = readLines(plain).find((l) => l.includes('/file-test'))!;
    expect(line).toMatch(/^\[\d{4}-\d\d-\d\dT[^\]]+\] default "GET \/file-test HTTP\/1\.1" 200 /);
    expect(line).toContain('"unknown" "backend" "127.0.0.1"');
    await waitFor(() => readLines(json).length > 0, { timeoutMs: 20_000, what: 'a JSON line' });
    const entry = readLines(json).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e['path'] === '/file-test');
    expect(entry).toEqual({ method: 'GET', path: '/file-test', status: 200, mesh: 'default', destination: 'backend', direction: 'INBOUND' });
    await del('/meshes/default/meshaccesslogs/backend-file');
    await waitFor(async () => !(await dumpOf('backend')).includes(plain), { timeoutMs: 30_000, what: 'the access log to go' });
    const count = readLines(plain).length;
    expect((await viaClient('/after')).status).toBe(200);
    expect(readLines(plain).length).toBe(count);
  });

  it('Tcp backend: outbound lines reach a TCP collector through the DP agent', async () => {
    await accessLog('client-tcp', {
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'Tcp', tcp: { address: `127.0.0.1:${collector.port}`, format: { type: 'Plain', plain: '%KUMA_MESH% %KUMA_SOURCE_SERVICE%->%KUMA_DESTINATION_SERVICE% %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE%' } } }] } }],
    });
    await waitFor(async () => (await dumpOf('client')).includes(`127.0.0.1:${collector.port}`), { timeoutMs: 30_000, what: () => `the Tcp access log on the client proxy\n${logs()}` });
    await waitFor(async () => {
      await viaClient('/tcp-test');
      return collector.lines.some((l) => l.includes('/tcp-test'));
    }, { timeoutMs: 20_000, what: () => `a line at the TCP collector (${collector.lines.length} so far)\n${dps.client!.logs()}` });
    expect(collector.lines.find((l) => l.includes('/tcp-test'))).toBe('default client->backend GET /tcp-test 200');
    await del('/meshes/default/meshaccesslogs/client-tcp');
  });

  it('OpenTelemetry backend by backendRef: log records reach an OTLP/gRPC receiver', async () => {
    await put('/meshes/default/meshopentelemetrybackends/collector', {
      type: 'MeshOpenTelemetryBackend', mesh: 'default', name: 'collector', labels: { backend: 'otel' },
      spec: { endpoint: { address: '127.0.0.1', port: receiver.port }, protocol: 'grpc' },
    });
    await accessLog('backend-otel', {
      targetRef: { kind: 'Mesh' },
      rules: [{ default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { backend: 'otel' } }, attributes: [{ key: 'kuma.destination', value: '%KUMA_DESTINATION_SERVICE%' }, { key: 'http.path', value: '%REQ(:PATH)%' }] } }] } }],
    });
    await waitFor(async () => (await dumpOf('backend')).includes('envoy.access_loggers.open_telemetry'), { timeoutMs: 30_000, what: () => `the OTel access log on the backend proxy\n${logs()}` });
    await waitFor(async () => {
      await viaClient('/otel-test');
      return receiver.records.some((r) => r.attributes['http.path'] === '/otel-test');
    }, { timeoutMs: 20_000, what: () => `a log record at the receiver (${receiver.records.length} so far)\n${dps.backend!.logs()}` });
    const record = receiver.records.find((r) => r.attributes['http.path'] === '/otel-test')!;
    expect(record.attributes['kuma.destination']).toBe('backend');
    expect(String(record.body)).toContain('default "GET /otel-test HTTP/1.1" 200');
    expect(record.resource['kuma.mesh']).toBe('default');
    await del('/meshes/default/meshaccesslogs/backend-otel');
  });

  it('a MeshAccessLog of one mesh does not change the proxies of another', async () => {
    const loneBefore = await dumpOf('lone');
    const otherLog = path.join(dir, 'other-mesh.log');
    await accessLog('other-only', { targetRef: { kind: 'Mesh' }, rules: [{ default: { backends: [{ type: 'File', file: { path: otherLog } }] } }] }, 'other');
    await waitFor(async () => (await dumpOf('lone')).includes(otherLog), { timeoutMs: 30_000, what: 'the access log on the other mesh proxy' });
    expect(loneBefore).not.toContain('access_log');
    expect(await dumpOf('backend')).not.toContain(otherLog);
    expect(await dumpOf('client')).not.toContain(otherLog);
    expect((await viaClient('/default-mesh')).status).toBe(200);
    expect((await httpGet(ports.loneInbound!, '/lone-test')).status).toBe(200);
    await waitFor(() => readLines(otherLog).some((l) => l.includes('/lone-test')), { timeoutMs: 20_000, what: 'the other mesh line' });
    expect(readLines(otherLog).some((l) => l.includes('/default-mesh'))).toBe(false);
  });
});

describe('MeshAccessLog on a mesh-scoped zone proxy', () => {
  let cp: RunningCp;
  const dps: RunningDp[] = [];
  const closers: (() => void)[] = [];
  const ports: Record<string, number> = {};
  const dir = tempDir('meshaccesslog-zone');

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    const res = await api(cp.apiUrl, 'PUT', '/meshes/default', { type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] } });
    expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
    const echo = await startEchoService();
    closers.push(() => echo.server.close());
    for (const k of ['backendInbound', 'ingress', 'clientInbound', 'clientService', 'backendOutbound']) ports[k] = await freePort();
    // One CP stands in for two zones by labels (as in zone-proxy.test.ts): the client reaches the
    // zone-2 backend only through the zone-2 ingress.
    const backend = writeFile(dir, 'backend.yaml', `type: Dataplane\nmesh: default\nname: backend\nlabels: { kuma.io/zone: zone-2 }\nnetworking:\n  address: 127.0.0.1\n  inbound:\n    - { port: ${ports.backendInbound}, servicePort: ${echo.port}, tags: { kuma.io/service: backend } }\n`);
    const ingress = writeFile(dir, 'ingress.yaml', `type: Dataplane\nmesh: default\nname: zone-2-ingress\nlabels: { kuma.io/zone: zone-2, kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress }\nnetworking:\n  address: 127.0.0.1\n  advertisedAddress: 127.0.0.1\n  advertisedPort: ${ports.ingress}\n  listeners:\n    - { type: ZoneIngress, port: ${ports.ingress} }\n`);
    const client = writeSidecar(dir, { name: 'client', inbound: { port: ports.clientInbound!, servicePort: ports.clientService!, service: 'client' }, outbound: [{ port: ports.backendOutbound!, service: 'backend' }] });
    for (const [name, file] of [['backend', backend], ['zone-2-ingress', ingress], ['client', client]] as const) {
      dps.push(startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'default', name)]));
    }
    await waitFor(async () => (await tcpEcho(ports.backendOutbound!, 'ping').catch(() => '')) === 'echo:ping', { timeoutMs: 30_000, what: () => `cross-zone traffic\n${dps.map((d) => d.logs()).join('\n')}` });
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const close of closers) close();
    await cp?.stop();
  });

  it('logs the connections of the SNI a rule matches on the ingress listener', async () => {
    const file = path.join(dir, 'ingress-access.log');
    const sni = `sni.msvc.default.backend.${ports.backendInbound}`;
    const put = await api(cp.apiUrl, 'PUT', '/meshes/default/meshaccesslogs/ingress-logs', {
      type: 'MeshAccessLog', mesh: 'default', name: 'ingress-logs',
      spec: {
        targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } },
        rules: [{ matches: [{ sni: { type: 'Exact', value: sni } }], default: { backends: [{ type: 'File', file: { path: file } }] } }],
      },
    });
    expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
    await waitFor(async () => JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/zone-2-ingress/xds')).body).includes(file), { timeoutMs: 30_000, what: 'the access log on the ingress' });
    // The sidecars are not zone proxies: nothing for them.
    expect(JSON.stringify((await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/client/xds')).body)).not.toContain(file);
    await waitFor(async () => {
      expect(await tcpEcho(ports.backendOutbound!, 'ping')).toBe('echo:ping');
      return readLines(file).length > 0;
    }, { timeoutMs: 20_000, what: () => `a line in the ingress access log\n${dps[1]!.logs()}` });
    // Kuma's TCP default format, placeholders filled in by the CP, Envoy's operators by the proxy.
    expect(readLines(file)[0]).toMatch(new RegExp(`^\\[[^\\]]+\\] - default 127\\.0\\.0\\.1\\(unknown\\)->127\\.0\\.0\\.1:${ports.backendInbound}\\(backend\\) took \\d+ms, sent \\d+ bytes, received: \\d+ bytes$`));
  });
});
