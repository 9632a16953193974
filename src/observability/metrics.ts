// Control plane metrics, one registry per CP process (tests run several CPs in one process).
import { Counter, Histogram, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'skein_cp_' });
  }
}
