// envoy.access_loggers.open_telemetry: each request (connection) becomes an OTLP LogRecord whose
// body and attributes are format strings, exported over gRPC (LogsService/Export) to a cluster.
import { reject } from '../config-error.js';
import { bool, checkFields, list, obj, str, type Obj } from '../proto-values.js';
import type { RequestLog } from '../registry.js';
import { attributes, compileGrpcService, LOGS_EXPORT, OtlpExporter } from '../tracing/otlp.js';
import { accessLoggers } from './access-log.js';
import { compileFormat } from './format.js';

const OPEN_TELEMETRY_ACCESS_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig';

type Render = (log: RequestLog) => Obj;

accessLoggers.register(OPEN_TELEMETRY_ACCESS_LOG, (config, path, ctx) => {
  checkFields(config, path, ['common_config', 'body', 'attributes', 'resource_attributes', 'disable_builtin_labels']);
  const cpath = `${path}.common_config`;
  const common = obj(config.common_config, cpath);
  if (!config.common_config) reject(cpath, 'is required');
  // buffer_* and retry settings tune Envoy's gRPC stream; the engine batches per second on its own.
  checkFields(common, cpath, ['log_name', 'grpc_service', 'transport_api_version', 'buffer_flush_interval', 'buffer_size_bytes']);
  const logName = str(common.log_name);
  if (!logName) reject(`${cpath}.log_name`, 'is required');
  const target = compileGrpcService(common.grpc_service, `${cpath}.grpc_service`);
  const resource: Obj[] = bool(config.disable_builtin_labels, false)
    ? []
    : attributes({ log_name: logName, zone_name: '', cluster_name: '', node_name: '' });
  resource.push(...list(obj(config.resource_attributes, `${path}.resource_attributes`).values, `${path}.resource_attributes.values`));
  const body = config.body === undefined ? undefined : compileAnyValue(config.body, `${path}.body`);
  const attrs = compileKeyValues(config.attributes, `${path}.attributes`);
  const exporter = new OtlpExporter<Obj>(target, ctx.live, LOGS_EXPORT, (records) => ({
    resource_logs: [{ resource: { attributes: resource }, scope_logs: [{ scope: { name: 'envoy' }, log_records: records }] }],
  }));
  return {
    log(record) {
      exporter.add({
        time_unix_nano: String(BigInt(record.startMs) * 1_000_000n),
        ...(body ? { body: body(record) } : {}),
        attributes: attrs(record),
      });
    },
  };
});

/** An OTLP AnyValue from the config: string values are format strings, lists and maps nest. */
function compileAnyValue(value: unknown, path: string): Render {
  const v = obj(value, path);
  if (v.string_value !== undefined) {
    const f = compileFormat(str(v.string_value), `${path}.string_value`);
    return (log) => ({ string_value: f.render(log) });
  }
  if (v.kvlist_value !== undefined) {
    const kv = compileKeyValues(v.kvlist_value, `${path}.kvlist_value`);
    return (log) => ({ kvlist_value: { values: kv(log) } });
  }
  if (v.array_value !== undefined) {
    const items = list(obj(v.array_value, `${path}.array_value`).values, `${path}.array_value.values`).map((x, i) => compileAnyValue(x, `${path}.array_value.values[${i}]`));
    return (log) => ({ array_value: { values: items.map((f) => f(log)) } });
  }
  return () => v;
}

function compileKeyValues(value: unknown, path: string): (log: RequestLog) => Obj[] {
  const entries = list(obj(value, path).values, `${path}.values`).map((kv, i) => {
    const kpath = `${path}.values[${i}]`;
    checkFields(kv, kpath, ['key', 'value']);
    return { key: str(kv.key), value: compileAnyValue(kv.value, `${kpath}.value`) };
  });
  return (log) => entries.map((e) => ({ key: e.key, value: e.value(log) }));
}
