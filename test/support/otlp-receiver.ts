// A real OTLP/gRPC metrics receiver for tests: the MetricsService from the OpenTelemetry protos
// (the official .proto files, as shipped in an npm package), decoded by @grpc/proto-loader.
// It records every ExportMetricsServiceRequest it gets; nothing is accepted that does not decode.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** Where the opentelemetry-proto files live (package `otlp-protos`, a devDependency). */
function protoRoot(): string {
  const pkg = require.resolve('otlp-protos/package.json');
  return path.join(path.dirname(pkg), 'build', 'protos');
}

export interface OtlpNumberPoint {
  attributes: Record<string, string | number | boolean>;
  value: number;
}
export interface OtlpHistogramPoint {
  attributes: Record<string, string | number | boolean>;
  count: number;
  sum: number;
  bucketCounts: number[];
  explicitBounds: number[];
}
export interface OtlpMetric {
  name: string;
  kind: 'sum' | 'gauge' | 'histogram' | 'other';
  isMonotonic?: boolean;
  numberPoints: OtlpNumberPoint[];
  histogramPoints: OtlpHistogramPoint[];
}
export interface OtlpExport {
  resource: Record<string, string | number | boolean>;
  metrics: OtlpMetric[];
}

type AnyValue = { string_value?: string; int_value?: string | number; double_value?: number; bool_value?: boolean; value?: string };
type KeyValue = { key: string; value: AnyValue };

function attrs(kvs: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of kvs ?? []) {
    const v = kv.value ?? {};
    const which = v.value as keyof AnyValue | undefined;
    const raw = which ? v[which] : undefined;
    out[kv.key] = which === 'int_value' ? Number(raw) : (raw as string | number | boolean);
  }
  return out;
}

function numberValue(p: { as_double?: number; as_int?: string | number; value?: string }): number {
  return p.value === 'as_int' ? Number(p.as_int) : Number(p.as_double ?? 0);
}

/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protobuf messages */
function decode(request: any): OtlpExport[] {
  return (request.resource_metrics ?? []).map((rm: any) => ({
    resource: attrs(rm.resource?.attributes),
    metrics: (rm.scope_metrics ?? []).flatMap((sm: any) =>
      (sm.metrics ?? []).map((m: any): OtlpMetric => {
        const kind = m.data === 'sum' || m.data === 'gauge' || m.data === 'histogram' ? m.data : 'other';
        const numberPoints = kind === 'sum' || kind === 'gauge' ? m[kind].data_points.map((p: any) => ({ attributes: attrs(p.attributes), value: numberValue(p) })) : [];
        const histogramPoints =
          kind === 'histogram'
            ? m.histogram.data_points.map((p: any) => ({
                attributes: attrs(p.attributes),
                count: Number(p.count),
                sum: Number(p.sum ?? 0),
                bucketCounts: (p.bucket_counts ?? []).map(Number),
                explicitBounds: p.explicit_bounds ?? [],
              }))
            : [];
        return { name: m.name, kind, isMonotonic: kind === 'sum' ? !!m.sum.is_monotonic : undefined, numberPoints, histogramPoints };
      }),
    ),
  }));
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface OtlpReceiver {
  port: number;
  exports: OtlpExport[];
  /** The most recent export that has a metric of this name. */
  latest(name: string): OtlpMetric | undefined;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const root = protoRoot();
  const def = protoLoader.loadSync('opentelemetry/proto/collector/metrics/v1/metrics_service.proto', {
    includeDirs: [root],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const pkg = grpc.loadPackageDefinition(def) as any;
  const service = pkg.opentelemetry.proto.collector.metrics.v1.MetricsService.service as grpc.ServiceDefinition;
  const exports: OtlpExport[] = [];
  const server = new grpc.Server();
  server.addService(service, {
    Export: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      exports.push(...decode(call.request));
      callback(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    exports,
    latest: (name) => {
      for (let i = exports.length - 1; i >= 0; i--) {
        const m = exports[i]!.metrics.find((x) => x.name === name);
        if (m) return m;
      }
      return undefined;
    },
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}
