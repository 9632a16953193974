import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../../envoy/protos.js';
import { Engine } from '../engine.js';
import { decoded, eventually, get, hcm, routeConfig, socketAddress, startHttpServer, staticCluster, type TestServer } from '../fixtures.js';
import type { Obj } from '../proto-values.js';
import { startOtlpHttpReceiver, startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
function track<X extends TestServer | Engine | OtlpReceiver>(thing: X): X {
  cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
  return thing;
}

const OTEL = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
const OTEL_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig';
const grpcService = { envoy_grpc: { cluster_name: 'otel' } };

function tracingListener(direction: string, tracing: Obj, hcmExtra: Obj = {}, provider: Obj = { grpc_service: grpcService, service_name: 'web_mesh' }): Obj {
  return decoded('listeners', {
    name: 'http',
    address: socketAddress(0),
    traffic_direction: direction,
    filter_chains: [{ filters: [hcm('http', { route_config: routeConfig('rc', [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'a' } }]) }, {
      tracing: {
        provider: { name: 'envoy.tracers.opentelemetry', typed_config: packAny(OTEL, provider) },
        ...tracing,
      },
      ...hcmExtra,
    })] }],
  });
}

type Span = { trace_id: Buffer; span_id: Buffer; parent_span_id: Buffer; name: string; kind: string; attributes: { key: string; value: { string_value: string } }[] };

function spansOf(receiver: OtlpReceiver): { service: string; span: Span }[] {
  return receiver.traces.flatMap((req) => (req.resource_spans as Obj[]).flatMap((rs) => {
    const service = ((rs.resource as Obj).attributes as { key: string; value: { string_value: string } }[]).find((a) => a.key === 'service.name')?.value.string_value ?? '';
    return (rs.scope_spans as Obj[]).flatMap((ss) => (ss.spans as Span[]).map((span) => ({ service, span })));
  }));
}

