// A real OTLP/gRPC collector for tests: serves TraceService and LogsService from OpenTelemetry's
// protos (loaded with @grpc/proto-loader) and keeps what it receives; and an OTLP/HTTP one.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OTLP_PROTO_DIR } from '../../../envoy/protos.js';
import { otlpRoot, TRACE_EXPORT } from './otlp.js';

export interface OtlpReceiver {
  port: number;
  /** ExportTraceServiceRequest messages received (bytes fields as Buffers, enums as names). */
  traces: Record<string, unknown>[];
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const definition = protoLoader.loadSync([
    'opentelemetry/proto/collector/trace/v1/trace_service.proto',
    'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  ], { keepCase: true, enums: String, longs: String, defaults: false, oneofs: true, includeDirs: [OTLP_PROTO_DIR] });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    opentelemetry: { proto: { collector: {
      trace: { v1: { TraceService: grpc.ServiceClientConstructor } };
      logs: { v1: { LogsService: grpc.ServiceClientConstructor } };
    } } };
  };
  const traces: Record<string, unknown>[] = [];
  const logs: Record<string, unknown>[] = [];
  const server = new grpc.Server();
  const collector = loaded.opentelemetry.proto.collector;
  server.addService(collector.trace.v1.TraceService.service, {
    Export: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      traces.push(call.request);
      callback(null, {});
    },
  });
  server.addService(collector.logs.v1.LogsService.service, {
    Export: (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      logs.push(call.request);
      callback(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    traces,
    logs,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}

/**
 * A real OTLP/HTTP trace collector for tests: `POST /v1/traces` with a protobuf
 * ExportTraceServiceRequest (decoded with OpenTelemetry's protos); other paths get 404.
 */
export async function startOtlpHttpReceiver(): Promise<OtlpReceiver & { paths: string[] }> {
  const type = otlpRoot().lookupType(TRACE_EXPORT.request);
  const traces: Record<string, unknown>[] = [];
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(req.url ?? '');
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        res.statusCode = 404;
        res.end();
        return;
      }
      traces.push(type.toObject(type.decode(Buffer.concat(chunks)), { enums: String, longs: String }) as Record<string, unknown>);
      res.setHeader('content-type', 'application/x-protobuf');
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    traces,
    logs: [],
    paths,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
