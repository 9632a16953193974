// Access log entries for http_connection_manager / tcp_proxy `access_log`: Envoy's file logger and
// its OpenTelemetry (OTLP/gRPC) logger.
import { typedExtension } from './common.js';
import type { TypedExtensionConfig } from './types.js';

const FILE_ACCESS_LOG_TYPE_URL = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const OPEN_TELEMETRY_ACCESS_LOG_TYPE_URL = 'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig';

/** config.accesslog.v3.AccessLog (no filter: Skein emits none). */
export type AccessLog = TypedExtensionConfig;

/** A log line format: text with command operators, or a flat JSON object of format strings. */
export type LogFormat = { text: string; omitEmptyValues?: boolean } | { json: Record<string, unknown>; omitEmptyValues?: boolean };

/** google.protobuf.Struct as protobufjs' bundled well-known types want it (camelCase). */
export function jsonStruct(json: Record<string, unknown>): { fields: Record<string, unknown> } {
  const value = (v: unknown): unknown => {
    if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
    if (typeof v === 'number') return { numberValue: v };
    if (typeof v === 'boolean') return { boolValue: v };
    if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
    if (typeof v === 'object') return { structValue: jsonStruct(v as Record<string, unknown>) };
    return { stringValue: String(v) };
  };
  return { fields: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, value(v)])) };
}

/** `envoy.access_loggers.file`: one line per request (connection) appended to `path`. */
export function fileAccessLog(path: string, format: LogFormat): AccessLog {
  const logFormat = 'text' in format ? { text_format_source: { inline_string: format.text } } : { json_format: jsonStruct(format.json) };
  return typedExtension('envoy.access_loggers.file', FILE_ACCESS_LOG_TYPE_URL, {
    path,
    log_format: { ...logFormat, ...(format.omitEmptyValues ? { omit_empty_values: true } : {}) },
  });
}

/** An OTLP AnyValue (opentelemetry.proto.common.v1), snake_case as in the proto files. */
export type OtlpAnyValue =
  | { string_value: string }
  | { bool_value: boolean }
  | { int_value: number }
  | { double_value: number }
  | { array_value: { values: OtlpAnyValue[] } }
  | { kvlist_value: { values: OtlpKeyValue[] } };

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export interface OpenTelemetryAccessLogOptions {
  logName: string;
  /** Cluster of the OTLP/gRPC collector. */
  cluster: string;
  body?: OtlpAnyValue;
  attributes: OtlpKeyValue[];
  resourceAttributes: OtlpKeyValue[];
}

/** `envoy.access_loggers.open_telemetry`: each request (connection) as an OTLP LogRecord. */
export function openTelemetryAccessLog(o: OpenTelemetryAccessLogOptions): AccessLog {
  return typedExtension('envoy.access_loggers.open_telemetry', OPEN_TELEMETRY_ACCESS_LOG_TYPE_URL, {
    common_config: { log_name: o.logName, transport_api_version: 'V3', grpc_service: { envoy_grpc: { cluster_name: o.cluster } } },
    ...(o.body ? { body: o.body } : {}),
    attributes: { values: o.attributes },
    resource_attributes: { values: o.resourceAttributes },
  });
}
