// OTLP over gRPC to an Envoy cluster (grpc_service.envoy_grpc): spans (TraceService/Export) and log
// records (LogsService/Export), encoded with protobufjs from OpenTelemetry's own protos and sent
// with @grpc/grpc-js; or OTLP/HTTP (http_service: a protobuf POST to its URI, through a host of its
// cluster). Items are batched and flushed every second (or at 512); a failed export is
// dropped, like Envoy's exporters do, so an absent collector never holds requests up.
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import https from 'node:https';
import protobuf from 'protobufjs';
import path from 'node:path';
import { OTLP_PROTO_DIR } from '../../../envoy/protos.js';
import { reject } from '../config-error.js';
import { checkFields, durationMs, list, obj, str, type Obj } from '../proto-values.js';
import type { LiveConfig } from '../registry.js';

let root: protobuf.Root | undefined;

/** The OTLP messages, loaded once. */
export function otlpRoot(): protobuf.Root {
  if (!root) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(OTLP_PROTO_DIR, target));
    r.loadSync([
      'opentelemetry/proto/collector/trace/v1/trace_service.proto',
      'opentelemetry/proto/collector/logs/v1/logs_service.proto',
    ], { keepCase: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

export const TRACE_EXPORT = { method: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', request: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest' };
export const LOGS_EXPORT = { method: '/opentelemetry.proto.collector.logs.v1.LogsService/Export', request: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest' };

/** core.v3.GrpcService with envoy_grpc: the cluster to export to. */
export interface GrpcTarget {
  cluster: string;
  authority: string;
  timeoutMs: number;
}

export function compileGrpcService(value: unknown, path: string): GrpcTarget {
  const service = obj(value, path);
  checkFields(service, path, ['envoy_grpc', 'timeout', 'target_specifier']);
  if (!service.envoy_grpc) reject(`${path}.envoy_grpc`, 'is required (google_grpc is not supported)');
  const envoyGrpc = obj(service.envoy_grpc, `${path}.envoy_grpc`);
  checkFields(envoyGrpc, `${path}.envoy_grpc`, ['cluster_name', 'authority']);
  const cluster = str(envoyGrpc.cluster_name);
  if (!cluster) reject(`${path}.envoy_grpc.cluster_name`, 'is required');
  return { cluster, authority: str(envoyGrpc.authority) || cluster, timeoutMs: durationMs(service.timeout, 5000) };
}

/** core.v3.HttpService (OTLP/HTTP): the URI to POST to and the cluster whose host receives it. */
export interface HttpTarget {
  cluster: string;
  url: URL;
  timeoutMs: number;
  headers: Record<string, string>;
}

export function compileHttpService(value: unknown, path: string): HttpTarget {
  const service = obj(value, path);
  checkFields(service, path, ['http_uri', 'request_headers_to_add']);
  const uri = obj(service.http_uri, `${path}.http_uri`);
  checkFields(uri, `${path}.http_uri`, ['uri', 'cluster', 'timeout']);
  const cluster = str(uri.cluster);
  if (!cluster) reject(`${path}.http_uri.cluster`, 'is required');
  let url: URL;
  try {
    url = new URL(str(uri.uri));
  } catch {
    return reject(`${path}.http_uri.uri`, `"${str(uri.uri)}" is not a valid URI`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') reject(`${path}.http_uri.uri`, 'must be an http or https URI');
  const headers: Record<string, string> = {};
  list(service.request_headers_to_add, `${path}.request_headers_to_add`).forEach((option, i) => {
    const at = `${path}.request_headers_to_add[${i}]`;
    checkFields(option, at, ['header', 'append_action']);
    const header = obj(option.header, `${at}.header`);
    checkFields(header, `${at}.header`, ['key', 'value']);
    headers[str(header.key).toLowerCase()] = str(header.value);
  });
  // Envoy's HttpUri.timeout is required; its default here is the gRPC exporter's.
  return { cluster, url, timeoutMs: durationMs(uri.timeout, 5000), headers };
}

const FLUSH_INTERVAL_MS = 1000;
const MAX_BATCH = 512;
const identity = (b: Buffer): Buffer => b;

/** Batches items and exports them to an endpoint of the target cluster. */
export class OtlpExporter<T> {
  private batch: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly requestType: protobuf.Type;

  constructor(
    private readonly target: GrpcTarget | HttpTarget,
    private readonly live: LiveConfig,
    private readonly rpc: { method: string; request: string },
    /** Builds the export request (a plain object for protobufjs) from a batch. */
    private readonly toRequest: (items: T[]) => Obj,
  ) {
    this.requestType = otlpRoot().lookupType(rpc.request);
  }

  add(item: T): void {
    this.batch.push(item);
    if (this.batch.length >= MAX_BATCH) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
      this.timer.unref();
    }
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.batch;
    this.batch = [];
    if (items.length === 0) return;
    const host = this.live.clusters.get(this.target.cluster)?.pick();
    if (!host) return;
    const type = this.requestType;
    const payload = Buffer.from(type.encode(type.fromObject(this.toRequest(items))).finish());
    if ('url' in this.target) {
      postOtlp(this.target, host, payload);
      return;
    }
    const client = clientFor(`${host.address.includes(':') ? `[${host.address}]` : host.address}:${host.port}`, this.target.authority);
    client.makeUnaryRequest(this.rpc.method, identity, identity, payload, new grpc.Metadata(), { deadline: Date.now() + this.target.timeoutMs }, () => {
      // Export failures are dropped: telemetry must not disturb traffic.
    });
  }
}

/** OTLP/HTTP export: a protobuf POST to the target URI, sent to a host of its cluster; failures dropped. */
function postOtlp(target: HttpTarget, host: { address: string; port: number }, payload: Buffer): void {
  const secure = target.url.protocol === 'https:';
  const req = (secure ? https : http).request({
    host: host.address,
    port: host.port,
    method: 'POST',
    path: `${target.url.pathname}${target.url.search}`,
    headers: { ...target.headers, 'host': target.url.host, 'content-type': 'application/x-protobuf', 'content-length': payload.length },
    timeout: target.timeoutMs,
    agent: false,
    ...(secure ? { servername: target.url.hostname } : {}),
  }, (res) => res.resume());
  req.on('timeout', () => req.destroy());
  req.on('error', () => {
    // Telemetry must not disturb traffic.
  });
  req.end(payload);
}

const clients = new Map<string, grpc.Client>();

function clientFor(address: string, authority: string): grpc.Client {
  const key = `${address}|${authority}`;
  let client = clients.get(key);
  if (!client) {
    client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority });
    clients.set(key, client);
  }
  return client;
}

/** An OTLP AnyValue for a string. */
export function stringValue(value: string): Obj {
  return { string_value: value };
}

/** OTLP KeyValue list from a record of strings. */
export function attributes(values: Record<string, string>): Obj[] {
  return Object.entries(values).map(([key, value]) => ({ key, value: stringValue(value) }));
}

/** Closes the collector connections (the engine is stopping). */
export function closeOtlpClients(): void {
  for (const client of clients.values()) client.close();
  clients.clear();
}
