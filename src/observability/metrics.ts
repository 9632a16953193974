// Control plane metrics, one registry per CP process (tests run several CPs in one process).
// The same registry is scraped on :5680/metrics and pushed over OTLP (otel.ts).
import { Counter, Histogram, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class CpMetrics {
  readonly registry = new Registry();

  readonly apiRequests = new Counter({
    name: 'skein_api_server_requests_total',
    help: 'REST API requests by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });

  readonly apiLatency = new Histogram({
    name: 'skein_api_server_request_duration_seconds',
    help: 'REST API request latency',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly storeLatency = new Histogram({
    name: 'skein_store_operation_duration_seconds',
    help: 'Resource store operation latency',
    labelNames: ['operation', 'resource_type'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly resources = new Gauge({
    name: 'skein_resources',
    help: 'Stored resources by type (refreshed on scrape)',
    labelNames: ['resource_type'] as const,
    registers: [this.registry],
  });

  readonly xdsGeneration = new Histogram({
    name: 'skein_xds_generation_duration_seconds',
    help: 'Time to generate one proxy\'s xDS snapshot',
    labelNames: ['mesh'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly xdsGenerations = new Counter({
    name: 'skein_xds_generations_total',
    help: 'Proxy snapshot generations by result (changed: a new config was pushed; unchanged; error)',
    labelNames: ['mesh', 'result'] as const,
    registers: [this.registry],
  });

  readonly xdsDelivery = new Histogram({
    name: 'skein_xds_delivery_duration_seconds',
    help: 'Time from a new snapshot being generated to the proxy ACKing it, per resource type',
    labelNames: ['type_url'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly xdsResponses = new Counter({
    name: 'skein_xds_responses_total',
    help: 'xDS responses answered by proxies (ACK or NACK)',
    labelNames: ['type_url', 'result'] as const,
    registers: [this.registry],
  });

  readonly xdsConnectedProxies = new Gauge({
    name: 'skein_xds_connected_proxies',
    help: 'Proxies with an open xDS stream, per mesh',
    labelNames: ['mesh'] as const,
    registers: [this.registry],
  });

  readonly kdsSyncLag = new Histogram({
    name: 'skein_kds_sync_lag_seconds',
    help: 'Multi-zone sync: time from a store change to the peer ACKing the message carrying it',
    labelNames: ['zone', 'direction'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly kdsMessages = new Counter({
    name: 'skein_kds_messages_total',
    help: 'Multi-zone sync messages sent and answered by the peer (ack | nack)',
    labelNames: ['zone', 'direction', 'result'] as const,
    registers: [this.registry],
  });

  readonly kdsConnectedZones = new Gauge({
    name: 'skein_kds_connected_zones',
    help: 'Zone CPs with an open sync stream (global) or 1 while connected to global (zone)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'skein_cp_' });
  }
}
