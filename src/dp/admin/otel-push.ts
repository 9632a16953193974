// MeshMetric's OpenTelemetry backend, the agent's part (kuma-dp's in Kuma): every cluster whose
// filter metadata `io.skein.meshmetric` names a backend gets the proxy's stats pushed to one of its
// endpoints over OTLP/gRPC (MetricsService/Export), or OTLP/HTTP (protobuf POST to `path`), every
// `refreshInterval`. Stats keep their
// Prometheus names (`envoy_cluster_upstream_rq_total`) with their tags as attributes; counters are
// cumulative monotonic sums, gauges gauges. The profiles (`usedOnly`, `filter`) apply as on the
// Prometheus listener. A failed export is dropped and retried at the next interval.
import http from 'node:http';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { OTLP_PROTO_DIR } from '../../envoy/protos.js';
import type { Engine } from '../engine/engine.js';
import { structToJson } from '../engine/proto-values.js';
import type { CounterEntry } from '../engine/stats.js';
import { SKEIN_VERSION } from '../../version.js';

export const OTEL_METADATA_KEY = 'io.skein.meshmetric';
const EXPORT_METHOD = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
const DEFAULT_REFRESH_MS = 60_000;
/** How often the agent looks at the applied clusters for backends that appeared or changed. */
const SYNC_MS = 1_000;

export interface PushTarget {
  cluster: string;
  backend: string;
  refreshMs: number;
  usedOnly: boolean;
  filter?: string;
  /** OTLP/HTTP: POST protobuf to this path instead of calling MetricsService over gRPC. */
  httpPath?: string;
  /** Resource attributes the control plane adds (mesh, kuma.proxy_role, kuma.workload). */
  extraLabels?: Record<string, string>;
}

let requestType: protobuf.Type | undefined;

function exportRequestType(): protobuf.Type {
  if (!requestType) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(OTLP_PROTO_DIR, target));
    root.loadSync(['opentelemetry/proto/collector/metrics/v1/metrics_service.proto'], { keepCase: true });
    root.resolveAll();
    requestType = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
  }
  return requestType;
}

/** The push targets in a set of applied clusters (decoded Envoy Cluster objects). */
export function pushTargets(clusters: readonly Record<string, unknown>[]): PushTarget[] {
  const out: PushTarget[] = [];
  for (const c of clusters) {
    const md = (c.metadata as { filter_metadata?: Record<string, unknown> } | undefined)?.filter_metadata?.[OTEL_METADATA_KEY];
    if (!md) continue;
    const conf = structToJson(md) as { backend?: string; refreshInterval?: string; usedOnly?: boolean; filter?: string; extraLabels?: Record<string, string>; protocol?: string; path?: string };
    if (!conf.backend) continue; // e.g. the admin cluster's applications
    const seconds = /^(\d+(?:\.\d+)?)s$/.exec(conf.refreshInterval ?? '');
    out.push({
      cluster: String(c.name),
      backend: conf.backend,
      refreshMs: seconds ? Math.max(100, Number(seconds[1]) * 1000) : DEFAULT_REFRESH_MS,
      usedOnly: conf.usedOnly !== false,
      ...(conf.filter ? { filter: conf.filter } : {}),
      ...(conf.extraLabels ? { extraLabels: conf.extraLabels } : {}),
      ...(conf.protocol === 'http' ? { httpPath: conf.path || '/v1/metrics' } : {}),
    });
  }
  return out;
}

