// Envoy v3 protos, loaded once from the .proto files shipped in @grpc/grpc-js-xds.
// Shared by the control plane (xds/) and the data plane (dp/): the wire format is Envoy's.
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
import protobuf from 'protobufjs';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const xdsPackageDir = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));

/** OpenTelemetry's own protos (OTLP), shipped in @opentelemetry/otlp-grpc-exporter-base. */
export const OTLP_PROTO_DIR = path.join(path.dirname(require.resolve('@opentelemetry/otlp-grpc-exporter-base/package.json')), 'build', 'protos');

export const PROTO_INCLUDE_DIRS = [
  ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(xdsPackageDir, 'deps', d)),
  OTLP_PROTO_DIR,
];

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

export const TypeUrl = {
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

/** The protos Skein reads or writes. Add a file here when a new Envoy extension is used. */
export const ENVOY_PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/network/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/health_check/event_sinks/file/v3/file.proto',
  'envoy/extensions/access_loggers/open_telemetry/v3/logs_service.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
];

// Well-known google/protobuf/*.proto files ship with protobufjs itself.
const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));

function resolveImport(_origin: string, target: string): string {
  if (path.isAbsolute(target) && fs.existsSync(target)) return target;
  for (const dir of [...PROTO_INCLUDE_DIRS, protobufjsDir]) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  return target;
}

let root: protobuf.Root | undefined;

/** protobufjs Root with every Envoy message Skein uses. */
export function envoyRoot(): protobuf.Root {
  if (!root) {
    const r = new protobuf.Root();
    r.resolvePath = resolveImport;
    r.loadSync(ENVOY_PROTO_FILES, { keepCase: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

/** Package definition for @grpc/grpc-js services (ADS). Same options as @grpc/grpc-js-xds uses. */
export function adsPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(['envoy/service/discovery/v3/ads.proto'], {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    json: true,
    includeDirs: PROTO_INCLUDE_DIRS,
  });
}

export function typeNameOf(typeUrl: string): string {
  return typeUrl.startsWith(TYPE_URL_PREFIX) ? typeUrl.slice(TYPE_URL_PREFIX.length) : typeUrl;
}

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

const typesByUrl = new Map<string, protobuf.Type>();

/** The message type of a type URL; looked up once (a Root lookup walks the namespace tree). */
function typeOf(typeUrl: string): protobuf.Type {
  let type = typesByUrl.get(typeUrl);
  if (!type) typesByUrl.set(typeUrl, (type = envoyRoot().lookupType(typeNameOf(typeUrl))));
  return type;
}

/** Encodes a plain object (snake_case fields, enums by name) as a google.protobuf.Any of the given type. */
export function packAny(typeUrl: string, message: Record<string, unknown>): AnyMessage {
  const type = typeOf(typeUrl);
  return { type_url: typeUrl, value: type.encode(type.fromObject(message)).finish() };
}

/** Decodes a google.protobuf.Any into a plain object (enums as names, 64-bit ints as strings). */
export function unpackAny(any: AnyMessage): Record<string, unknown> {
  const type = typeOf(any.type_url);
  return type.toObject(type.decode(any.value), { enums: String, longs: String, oneofs: true, defaults: false });
}

/** True when Skein's proto set knows this message type. */
export function knowsType(typeUrl: string): boolean {
  try {
    envoyRoot().lookupType(typeNameOf(typeUrl));
    return true;
  } catch {
    return false;
  }
}
