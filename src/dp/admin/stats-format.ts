// Text renderings of the engine's counters and clusters, in Envoy admin formats.
import type { Engine } from '../engine/engine.js';
import type { CounterEntry } from '../engine/stats.js';

/** `/stats`: `name: value` per line. */
export function statsText(entries: CounterEntry[], query: StatsQuery = {}): string {
  return entries.filter((e) => !(query.usedOnly && e.counter.value === 0) && !(query.filter && !query.filter.test(e.name))).map((e) => `${e.name}: ${e.counter.value}\n`).join('');
}

/** Query parameters of the admin stats endpoints, as Envoy names them. */
export interface StatsQuery {
  /** `usedonly`: only stats that were ever written (here: whose value is not 0). */
  usedOnly?: boolean;
  /**
   * `filter=<regex>`: only stats whose name it matches (anywhere). On `/stats/prometheus` Skein
   * matches the Prometheus name (`envoy_cluster_upstream_rq_total`), which is what MeshMetric's
   * selectors name; Envoy matches its own stat name there.
   */
  filter?: RegExp;
}

/** The query of a stats request; an invalid filter regex is an error (Envoy answers 400). */
export function statsQuery(params: URLSearchParams): StatsQuery {
  const filter = params.get('filter');
  return { usedOnly: params.has('usedonly'), ...(filter !== null && filter !== '' ? { filter: new RegExp(filter) } : {}) };
}

/** `/stats/prometheus`: envoy_-prefixed metrics with Envoy's tag extraction as labels. */
export function statsPrometheus(entries: CounterEntry[], query: StatsQuery = {}): string {
  const byMetric = new Map<string, CounterEntry[]>();
  for (const e of entries) {
    if (query.usedOnly && e.counter.value === 0) continue;
    if (query.filter && !query.filter.test(`envoy_${sanitize(e.metric)}`)) continue;
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
