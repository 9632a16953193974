// Pushes the control plane's Prometheus registry over OTLP/gRPC with the OpenTelemetry SDK.
//
// One source of truth: every metric is recorded once, in the prom-client registry that /metrics
// serves. A MetricProducer (the SDK's hook for bridges) converts that registry to OTel metric data
// at each export: counters → monotonic cumulative sums, gauges → gauges, histograms → explicit-bucket
// histograms with the same bounds. Names, labels (as attributes) and values are the same as on
// /metrics, so dashboards and alerts work with either path.
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import type { Registry } from 'prom-client';

/** prom-client's JSON form of one metric (`registry.getMetricsAsJSON()`). */
interface PromMetricJson {
  name: string;
  help: string;
  type: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

function hrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

function attributes(labels: Record<string, string | number>, drop?: string): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(labels)) if (k !== drop) out[k] = v;
  return out;
}

/** Converts one prom-client metric to OTel metric data; undefined for types with no equivalent. */
export function toOtelMetric(m: PromMetricJson, startMs: number, nowMs: number): MetricData | undefined {
  const descriptor = { name: m.name, description: m.help, unit: m.name.endsWith('_seconds') ? 's' : '', valueType: ValueType.DOUBLE };
  const startTime = hrTime(startMs);
  const endTime = hrTime(nowMs);
  switch (m.type) {
    case 'counter':
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: m.values.map((v) => ({ startTime, endTime, attributes: attributes(v.labels), value: v.value })),
      };
    case 'gauge':
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: m.values.map((v) => ({ startTime, endTime, attributes: attributes(v.labels), value: v.value })),
      };
    case 'histogram': {
      // prom-client gives cumulative `_bucket{le}` series plus `_sum` and `_count` per label set;
      // OTLP wants per-bucket counts over the finite bounds (+ the overflow bucket).
      const series = new Map<string, { attrs: Attributes; le: [number, number][]; sum: number; count: number }>();
      for (const v of m.values) {
        const attrs = attributes(v.labels, 'le');
        const key = JSON.stringify(Object.entries(attrs).sort());
        let s = series.get(key);
        if (!s) series.set(key, (s = { attrs, le: [], sum: 0, count: 0 }));
        if (v.metricName === `${m.name}_bucket`) s.le.push([v.labels['le'] === '+Inf' ? Infinity : Number(v.labels['le']), v.value]);
        else if (v.metricName === `${m.name}_sum`) s.sum = v.value;
        else if (v.metricName === `${m.name}_count`) s.count = v.value;
      }
      const dataPoints = [...series.values()].map((s) => {
        s.le.sort((a, b) => a[0] - b[0]);
        const boundaries = s.le.filter(([le]) => Number.isFinite(le)).map(([le]) => le);
        const counts: number[] = [];
        let previous = 0;
        for (const [, cumulative] of s.le) {
          counts.push(cumulative - previous);
          previous = cumulative;
        }
        if (counts.length === boundaries.length) counts.push(s.count - previous);
        return { startTime, endTime, attributes: s.attrs, value: { buckets: { boundaries, counts }, sum: s.sum, count: s.count } };
      });
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints };
    }
    default:
      return undefined; // summaries: none registered
  }
}

/** The bridge: an OTel MetricProducer reading a prom-client registry. */
export class PromRegistryProducer implements MetricProducer {
  private readonly startMs = Date.now();
  constructor(private readonly registry: Registry, private readonly beforeCollect?: () => Promise<void>) {}

  async collect(): Promise<CollectionResult> {
    const errors: unknown[] = [];
    await this.beforeCollect?.().catch((err: unknown) => errors.push(err));
    const now = Date.now();
    const json = (await this.registry.getMetricsAsJSON()) as unknown as PromMetricJson[];
    const metrics = json.map((m) => toOtelMetric(m, this.startMs, now)).filter((m): m is MetricData => m !== undefined);
    return {
      resourceMetrics: { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: { name: 'skein' }, metrics }] },
      errors,
    };
  }
}

export interface OtlpMetricsPush {
  shutdown(): Promise<void>;
}

/**
 * Starts pushing when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`) is
 * set; undefined otherwise. The exporter reads the standard OTEL_EXPORTER_OTLP_* variables
 * (endpoint, headers, insecure, certificates); OTEL_METRIC_EXPORT_INTERVAL sets the period (ms).
 */
export function startOtlpMetricsPush(opts: {
  registry: Registry;
  serviceInstanceId: string;
  beforeCollect?: () => Promise<void>;
  env?: NodeJS.ProcessEnv;
}): OtlpMetricsPush | undefined {
  const env = opts.env ?? process.env;
  if (!env['OTEL_EXPORTER_OTLP_ENDPOINT'] && !env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT']) return undefined;
  const interval = Number(env['OTEL_METRIC_EXPORT_INTERVAL'] ?? 60_000);
  const timeout = Number(env['OTEL_METRIC_EXPORT_TIMEOUT'] ?? 30_000);
  const exportIntervalMillis = Number.isFinite(interval) && interval > 0 ? interval : 60_000;
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter(),
    exportIntervalMillis,
    exportTimeoutMillis: Math.min(Number.isFinite(timeout) && timeout > 0 ? timeout : 30_000, exportIntervalMillis),
    metricProducers: [new PromRegistryProducer(opts.registry, opts.beforeCollect)],
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': env['OTEL_SERVICE_NAME'] || 'skein-control-plane',
      'service.instance.id': opts.serviceInstanceId,
    }),
    readers: [reader],
  });
  return { shutdown: () => provider.shutdown() };
}
