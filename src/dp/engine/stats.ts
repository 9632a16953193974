// Counters with Envoy names. The hot path holds a Counter and does `counter.value++`; names and
// tags are only looked at when /stats is rendered. Counters outlive config updates, as in Envoy.

export interface Counter {
  value: number;
}

export interface CounterEntry {
  /** Envoy dotted name, e.g. `cluster.backend.upstream_rq_total`. */
  name: string;
  /** Prometheus name without the `envoy_` prefix, e.g. `cluster_upstream_rq_total`. */
  metric: string;
  /** Prometheus labels extracted from the name, as Envoy's tag extractors do. */
  tags: Record<string, string>;
  counter: Counter;
  /** Gauges go up and down (e.g. ejections_active); counters only grow. */
  kind: 'counter' | 'gauge';
}

export class Stats {
  private readonly entries = new Map<string, CounterEntry>();

  private get(name: string, metric: string, tags: Record<string, string>, kind: 'counter' | 'gauge' = 'counter'): Counter {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = { name, metric, tags, counter: { value: 0 }, kind };
      this.entries.set(name, entry);
    }
    return entry.counter;
  }

  cluster(cluster: string, stat: string): Counter {
    return this.get(`cluster.${cluster}.${stat}`, `cluster_${stat}`, { envoy_cluster_name: cluster });
  }

  clusterGauge(cluster: string, stat: string): Counter {
    return this.get(`cluster.${cluster}.${stat}`, `cluster_${stat}`, { envoy_cluster_name: cluster }, 'gauge');
  }

  listener(address: string, stat: string): Counter {
    return this.get(`listener.${address}.${stat}`, `listener_${stat}`, { envoy_listener_address: address });
  }

  http(statPrefix: string, stat: string): Counter {
    return this.get(`http.${statPrefix}.${stat}`, `http_${stat}`, { envoy_http_conn_manager_prefix: statPrefix });
  }

  /** `downstream_rq_2xx` and friends; Envoy exports them as `downstream_rq_xx{envoy_response_code_class}`. */
  httpResponseClass(statPrefix: string, codeClass: number): Counter {
    return this.get(`http.${statPrefix}.downstream_rq_${codeClass}xx`, 'http_downstream_rq_xx', {
      envoy_response_code_class: String(codeClass),
      envoy_http_conn_manager_prefix: statPrefix,
    });
  }

  clusterResponseClass(cluster: string, codeClass: number): Counter {
    return this.get(`cluster.${cluster}.upstream_rq_${codeClass}xx`, 'cluster_upstream_rq_xx', {
      envoy_response_code_class: String(codeClass),
      envoy_cluster_name: cluster,
    });
  }

  httpGauge(statPrefix: string, stat: string): Counter {
    return this.get(`http.${statPrefix}.${stat}`, `http_${stat}`, { envoy_http_conn_manager_prefix: statPrefix }, 'gauge');
  }

  /** HTTP local rate limit: `<stat_prefix>.http_local_rate_limit.<stat>`. */
  httpLocalRateLimit(statPrefix: string, stat: string): Counter {
    return this.get(`${statPrefix}.http_local_rate_limit.${stat}`, `http_local_rate_limit_${stat}`, { envoy_local_http_ratelimit_prefix: statPrefix });
  }

  /** Network local rate limit: `local_rate_limit.<stat_prefix>.<stat>`. */
  networkLocalRateLimit(statPrefix: string, stat: string): Counter {
    return this.get(`local_rate_limit.${statPrefix}.${stat}`, `local_rate_limit_${stat}`, { envoy_local_network_ratelimit_prefix: statPrefix });
  }

  tcp(statPrefix: string, stat: string): Counter {
    return this.get(`tcp.${statPrefix}.${stat}`, `tcp_${stat}`, { envoy_tcp_prefix: statPrefix });
  }

  /** RBAC network filter: `<stat_prefix>.rbac.<stat>` (`rbac_<stat>{envoy_rbac_prefix}` in Prometheus). */
  rbac(statPrefix: string, stat: string): Counter {
    const prefix = statPrefix.endsWith('.') ? statPrefix.slice(0, -1) : statPrefix;
    const name = prefix ? `${prefix}.rbac.${stat}` : `rbac.${stat}`;
    return this.get(name, `rbac_${stat}`, prefix ? { envoy_rbac_prefix: prefix } : {});
  }

  /**
   * RBAC HTTP filter: `http.<hcm stat_prefix>.rbac.<rules_stat_prefix><stat>` (Envoy concatenates the
   * rules prefix as is). Prometheus: `http_rbac_<stat>{envoy_http_conn_manager_prefix}`, plus
   * `envoy_rbac_http_prefix` for a rules prefix ending in a dot.
   */
  httpRbac(statPrefix: string, rulesStatPrefix: string, stat: string): Counter {
    const tags: Record<string, string> = { envoy_http_conn_manager_prefix: statPrefix };
    let metric = `http_rbac_${rulesStatPrefix}${stat}`;
    if (rulesStatPrefix.endsWith('.')) {
      tags.envoy_rbac_http_prefix = rulesStatPrefix.slice(0, -1);
      metric = `http_rbac_${stat}`;
    }
    return this.get(`http.${statPrefix}.rbac.${rulesStatPrefix}${stat}`, metric, tags);
  }

  all(): CounterEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** Response counters of one stats scope, indexed by status class (1..5), created up front. */
export function responseClassCounters(make: (codeClass: number) => Counter): Counter[] {
  return [0, 1, 2, 3, 4, 5].map((c) => (c === 0 ? { value: 0 } : make(c)));
}

/** Counts a response in the counter of its status class. */
export function countStatus(byClass: Counter[], status: number): void {
  const counter = byClass[(status / 100) | 0];
  if (counter) counter.value++;
}
