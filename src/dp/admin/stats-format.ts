// Text renderings of the engine's counters and clusters, in Envoy admin formats.
import type { Engine } from '../engine/engine.js';
import type { CounterEntry } from '../engine/stats.js';

/** `/stats`: `name: value` per line. */
export function statsText(entries: CounterEntry[]): string {
  return entries.map((e) => `${e.name}: ${e.counter.value}\n`).join('');
}

/** `/stats/prometheus`: envoy_-prefixed metrics with Envoy's tag extraction as labels. */
export function statsPrometheus(entries: CounterEntry[]): string {
  const byMetric = new Map<string, CounterEntry[]>();
  for (const e of entries) {
    const list = byMetric.get(e.metric) ?? [];
    list.push(e);
    byMetric.set(e.metric, list);
  }
  let out = '';
  for (const [metric, list] of [...byMetric].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const name = `envoy_${sanitize(metric)}`;
    out += `# TYPE ${name} ${list[0].kind}\n`;
    for (const e of list) {
      const labels = Object.entries(e.tags).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      out += `${name}{${labels}} ${e.counter.value}\n`;
    }
  }
  return out;
}

/** `/clusters`: `cluster::host:port::stat::value`, like Envoy. */
export function clustersText(engine: Engine): string {
  let out = '';
  for (const cluster of engine.clusters()) {
    for (const h of cluster.hosts) {
      const prefix = `${cluster.name}::${h.label}::`;
      out += `${prefix}rq_active::${h.active}\n`;
      out += `${prefix}weight::${h.weight}\n`;
      out += `${prefix}health_flags::${h.healthFlags()}\n`;
    }
  }
  return out;
}

function sanitize(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