/** ExportMetricsServiceRequest (plain object for protobufjs) of the stats at this moment. */
export function metricsRequest(entries: readonly CounterEntry[], target: Pick<PushTarget, 'usedOnly' | 'filter'>, resource: Record<string, string>, startNanos: string): Record<string, unknown> {
  const now = (BigInt(Date.now()) * 1_000_000n).toString();
  const filter = target.filter ? new RegExp(target.filter) : undefined;
  const byName = new Map<string, CounterEntry[]>();
  for (const e of entries) {
    if (target.usedOnly && e.counter.value === 0) continue;
    const name = `envoy_${e.metric.replace(/[^a-zA-Z0-9_]/g, '_')}`;
    if (filter && !filter.test(name)) continue;
    const list = byName.get(name) ?? [];
    list.push(e);
    byName.set(name, list);
  }
  const attrs = (values: Record<string, string>) => Object.entries(values).map(([key, value]) => ({ key, value: { string_value: value } }));
  const metrics = [...byName].map(([name, list]) => {
    const points = list.map((e) => ({ attributes: attrs(e.tags), start_time_unix_nano: startNanos, time_unix_nano: now, as_int: e.counter.value }));
    return list[0].kind === 'gauge'
      ? { name, gauge: { data_points: points } }
      : { name, sum: { data_points: points, aggregation_temporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE', is_monotonic: true } };
  });
  return {
    resource_metrics: [{ resource: { attributes: attrs(resource) }, scope_metrics: [{ scope: { name: 'skein-dp', version: SKEIN_VERSION }, metrics }] }],
  };
}

/** Pushes the engine's stats to every OpenTelemetry backend of its applied config. */
export class MeshMetricPusher {
  private readonly running = new Map<string, { key: string; timer: NodeJS.Timeout }>();
  private readonly clients = new Map<string, grpc.Client>();
  private readonly syncTimer: NodeJS.Timeout;
  private readonly startNanos = (BigInt(Date.now()) * 1_000_000n).toString();

  constructor(
    private readonly engine: Engine,
    /** OTLP resource attributes (service.name, mesh...). */
    private readonly resource: Record<string, string>,
    private readonly onError: (backend: string, err: Error) => void = () => {},
  ) {
    this.syncTimer = setInterval(() => this.sync(), SYNC_MS);
    this.syncTimer.unref();
  }

  /** Starts, restarts or stops pushing to match the applied clusters. */
  sync(): void {
    const targets = pushTargets(this.engine.currentResources().clusters);
    const wanted = new Set(targets.map((t) => t.cluster));
    for (const [cluster, run] of this.running) {
      if (!wanted.has(cluster)) {
        clearInterval(run.timer);
        this.running.delete(cluster);
      }
    }
    for (const t of targets) {
      const key = JSON.stringify(t);
      if (this.running.get(t.cluster)?.key === key) continue;
      clearInterval(this.running.get(t.cluster)?.timer);
      const timer = setInterval(() => this.push(t), t.refreshMs);
      timer.unref();
      this.running.set(t.cluster, { key, timer });
    }
  }

  /** One export to an endpoint of the target's cluster. */
  push(target: PushTarget): Promise<void> {
    const host = this.engine.clusters().find((c) => c.name === target.cluster)?.pick();
    if (!host) return Promise.resolve();
    const type = exportRequestType();
    const resource = { ...this.resource, ...target.extraLabels };
    const payload = Buffer.from(type.encode(type.fromObject(metricsRequest(this.engine.stats.all(), target, resource, this.startNanos))).finish());
    const timeout = Math.min(target.refreshMs, 10_000);
    if (target.httpPath !== undefined) return this.post(host.address, host.port, target, payload, timeout);
    const address = `${host.address.includes(':') ? `[${host.address}]` : host.address}:${host.port}`;
    let client = this.clients.get(address);
    if (!client) this.clients.set(address, (client = new grpc.Client(address, grpc.credentials.createInsecure())));
    const identity = (b: Buffer): Buffer => b;
    return new Promise((resolve) => {
      client.makeUnaryRequest(EXPORT_METHOD, identity, identity, payload, new grpc.Metadata(), { deadline: Date.now() + timeout }, (err) => {
        if (err) this.onError(target.backend, err);
        resolve();
      });
    });
  }

  /** OTLP/HTTP: the same request as protobuf in a POST. */
  private post(address: string, port: number, target: PushTarget, payload: Buffer, timeout: number): Promise<void> {
    return new Promise((resolve) => {
      const req = http.request({ host: address, port, path: target.httpPath, method: 'POST', timeout, headers: { 'content-type': 'application/x-protobuf', 'content-length': payload.length } }, (res) => {
        res.resume();
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) this.onError(target.backend, new Error(`HTTP ${res.statusCode ?? 0}`));
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => {
        this.onError(target.backend, err);
        resolve();
      });
      req.end(payload);
    });
  }

  stop(): void {
    clearInterval(this.syncTimer);
    for (const run of this.running.values()) clearInterval(run.timer);
    this.running.clear();
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
