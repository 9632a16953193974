import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { PromRegistryProducer } from './otel.js';

describe('prom-client → OpenTelemetry bridge', () => {
  it('turns counters into monotonic sums and cumulative le buckets into per-bucket counts', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 't_requests_total', help: 'h', labelNames: ['route'], registers: [registry] });
    const h = new Histogram({ name: 't_latency_seconds', help: 'h', labelNames: ['route'], buckets: [0.1, 1], registers: [registry] });
    c.inc({ route: '/a' }, 3);
    for (const v of [0.05, 0.5, 0.7, 5]) h.observe({ route: '/a' }, v);

    const { resourceMetrics, errors } = await new PromRegistryProducer(registry).collect();
    expect(errors).toEqual([]);
    const metrics = resourceMetrics.scopeMetrics[0]!.metrics;
    const sum = metrics.find((m) => m.descriptor.name === 't_requests_total')!;
    expect(sum.dataPointType).toBe(DataPointType.SUM);
    expect(sum.dataPointType === DataPointType.SUM && sum.isMonotonic).toBe(true);
    expect(sum.dataPoints).toMatchObject([{ attributes: { route: '/a' }, value: 3 }]);

    const hist = metrics.find((m) => m.descriptor.name === 't_latency_seconds')!;
    expect(hist.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(hist.descriptor.unit).toBe('s');
    expect(hist.dataPoints).toHaveLength(1);
    expect(hist.dataPoints[0]).toMatchObject({ attributes: { route: '/a' }, value: { count: 4, buckets: { boundaries: [0.1, 1], counts: [1, 2, 1] } } });
    expect((hist.dataPoints[0]!.value as { sum: number }).sum).toBeCloseTo(6.25);
  });
});