describe('OpenTelemetry tracing', () => {
  it('continues an incoming trace, propagates traceparent upstream and exports the span over OTLP/gRPC', async () => {
    const receiver = track(await startOtlpReceiver());
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [tracingListener('INBOUND', { custom_tags: [{ tag: 'team', literal: { value: 'payments' } }] })],
      clusters: [staticCluster('a', [backend.port]), staticCluster('otel', [receiver.port], { http2_protocol_options: {} })],
    });
    const port = engine.listenerPort('http') ?? 0;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const reply = await get(port, '/pay', { traceparent: `00-${traceId}-${parent}-01` });
    const seen = JSON.parse(String(reply.headers['x-seen-headers'])) as Record<string, string>;
    const upstream = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.traceparent);
    expect(upstream?.[1]).toBe(traceId);
    expect(upstream?.[2]).not.toBe(parent);

    const [{ service, span }] = await eventually(() => {
      const spans = spansOf(receiver);
      expect(spans).toHaveLength(1);
      return spans;
    }, 5000);
    expect(service).toBe('web_mesh');
    expect(span.trace_id.toString('hex')).toBe(traceId);
    expect(span.parent_span_id.toString('hex')).toBe(parent);
    expect(span.span_id.toString('hex')).toBe(upstream?.[2]);
    expect(span.name).toBe('ingress');
    expect(span.kind).toBe('SPAN_KIND_SERVER');
    const attrs = Object.fromEntries(span.attributes.map((a) => [a.key, a.value.string_value]));
    expect(attrs['http.status_code']).toBe('200');
    expect(attrs['http.method']).toBe('GET');
    expect(attrs['upstream_cluster']).toBe('a');
    expect(attrs['team']).toBe('payments');
    expect(attrs['guid:x-request-id']).toBe(seen['x-request-id']);
  });

  it('starts traces by random_sampling and follows an unsampled parent', async () => {
    const receiver = track(await startOtlpReceiver());
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [tracingListener('OUTBOUND', { random_sampling: { value: 100 } })],
      clusters: [staticCluster('a', [backend.port]), staticCluster('otel', [receiver.port], { http2_protocol_options: {} })],
    });
    const port = engine.listenerPort('http') ?? 0;
    const fresh = JSON.parse(String((await get(port, '/new', { host: 'backend.mesh' })).headers['x-seen-headers'])) as Record<string, string>;
    expect(fresh.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const unsampled = JSON.parse(String((await get(port, '/quiet', { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' })).headers['x-seen-headers'])) as Record<string, string>;
    expect(unsampled.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
    const spans = await eventually(() => {
      const s = spansOf(receiver);
      expect(s).toHaveLength(1);
      return s;
    }, 5000);
    expect(spans[0].span.name).toBe('egress backend.mesh');
    expect(spans[0].span.kind).toBe('SPAN_KIND_CLIENT');
    expect(spans[0].span.trace_id.toString('hex')).toBe(fresh.traceparent.split('-')[1]);
  });

  it('adds a CLIENT span for the upstream request with spawn_upstream_span', async () => {
    const receiver = track(await startOtlpReceiver());
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [tracingListener('OUTBOUND', { spawn_upstream_span: { value: true } })],
      clusters: [staticCluster('a', [backend.port]), staticCluster('otel', [receiver.port], { http2_protocol_options: {} })],
    });
    const seen = JSON.parse(String((await get(engine.listenerPort('http') ?? 0, '/', { host: 'backend.mesh' })).headers['x-seen-headers'])) as Record<string, string>;
    const spans = await eventually(() => {
      const s = spansOf(receiver);
      expect(s).toHaveLength(2);
      return s.map((x) => x.span);
    }, 5000);
    const server = spans.find((x) => x.kind === 'SPAN_KIND_SERVER');
    const client = spans.find((x) => x.kind === 'SPAN_KIND_CLIENT');
    expect(server?.name).toBe('egress backend.mesh');
    expect(client?.name).toBe('router a egress');
    expect(client?.parent_span_id.toString('hex')).toBe(server?.span_id.toString('hex'));
    // The upstream request's parent is the CLIENT span.
    expect(seen.traceparent.split('-')[2]).toBe(client?.span_id.toString('hex'));
  });

  it('exports over OTLP/HTTP with http_service: a protobuf POST to the URI, sent to a host of its cluster', async () => {
    const receiver = track(await startOtlpHttpReceiver());
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    // The URI's host is only the Host header: the request goes to the cluster's endpoint.
    const httpService = { http_uri: { uri: 'http://collector.example:4318/v1/traces', cluster: 'otel', timeout: { seconds: 10 } }, request_headers_to_add: [{ header: { key: 'x-tenant', value: 'mesh' } }] };
    await engine.apply({
      listeners: [tracingListener('INBOUND', {}, {}, { http_service: httpService, service_name: 'web_http' })],
      clusters: [staticCluster('a', [backend.port]), staticCluster('otel', [receiver.port])],
    });
    await get(engine.listenerPort('http') ?? 0, '/over-http');
    const spans = await eventually(() => {
      const s = spansOf(receiver);
      expect(s).toHaveLength(1);
      return s;
    }, 5000);
    expect(spans[0].service).toBe('web_http');
    expect(spans[0].span.name).toBe('ingress');
    expect(receiver.paths).toEqual(['/v1/traces']);
  });

  it('rejects a provider with neither or both of grpc_service and http_service', async () => {
    const engine = track(new Engine());
    const httpService = { http_uri: { uri: 'http://c:4318/v1/traces', cluster: 'otel', timeout: { seconds: 1 } } };
    await expect(engine.apply({ listeners: [tracingListener('INBOUND', {}, {}, { service_name: 'x' })] })).rejects.toThrow('exactly one of grpc_service, http_service is required');
    await expect(engine.apply({ listeners: [tracingListener('INBOUND', {}, {}, { grpc_service: grpcService, http_service: httpService })] })).rejects.toThrow('exactly one of grpc_service, http_service is required');
    await expect(engine.apply({ listeners: [tracingListener('INBOUND', {}, {}, { http_service: { http_uri: { uri: 'ftp://c/x', cluster: 'otel' } } })] })).rejects.toThrow('must be an http or https URI');
  });

  it('sends access log records to an OpenTelemetry collector', async () => {
    const receiver = track(await startOtlpReceiver());
    const backend = track(await startHttpServer('a'));
    const engine = track(new Engine());
    await engine.apply({
      listeners: [decoded('listeners', {
        name: 'http',
        address: socketAddress(0),
        filter_chains: [{ filters: [hcm('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]) }, {
          access_log: [{ name: 'envoy.access_loggers.open_telemetry', typed_config: packAny(OTEL_LOG, {
            common_config: { log_name: 'MeshAccessLog', grpc_service: grpcService, transport_api_version: 'V3' },
            body: { string_value: '%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE%' },
            attributes: { values: [{ key: 'cluster', value: { string_value: '%UPSTREAM_CLUSTER%' } }] },
          }) }],
        })] }],
      })],
      clusters: [staticCluster('a', [backend.port]), staticCluster('otel', [receiver.port], { http2_protocol_options: {} })],
    });
    await get(engine.listenerPort('http') ?? 0, '/logged');
    const records = await eventually(() => {
      const r = receiver.logs.flatMap((req) => (req.resource_logs as Obj[]).flatMap((rl) => (rl.scope_logs as Obj[]).flatMap((sl) => sl.log_records as Obj[])));
      expect(r).toHaveLength(1);
      return r;
    }, 5000);
    expect((records[0].body as Obj).string_value).toBe('GET /logged 200');
    expect(records[0].attributes).toEqual([{ key: 'cluster', value: { string_value: 'a', value: 'string_value' } }]);
  });
});
