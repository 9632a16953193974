// MeshTrace with a real CP, real `skein dp run` sidecars, a real HTTP server and real OTLP/gRPC
// trace receivers (TraceService from the OpenTelemetry protos): both proxies export spans of one
// trace, the backend sees the W3C traceparent of it, service names and tags are the configured ones;
// sampling 0 exports nothing; a backendRef to a MeshOpenTelemetryBackend sends spans there (OTLP/gRPC
// or OTLP/HTTP); a
// MeshTrace of another mesh leaves this mesh's proxies alone.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiOk, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, dataplaneTokenFile, freePort, startDp, writeFile, type RunningDp, writeZoneEgress } from '../dp-harness.js';
import { startOtlpHttpReceiver, startOtlpReceiver, type OtlpReceiver } from '../../src/dp/engine/tracing/otlp-receiver.js';

interface Span {
  service: string;
  name: string;
  kind: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  tags: Record<string, string>;
}

/** Every span a receiver got, flattened. */
function spansOf(receiver: OtlpReceiver): Span[] {
  type Attr = { key: string; value?: { string_value?: string } };
  type Req = { resource_spans?: { resource?: { attributes?: Attr[] }; scope_spans?: { spans?: Record<string, unknown>[] }[] }[] };
  const attrs = (list: Attr[] | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, a.value?.string_value ?? '']));
  const hex = (b: unknown) => (Buffer.isBuffer(b) ? b.toString('hex') : '');
  return (receiver.traces as Req[]).flatMap((req) => (req.resource_spans ?? []).flatMap((rs) => {
    const service = attrs(rs.resource?.attributes)['service.name'] ?? '';
    return (rs.scope_spans ?? []).flatMap((ss) => (ss.spans ?? []).map((s) => ({
      service,
      name: String(s['name']),
      kind: String(s['kind']),
      traceId: hex(s['trace_id']),
      spanId: hex(s['span_id']),
      parentSpanId: hex(s['parent_span_id']),
      tags: attrs(s['attributes'] as Attr[]),
    })));
  }));
}

