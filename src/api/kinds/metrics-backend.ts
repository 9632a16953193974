// The metrics backend shared by `Mesh.metrics.backends[]` and `Dataplane.metrics` (only Prometheus).
import { joinField, type Violations } from '../resource.js';
import { arrayOf, boolean, integer, object, oneOfValues, string, stringMap } from '../schema.js';

export type PrometheusTlsMode = 'activeMTLSBackend' | 'providedTLS' | 'disabled';

export interface PrometheusConf {
  port?: number;
  path?: string;
  tags?: Record<string, string>;
  skipMTLS?: boolean;
  aggregate?: { name?: string; port?: number; path?: string; enabled?: boolean; address?: string }[];
  envoy?: { filterRegex?: string; usedOnly?: boolean };
  tls?: { mode?: PrometheusTlsMode };
}

export interface MetricsBackend {
  name?: string;
  type?: string;
  conf?: PrometheusConf;
}

const prometheusConfSchema = object({
  port: integer,
  path: string,
  tags: stringMap,
  skipMTLS: boolean,
  aggregate: arrayOf(object({ name: string, port: integer, path: string, enabled: boolean, address: string })),
  envoy: object({ filterRegex: string, usedOnly: boolean }),
  tls: object({ mode: oneOfValues(['activeMTLSBackend', 'providedTLS', 'disabled']) }),
});

export const metricsBackendSchema = object({ name: string, type: string, conf: prometheusConfSchema });

/** Kuma's Mesh defaulting of a Prometheus backend (port, path, tags, TLS mode from skipMTLS). */
export function defaultPrometheusBackend(backend: MetricsBackend): void {
  if (backend.type !== 'prometheus') return;
  const conf = (backend.conf ??= {});
  conf.port ||= 5670;
  conf.path ||= '/metrics';
  if (!conf.tags || Object.keys(conf.tags).length === 0) conf.tags = { 'kuma.io/service': 'dataplane-metrics' };
  if (!conf.tls?.mode) {
    conf.tls = { ...conf.tls, mode: conf.skipMTLS === true ? 'disabled' : 'activeMTLSBackend' };
  } else if (conf.tls.mode === 'providedTLS') {
    delete conf.skipMTLS;
  }
}

/** Semantic rules of one metrics backend; `field` is the backend's path (`metrics.backends[0]`, `metrics`). */
export function checkMetricsBackend(v: Violations, field: string, backend: MetricsBackend): void {
  if (backend.type !== 'prometheus') {
    v.add(joinField(field, 'type'), 'unknown backend type. Available backends: "prometheus"');
    return;
  }
  const conf = backend.conf;
  if (!conf) return;
  const confField = joinField(field, 'conf');
  const mode = conf.tls?.mode;
  if (conf.skipMTLS !== undefined && mode !== undefined) {
    const consistent = (conf.skipMTLS === false && mode === 'activeMTLSBackend') || (conf.skipMTLS === true && mode === 'disabled');
    if (!consistent) v.add(confField, 'skipMTLS and tls configuration cannot be defined together');
  }
  const filterRegex = conf.envoy?.filterRegex;
  if (filterRegex) {
    try {
      new RegExp(filterRegex);
    } catch (err) {
      v.add(`${confField}.envoy.filterRegex`, `provided regexp isn't correct: ${(err as Error).message}`);
    }
  }
  const names = new Set<string>();
  (conf.aggregate ?? []).forEach((a, i) => {
    const name = a.name ?? '';
    if (names.has(name)) v.add(`${confField}.aggregate[${i}].name`, `duplicate entry: ${name}, values have to be unique`);
    names.add(name);
  });
}
