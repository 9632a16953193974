// http_connection_manager tracing with the OpenTelemetry provider (envoy.tracers.opentelemetry):
// a span per request, continuing the W3C trace of an incoming `traceparent` (and its sampling
// decision) or starting one (random_sampling × overall_sampling); the upstream request carries
// the new span as its parent. Sampled spans go to the collector cluster over OTLP/gRPC
// (grpc_service) or OTLP/HTTP (http_service, protobuf).
// Spans are named like Envoy's: `ingress` (SERVER) on inbound listeners, `egress <host>` (CLIENT)
// on outbound ones; with spawn_upstream_span the upstream request gets its own CLIENT span.
import { randomBytes } from 'node:crypto';
import { reject } from '../config-error.js';
import { bool, checkFields, list, num, obj, str, unpackTyped, type Obj } from '../proto-values.js';
import { chance } from '../percent.js';
import type { CompileContext, HttpExchange, RequestLog } from '../registry.js';
import { attributes, compileGrpcService, compileHttpService, OtlpExporter, stringValue, TRACE_EXPORT } from './otlp.js';

const OPENTELEMETRY_CONFIG = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface SpanContext {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  sampled: boolean;
  traceState: string;
  /** With spawn_upstream_span: the CLIENT span of the upstream request (its parent is spanId). */
  upstreamSpanId?: string;
}

export interface Tracer {
  /** After the route matched: decides sampling and sets the upstream traceparent. */
  onRequest(ex: HttpExchange): void;
  /** When the response is done: ends and exports the span. */
  onResponse(ex: HttpExchange): void;
}

type CustomTag = (ex: HttpExchange) => [string, string] | undefined;

export function compileTracing(value: unknown, path: string, ctx: CompileContext): Tracer {
  const tracing = obj(value, path);
  checkFields(tracing, path, ['provider', 'random_sampling', 'client_sampling', 'overall_sampling', 'custom_tags', 'max_path_tag_length', 'verbose', 'spawn_upstream_span']);
  if (tracing.verbose === true) reject(`${path}.verbose`, 'is not supported');
  const percent = (field: string): number => {
    const p = obj(tracing[field], `${path}.${field}`);
    checkFields(p, `${path}.${field}`, ['value']);
    return tracing[field] === undefined ? 1 : num(p.value, 0) / 100;
  };
  const provider = obj(tracing.provider, `${path}.provider`);
  checkFields(provider, `${path}.provider`, ['name', 'typed_config', 'config_type']);
  if (!provider.typed_config) reject(`${path}.provider`, 'a provider with typed_config is required');
  const { typeUrl, config } = unpackTyped(provider.typed_config, `${path}.provider.typed_config`);
  if (typeUrl !== OPENTELEMETRY_CONFIG) reject(`${path}.provider.typed_config`, `tracer ${typeUrl} is not supported (use ${OPENTELEMETRY_CONFIG})`);
  const ppath = `${path}.provider.typed_config`;
  checkFields(config, ppath, ['grpc_service', 'http_service', 'service_name']);
  if (Boolean(config.grpc_service) === Boolean(config.http_service)) reject(ppath, 'exactly one of grpc_service, http_service is required');
  const target = config.grpc_service ? compileGrpcService(config.grpc_service, `${ppath}.grpc_service`) : compileHttpService(config.http_service, `${ppath}.http_service`);
  const serviceName = str(config.service_name) || 'unknown_service:envoy';
  const exporter = new OtlpExporter<Obj>(target, ctx.live, TRACE_EXPORT, (spans) => ({
    resource_spans: [{
      resource: { attributes: attributes({ 'service.name': serviceName }) },
      scope_spans: [{ scope: { name: 'envoy' }, spans }],
    }],
  }));
  const customTags = list(tracing.custom_tags, `${path}.custom_tags`).map((t, i) => compileCustomTag(t, `${path}.custom_tags[${i}]`));
  return new OpenTelemetryTracer(
    exporter,
    { random: percent('random_sampling'), client: percent('client_sampling'), overall: percent('overall_sampling') },
    num(tracing.max_path_tag_length, 256),
    ctx.trafficDirection === 'OUTBOUND',
    bool(tracing.spawn_upstream_span, false),
    customTags,
  );
}

function compileCustomTag(tag: Obj, path: string): CustomTag {
  checkFields(tag, path, ['tag', 'literal', 'request_header', 'type']);
  const name = str(tag.tag);
  if (!name) reject(`${path}.tag`, 'is required');
  if (tag.literal) {
    const literal = obj(tag.literal, `${path}.literal`);
    checkFields(literal, `${path}.literal`, ['value']);
    const v = str(literal.value);
    return () => [name, v];
  }
  if (tag.request_header) {
    const header = obj(tag.request_header, `${path}.request_header`);
    checkFields(header, `${path}.request_header`, ['name', 'default_value']);
    const headerName = str(header.name).toLowerCase();
    const fallback = str(header.default_value);
    return (ex) => {
      const v = ex.req.headers[headerName];
      const s = Array.isArray(v) ? v.join(',') : v ?? fallback;
      return s ? [name, s] : undefined;
    };
  }
  return reject(path, 'one of literal, request_header is required (environment and metadata tags are not supported)');
}