describe('MeshTrace on sidecars', () => {
  let cp: RunningCp;
  let receiver: OtlpReceiver;
  let refReceiver: OtlpReceiver;
  const dir = tempDir('policy-meshtrace');
  const dps: Record<string, RunningDp> = {};
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};
  /** What the backend and lone HTTP servers got: path → traceparent header. */
  const seen = new Map<string, string>();

  const put = (p: string, body: unknown) => apiOk(cp, 'PUT', p, body);
  const del = (p: string) => apiOk(cp, 'DELETE', p);
  const dumpOf = (name: string) => adminGet(dps[name]!, '/config_dump');
  const logs = () => Object.entries(dps).map(([n, d]) => `--- ${n}\n${d.logs()}`).join('\n');
  /** GET through a local port with extra headers; resolves with the status (0 on a connection error). */
  const get = (port: number, p: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: p, headers, agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
    });
  const viaClient = (p: string, headers?: Record<string, string>) => get(ports.clientOutbound!, p, headers);
  const meshTrace = (mesh: string, name: string, conf: Record<string, unknown>) =>
    put(`/meshes/${mesh}/meshtraces/${name}`, { type: 'MeshTrace', mesh, name, spec: { targetRef: { kind: 'Mesh' }, default: conf } });
  const endpointBackend = (port: number) => [{ type: 'OpenTelemetry', openTelemetry: { endpoint: `127.0.0.1:${port}` } }];

  beforeAll(async () => {
    [receiver, refReceiver] = await Promise.all([startOtlpReceiver(), startOtlpReceiver()]);
    cp = await startCp({ store: 'memory' });
    const recording = (name: string) => {
      const server = http.createServer((req, res) => {
        seen.set(req.url ?? '', String(req.headers.traceparent ?? ''));
        res.end(`${name} got ${req.url}`);
      });
      servers.push(server);
      return new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
    };
    const backendPort = await recording('backend');
    const lonePort = await recording('lone');
    for (const k of ['backendInbound', 'clientInbound', 'clientOutbound', 'loneInbound']) ports[k] = await freePort();
    await put('/meshes/other', { type: 'Mesh', name: 'other' });
    const dataplane = (mesh: string, name: string, body: string) => writeFile(dir, `${name}.yaml`, `type: Dataplane\nmesh: ${mesh}\nname: ${name}\nnetworking:\n  address: 127.0.0.1\n${body}`);
    const files = {
      backend: dataplane('default', 'backend', `  inbound:\n    - { port: ${ports.backendInbound}, servicePort: ${backendPort}, tags: { kuma.io/service: backend, kuma.io/protocol: http } }\n`),
      client: dataplane('default', 'client', `  inbound:\n    - { port: ${ports.clientInbound}, servicePort: 1, tags: { kuma.io/service: client } }\n  outbound:\n    - { port: ${ports.clientOutbound}, tags: { kuma.io/service: backend } }\n`),
      lone: dataplane('other', 'lone', `  inbound:\n    - { port: ${ports.loneInbound}, servicePort: ${lonePort}, tags: { kuma.io/service: lone, kuma.io/protocol: http } }\n`),
    };
    for (const [name, file] of Object.entries(files)) {
      const mesh = name === 'lone' ? 'other' : 'default';
      dps[name] = startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, mesh, name)]);
    }
    await waitFor(async () => (await viaClient('/ready')) === 200, { timeoutMs: 30_000, what: () => `traffic through the mesh\n${logs()}` });
    await waitFor(async () => (await get(ports.loneInbound!, '/ready')) === 200, { timeoutMs: 30_000, what: () => `the other mesh's proxy\n${logs()}` });
  });

  afterAll(async () => {
    for (const dp of Object.values(dps)) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
    await receiver?.close();
    await refReceiver?.close();
  });

  it('a MeshTrace of another mesh traces that mesh only', async () => {
    await meshTrace('other', 'other-trace', { backends: endpointBackend(receiver.port), tags: [{ name: 'phase', literal: 'other-mesh' }] });
    await waitFor(async () => (await dumpOf('lone')).includes('other-mesh'), { timeoutMs: 30_000, what: () => `tracing on the other mesh's proxy\n${logs()}` });
    expect(await get(ports.loneInbound!, '/lone-1')).toBe(200);
    expect(await viaClient('/default-1')).toBe(200);
    const lone = await waitFor(() => spansOf(receiver).find((s) => s.service === 'lone'), { timeoutMs: 20_000, what: () => `a span of the lone proxy\n${logs()}` });
    expect(lone).toMatchObject({ name: 'ingress', kind: 'SPAN_KIND_SERVER', tags: { 'phase': 'other-mesh', 'kuma.mesh': 'other' } });
    // Mesh default's proxies have no tracing: no collector cluster, no span, a fresh traceparent-less request.
    for (const name of ['client', 'backend']) expect(await dumpOf(name)).not.toContain('meshtrace:opentelemetry');
    expect(spansOf(receiver).filter((s) => s.service !== 'lone')).toEqual([]);
    expect(seen.get('/default-1')).toBe('');
    await del('/meshes/other/meshtraces/other-trace');
    await waitFor(async () => !(await dumpOf('lone')).includes('meshtrace:opentelemetry'), { timeoutMs: 30_000, what: 'tracing to go from the other mesh' });
  });

  it('spans of both proxies share the trace the backend sees; service names and tags as configured', async () => {
    await meshTrace('default', 'trace-all', {
      backends: endpointBackend(receiver.port),
      sampling: { overall: 100 },
      tags: [{ name: 'phase', literal: 'sampled' }, { name: 'env', header: { name: 'x-env', default: 'prod' } }],
    });
    for (const name of ['client', 'backend']) {
      await waitFor(async () => (await dumpOf(name)).includes('sampled'), { timeoutMs: 30_000, what: () => `tracing on ${name}\n${logs()}` });
    }
    expect(await viaClient('/traced-1', { 'x-env': 'staging' })).toBe(200);
    expect(await viaClient('/traced-2')).toBe(200);

    const pair = (p: string) => {
      const spans = spansOf(receiver).filter((s) => s.tags['phase'] === 'sampled' && s.tags['http.url']?.endsWith(p));
      const client = spans.find((s) => s.service === 'client');
      const backend = spans.find((s) => s.service === 'backend');
      return client && backend ? { client, backend } : undefined;
    };
    const first = await waitFor(() => pair('/traced-1'), { timeoutMs: 20_000, what: () => `spans of both proxies (${spansOf(receiver).length} spans so far)\n${logs()}` });
    // The client's outbound span starts the trace; the backend's inbound span is its child.
    expect(first.client).toMatchObject({ kind: 'SPAN_KIND_CLIENT', parentSpanId: '', tags: { 'env': 'staging', 'kuma.mesh': 'default', 'upstream_cluster': 'backend' } });
    expect(first.client.name).toMatch(/^egress /);
    expect(first.backend).toMatchObject({ name: 'ingress', kind: 'SPAN_KIND_SERVER', traceId: first.client.traceId, parentSpanId: first.client.spanId, tags: { env: 'staging', phase: 'sampled' } });
    // The backend application got the trace context: that trace, the backend proxy's span as parent, sampled.
    expect(seen.get('/traced-1')).toBe(`00-${first.client.traceId}-${first.backend.spanId}-01`);
    // A request without the header: the tag's default.
    const second = await waitFor(() => pair('/traced-2'), { timeoutMs: 20_000, what: 'spans of the second request' });
    expect(second.client.tags['env']).toBe('prod');
    expect(second.client.traceId).not.toBe(first.client.traceId);
  });

  it('sampling 0: no spans, and the backend sees an unsampled trace context', async () => {
    await meshTrace('default', 'trace-all', { backends: endpointBackend(receiver.port), sampling: { overall: 0 }, tags: [{ name: 'phase', literal: 'zero' }] });
    for (const name of ['client', 'backend']) {
      await waitFor(async () => (await dumpOf(name)).includes('"zero"'), { timeoutMs: 30_000, what: () => `sampling 0 on ${name}\n${logs()}` });
    }
    for (let i = 0; i < 10; i++) expect(await viaClient(`/unsampled-${i}`)).toBe(200);
    for (let i = 0; i < 10; i++) expect(seen.get(`/unsampled-${i}`)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    // Barrier: sample again and wait for that span; an exported unsampled span would be there by now.
    await meshTrace('default', 'trace-all', { backends: endpointBackend(receiver.port), sampling: { overall: 100 }, tags: [{ name: 'phase', literal: 'after-zero' }] });
    await waitFor(async () => (await dumpOf('client')).includes('after-zero'), { timeoutMs: 30_000, what: 'sampling back on' });
    expect(await viaClient('/after-zero')).toBe(200);
    await waitFor(() => spansOf(receiver).some((s) => s.tags['phase'] === 'after-zero'), { timeoutMs: 20_000, what: 'the span after sampling 0' });
    expect(spansOf(receiver).filter((s) => s.tags['phase'] === 'zero' || s.tags['http.url']?.includes('/unsampled-'))).toEqual([]);
  });

  it('backendRef: spans go to the MeshOpenTelemetryBackend the policy names', async () => {
    await put('/meshes/default/meshopentelemetrybackends/collector', {
      type: 'MeshOpenTelemetryBackend', mesh: 'default', name: 'collector', labels: { team: 'observability' },
      spec: { endpoint: { address: '127.0.0.1', port: refReceiver.port }, protocol: 'grpc' },
    });
    await meshTrace('default', 'trace-all', {
      backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { team: 'observability' } } } }],
      tags: [{ name: 'phase', literal: 'via-ref' }],
    });
    for (const name of ['client', 'backend']) {
      await waitFor(async () => (await dumpOf(name)).includes('via-ref'), { timeoutMs: 30_000, what: () => `the backendRef MeshTrace on ${name}\n${logs()}` });
    }
    expect(await viaClient('/via-ref')).toBe(200);
    const spans = await waitFor(() => {
      const got = spansOf(refReceiver).filter((s) => s.tags['http.url']?.endsWith('/via-ref'));
      return got.length === 2 ? got : undefined;
    }, { timeoutMs: 20_000, what: () => `spans at the MeshOpenTelemetryBackend's collector\n${logs()}` });
    expect(spans.map((s) => s.service).sort()).toEqual(['backend', 'client']);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(spansOf(receiver).some((s) => s.tags['phase'] === 'via-ref')).toBe(false);
    // Moving the backend moves the spans (a MeshOpenTelemetryBackend change regenerates the proxies).
    await put('/meshes/default/meshopentelemetrybackends/collector', {
      type: 'MeshOpenTelemetryBackend', mesh: 'default', name: 'collector', labels: { team: 'observability' },
      spec: { endpoint: { address: '127.0.0.1', port: receiver.port }, protocol: 'grpc' },
    });
    for (const name of ['client', 'backend']) {
      await waitFor(async () => (await dumpOf(name)).includes(`"port_value": ${receiver.port}`), { timeoutMs: 30_000, what: () => `the collector cluster of ${name} to follow the backend\n${logs()}` });
    }
    expect(await viaClient('/via-ref-moved')).toBe(200);
    await waitFor(() => spansOf(receiver).filter((s) => s.tags['http.url']?.endsWith('/via-ref-moved')).length === 2, { timeoutMs: 20_000, what: 'spans at the moved collector' });

    // protocol http: OTLP/HTTP (protobuf POST to <path>/v1/traces).
    const httpReceiver = await startOtlpHttpReceiver();
    try {
      await put('/meshes/default/meshopentelemetrybackends/collector', {
        type: 'MeshOpenTelemetryBackend', mesh: 'default', name: 'collector', labels: { team: 'observability' },
        spec: { endpoint: { address: '127.0.0.1', port: httpReceiver.port }, protocol: 'http' },
      });
      for (const name of ['client', 'backend']) {
        await waitFor(async () => (await dumpOf(name)).includes(`http://127.0.0.1:${httpReceiver.port}/v1/traces`), { timeoutMs: 30_000, what: () => `OTLP/HTTP export on ${name}\n${logs()}` });
      }
      expect(await viaClient('/via-http')).toBe(200);
      const overHttp = await waitFor(() => {
        const got = spansOf(httpReceiver).filter((s) => s.tags['http.url']?.endsWith('/via-http'));
        return got.length === 2 ? got : undefined;
      }, { timeoutMs: 20_000, what: () => `spans at the OTLP/HTTP collector (paths ${httpReceiver.paths.join(',')})\n${logs()}` });
      expect(overHttp.map((s) => s.service).sort()).toEqual(['backend', 'client']);
      expect(new Set(httpReceiver.paths)).toEqual(new Set(['/v1/traces']));
    } finally {
      await httpReceiver.close();
    }
    await del('/meshes/default/meshtraces/trace-all');
  });
});

