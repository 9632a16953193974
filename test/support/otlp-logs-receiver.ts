// A real OTLP/gRPC logs receiver for tests: the LogsService from the OpenTelemetry protos (package
// `otlp-protos`, as otlp-receiver.ts uses), decoded by @grpc/proto-loader. Records every log record
// it gets with its body, attributes and resource attributes.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

export interface OtlpLogRecord {
  /** The body as JSON: a string body as the string, a kvlist as an object. */
  body: unknown;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

export interface OtlpLogsReceiver {
  port: number;
  records: OtlpLogRecord[];
  close(): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protobuf messages */
function valueOf(v: any): unknown {
  if (!v?.value) return undefined;
  const which = v.value as string;
  if (which === 'kvlist_value') return kvs(v.kvlist_value.values);
  if (which === 'array_value') return (v.array_value.values ?? []).map(valueOf);
  if (which === 'int_value') return Number(v.int_value);
  return v[which];
}

function kvs(list: any[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv: any) => [kv.key, valueOf(kv.value)]));
}

export async function startOtlpLogsReceiver(): Promise<OtlpLogsReceiver> {
  const root = path.join(path.dirname(require.resolve('otlp-protos/package.json')), 'build', 'protos');
  const def = protoLoader.loadSync('opentelemetry/proto/collector/logs/v1/logs_service.proto', { includeDirs: [root], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const service = pkg.opentelemetry.proto.collector.logs.v1.LogsService.service as grpc.ServiceDefinition;
  const records: OtlpLogRecord[] = [];
  const server = new grpc.Server();
  server.addService(service, {
    Export: (call: grpc.ServerUnaryCall<any, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      for (const rl of call.request.resource_logs ?? []) {
        const resource = kvs(rl.resource?.attributes);
        for (const sl of rl.scope_logs ?? []) for (const r of sl.log_records ?? []) records.push({ body: valueOf(r.body), attributes: kvs(r.attributes), resource });
      }
      callback(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, records, close: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}
/* eslint-enable @typescript-eslint/no-explicit-any */