/** Parses a W3C traceparent header; undefined when absent or invalid (a new trace starts). */
export function parseTraceparent(value: string | string[] | undefined): { traceId: string; spanId: string; sampled: boolean } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]) || /^0+$/.test(m[3])) return undefined;
  return { traceId: m[2], spanId: m[3], sampled: (parseInt(m[4], 16) & 1) === 1 };
}

class OpenTelemetryTracer implements Tracer {
  constructor(
    private readonly exporter: OtlpExporter<Obj>,
    private readonly sampling: { random: number; client: number; overall: number },
    private readonly maxPathTagLength: number,
    private readonly egress: boolean,
    /** spawn_upstream_span: the proxy is its own hop; the upstream request gets a CLIENT child span. */
    private readonly spawnUpstream: boolean,
    private readonly customTags: CustomTag[],
  ) {}

  onRequest(ex: HttpExchange): void {
    const headers = ex.req.headers;
    const parent = parseTraceparent(headers.traceparent);
    let sampled: boolean;
    if (parent) sampled = parent.sampled;
    else if (headers['x-envoy-force-trace'] !== undefined) sampled = true;
    else if (headers['x-client-trace-id'] !== undefined) sampled = chance(this.sampling.client) && chance(this.sampling.overall);
    else sampled = chance(this.sampling.random) && chance(this.sampling.overall);
    const span: SpanContext = {
      traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      parentSpanId: parent?.spanId ?? '',
      sampled,
      traceState: typeof headers.tracestate === 'string' ? headers.tracestate : '',
    };
    if (this.spawnUpstream) span.upstreamSpanId = randomBytes(8).toString('hex');
    ex.span = span;
    const traceparent = `00-${span.traceId}-${span.upstreamSpanId ?? span.spanId}-${sampled ? '01' : '00'}`;
    (ex.upstreamHeaders ??= []).push('traceparent', traceparent);
  }

  onResponse(ex: HttpExchange): void {
    const span = ex.span;
    const log = ex.log;
    if (!span || !span.sampled || !log) return;
    const endNs = BigInt(log.startMs) * 1_000_000n + (process.hrtime.bigint() - log.startNs);
    const request = log.request;
    const authority = request?.authority ?? '';
    const tags: Record<string, string> = {
      'node_id': '',
      'zone': '',
      'guid:x-request-id': requestId(log),
      'http.url': `${request?.scheme ?? 'http'}://${authority}${request?.path ?? ''}`.slice(0, this.maxPathTagLength),
      'http.method': request?.method ?? '',
      'downstream_cluster': '-',
      'user_agent': String(ex.req.headers['user-agent'] ?? '-'),
      'http.protocol': log.protocol,
      'peer.address': log.downstreamRemoteAddress.replace(/:\d+$/, ''),
      'request_size': String(log.bytesReceived),
      'response_size': String(log.bytesSent),
      'component': 'proxy',
      'upstream_cluster': log.upstreamCluster || '-',
      'upstream_cluster.name': log.upstreamCluster || '-',
      'http.status_code': String(log.status),
      'response_flags': log.flags.length ? log.flags.join(',') : '-',
    };
    for (const tag of this.customTags) {
      const kv = tag(ex);
      if (kv) tags[kv[0]] = kv[1];
    }
    const error = log.status >= 500 || log.status === 0;
    if (error) tags.error = 'true';
    const startNs = String(BigInt(log.startMs) * 1_000_000n);
    const spanOf = (spanId: string, parentSpanId: string, name: string, kind: string, values: Record<string, string>): Obj => ({
      trace_id: Buffer.from(span.traceId, 'hex'),
      span_id: Buffer.from(spanId, 'hex'),
      parent_span_id: parentSpanId ? Buffer.from(parentSpanId, 'hex') : Buffer.alloc(0),
      trace_state: span.traceState,
      name,
      kind,
      start_time_unix_nano: startNs,
      end_time_unix_nano: String(endNs),
      attributes: Object.entries(values).map(([key, value]) => ({ key, value: stringValue(value) })),
      status: error ? { code: 'STATUS_CODE_ERROR' } : {},
    });
    const name = this.egress ? `egress ${authority}` : 'ingress';
    if (!span.upstreamSpanId) {
      this.exporter.add(spanOf(span.spanId, span.parentSpanId, name, this.egress ? 'SPAN_KIND_CLIENT' : 'SPAN_KIND_SERVER', tags));
      return;
    }
    // spawn_upstream_span: the proxy's own SERVER span, and a CLIENT span for the upstream request.
    this.exporter.add(spanOf(span.spanId, span.parentSpanId, name, 'SPAN_KIND_SERVER', tags));
    if (!log.upstreamHost) return;
    this.exporter.add(spanOf(span.upstreamSpanId, span.spanId, `router ${log.upstreamCluster} egress`, 'SPAN_KIND_CLIENT', {
      'component': 'proxy',
      'upstream_address': log.upstreamHost,
      'upstream_cluster': log.upstreamCluster,
      'upstream_cluster.name': log.upstreamCluster,
      'http.protocol': log.protocol,
      'http.status_code': String(log.status),
      'response_flags': tags.response_flags,
      ...(error ? { error: 'true' } : {}),
    }));
  }
}

function requestId(log: RequestLog): string {
  const sent = log.upstreamRequestHeaders;
  if (sent) for (let i = 0; i < sent.length; i += 2) if (sent[i].toLowerCase() === 'x-request-id') return sent[i + 1];
  const v = log.request?.headers['x-request-id'];
  return typeof v === 'string' ? v : '';
}