// SKEIN-SPEC §3: MeshTrace applies to the whole proxy on zone proxies too. The zone egress
// terminates the sidecar's mTLS; toward an HTTP MeshExternalService it then has an HCM, which a
// MeshTrace traces. (The zone ingress is TLS passthrough: no HTTP, no spans.)
describe('MeshTrace on a zone egress', () => {
  let cp: RunningCp;
  let receiver: OtlpReceiver;
  const dir = tempDir('policy-meshtrace-egress');
  const dps: Record<string, RunningDp> = {};
  let external: http.Server;
  const ports: Record<string, number> = {};
  const seen = new Map<string, string>();

  const put = (p: string, body: unknown) => apiOk(cp, 'PUT', p, body);
  const logs = () => Object.entries(dps).map(([n, d]) => `--- ${n}\n${d.logs()}`).join('\n');
  const callExternal = (p: string) => new Promise<number>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: ports.externalOutbound, path: p, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    cp = await startCp({ store: 'memory' });
    external = http.createServer((req, res) => {
      seen.set(req.url ?? '', String(req.headers.traceparent ?? ''));
      res.end('external');
    });
    await new Promise<void>((r) => external.listen(0, '127.0.0.1', () => r()));
    ports.external = (external.address() as AddressInfo).port;
    for (const k of ['egress', 'clientInbound', 'externalOutbound']) ports[k] = await freePort();
    await put('/meshes/default', {
      type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] }, routing: { zoneEgress: true },
    });
    await put('/meshes/default/meshexternalservices/httpbin', {
      type: 'MeshExternalService', mesh: 'default', name: 'httpbin',
      spec: { match: { type: 'HostnameGenerator', port: ports.external, protocol: 'http' }, endpoints: [{ address: '127.0.0.1', port: ports.external }] },
    });
    await put('/meshes/default/meshtrafficpermissions/egress-httpbin', {
      type: 'MeshTrafficPermission', mesh: 'default', name: 'egress-httpbin',
      spec: {
        targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } },
        rules: [{ default: { allow: [{ sni: { type: 'Exact', value: `sni.extsvc.default.httpbin.${ports.external}` } }] } }],
      },
    });
    // Before the proxies start: a chain turning from tcp_proxy into an HCM applies to new connections
    // only, and the client's sidecar keeps its pooled connection to the egress.
    await put('/meshes/default/meshtraces/trace-all', {
      type: 'MeshTrace', mesh: 'default', name: 'trace-all',
      spec: { targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: `127.0.0.1:${receiver.port}` } }], tags: [{ name: 'phase', literal: 'egress' }] } },
    });
    const files = {
      egress: writeZoneEgress(dir, 'default', ports.egress!),
      client: writeFile(dir, 'client.yaml', `type: Dataplane\nmesh: default\nname: client\nnetworking:\n  address: 127.0.0.1\n  inbound:\n    - { port: ${ports.clientInbound}, servicePort: 1, tags: { kuma.io/service: client } }\n  outbound:\n    - { port: ${ports.externalOutbound}, tags: { kuma.io/service: httpbin } }\n`),
    };
    for (const [name, file] of Object.entries(files)) dps[name] = startDp(cp, ['-d', file, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'default', name)]);
    let last = 0;
    let stats = '';
    await waitFor(async () => {
      last = await callExternal('/ready');
      stats = dps.egress ? (await adminGet(dps.egress, '/stats').catch(() => '')).split('\n').filter((l) => /rbac|egress:httpbin|ssl/.test(l)).join('\n') : '';
      return last === 200;
    }, { timeoutMs: 45_000, what: () => `the external service through the egress (last status ${last})\n${stats}\n${logs()}` });
  });

  afterAll(async () => {
    for (const dp of Object.values(dps)) await dp.stop();
    external?.close();
    await cp?.stop();
    await receiver?.close();
  });

  it('the egress exports a span of the request and passes its trace context on', async () => {
    expect(await adminGet(dps.egress!, '/config_dump')).toContain('meshtrace:opentelemetry');
    expect(await callExternal('/traced-egress')).toBe(200);
    const span = await waitFor(() => spansOf(receiver).find((s) => s.tags['http.url']?.endsWith('/traced-egress')), { timeoutMs: 20_000, what: () => `the egress span (got ${JSON.stringify(spansOf(receiver))})\n${logs()}` });
    // A zone proxy's service name is its kuma.io/workload label (the CP sets it for zone proxies).
    expect(span).toMatchObject({ service: 'zone-proxy-default-egress', kind: 'SPAN_KIND_CLIENT', parentSpanId: '', tags: { 'phase': 'egress', 'kuma.mesh': 'default', 'upstream_cluster': 'egress:httpbin' } });
    expect(seen.get('/traced-egress')).toBe(`00-${span.traceId}-${span.spanId}-01`);
    // MeshExternalService outbounds of sidecars are not traced (as in Kuma): the egress span is the only one.
    expect(spansOf(receiver).filter((s) => s.tags['http.url']?.endsWith('/traced-egress')).map((s) => s.service)).toEqual(['zone-proxy-default-egress']);
  });
});
