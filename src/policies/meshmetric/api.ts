// MeshMetric (Kuma 2.14): which Envoy and application metrics a proxy exposes (Prometheus) or
// pushes (OpenTelemetry, `backendRef` to a MeshOpenTelemetryBackend). Proxy-wide single conf;
// `sidecar.profiles.appendProfiles` concatenates across policies, other lists are replaced.
import { Violations, type Resource } from '../../api/resource.js';
import { arrayOf, boolean, duration, integer, object, string } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { targetRefSchema, type TargetRef } from '../../policy-engine/target-ref.js';
import { OTEL_ENDPOINT_DEPRECATED, checkOtelBackend, commonWarnings, checkPositiveDuration, checkTargetRefs, otelBackendRefSchema, policyDescriptor, policySchema, type OtelBackend } from '../common/validate.js';

export interface Selector {
  type?: 'Prefix' | 'Regex' | 'Exact' | 'Contains';
  match?: string;
}

export interface MeshMetricBackend {
  type?: 'Prometheus' | 'OpenTelemetry';
  prometheus?: { clientId?: string; port?: number; path?: string; tls?: { mode?: 'Disabled' | 'ProvidedTLS' | 'ActiveMTLSBackend' } };
  openTelemetry?: OtelBackend & { refreshInterval?: string };
}

export interface MeshMetricConf {
  sidecar?: { profiles?: { appendProfiles?: { name?: string }[]; exclude?: Selector[]; include?: Selector[] }; includeUnused?: boolean };
  applications?: { name?: string; path?: string; address?: string; port?: number }[];
  backends?: MeshMetricBackend[];
}

export interface MeshMetricSpec {
  targetRef?: TargetRef;
  default?: MeshMetricConf;
}

const selector = object({ type: string, match: string });
export const meshMetricSchema = policySchema(targetRefSchema, {
  default: object({
    sidecar: object({ profiles: object({ appendProfiles: arrayOf(object({ name: string })), exclude: arrayOf(selector), include: arrayOf(selector) }), includeUnused: boolean, regex: string }),
    applications: arrayOf(object({ name: string, path: string, address: string, port: integer })),
    backends: arrayOf(
      object({
        type: string,
        prometheus: object({ clientId: string, port: integer, path: string, tls: object({ mode: string }) }),
        openTelemetry: object({ endpoint: string, backendRef: otelBackendRefSchema, refreshInterval: duration }),
      }),
    ),
  }),
});

const SELECTOR_TYPES = ['Prefix', 'Regex', 'Exact', 'Contains'];
const PROFILES = ['All', 'Basic', 'None'];
const TLS_MODES = ['Disabled', 'ProvidedTLS', 'ActiveMTLSBackend'];

function validPort(p: number | undefined): boolean {
  return p === undefined || (p >= 1 && p <= 65535);
}

export function validateMeshMetric(res: Resource): Violations {
  const spec = res.spec as MeshMetricSpec;
  const v = new Violations();
  checkTargetRefs(v, spec, { topLevel: ['Mesh', 'MeshSubset', 'MeshService', 'MeshServiceSubset', 'MeshGateway', 'Dataplane'], gatewayListenerTags: true });
  const conf = spec.default;
  if (!conf) {
    v.add('spec.default', 'must be defined');
    return v;
  }
  const profiles = conf.sidecar?.profiles;
  if (profiles) {
    const at = 'spec.default.sidecar.profiles';
    (profiles.appendProfiles ?? []).forEach((p, i) => {
      if (!PROFILES.includes(p.name ?? '')) v.add(`${at}.appendProfiles[${i}].name`, `unrecognized profile name '${p.name ?? ''}' - 'All', 'None', 'Basic' are supported`);
    });
    for (const list of ['include', 'exclude'] as const) {
      (profiles[list] ?? []).forEach((s, i) => {
        if (!SELECTOR_TYPES.includes(s.type ?? '')) v.add(`${at}.${list}[${i}].type`, `unrecognized type '${s.type ?? ''}' - 'Regex', 'Prefix', 'Exact' are supported`);
        else if (s.type === 'Regex') {
          try {
            new RegExp(s.match ?? '');
          } catch {
            v.add(`${at}.${list}[${i}].match`, 'invalid regex');
          }
        }
      });
    }
  }
  (conf.applications ?? []).forEach((a, i) => {
    if (a.port === undefined || !validPort(a.port)) v.add(`spec.default.applications[${i}].port`, 'port must be a valid (1-65535)');
  });
  (conf.backends ?? []).forEach((b, i) => {
    const at = `spec.default.backends[${i}]`;
    if (b.type === 'Prometheus') {
      if (!b.prometheus) v.add(`${at}.prometheus`, 'must be defined');
      else {
        if (!validPort(b.prometheus.port)) v.add(`${at}.prometheus.port`, 'port must be a valid (1-65535)');
        if (b.prometheus.tls?.mode !== undefined && !TLS_MODES.includes(b.prometheus.tls.mode)) {
          v.add(`${at}.prometheus.tls.mode`, `"mode" must be one of [${TLS_MODES.map((m) => `"${m}"`).join(', ')}]`);
        }
      }
    } else if (b.type === 'OpenTelemetry') {
      if (!b.openTelemetry) v.add(`${at}.openTelemetry`, 'must be defined');
      else {
        checkOtelBackend(v, `${at}.openTelemetry`, b.openTelemetry, true);
        checkPositiveDuration(v, `${at}.openTelemetry.refreshInterval`, b.openTelemetry.refreshInterval);
      }
    } else v.add(at, 'unrecognized type');
  });
  return v;
}

export const meshMetricKind: PolicyKindInfo = { name: 'MeshMetric', singleItem: true, appendPaths: [['sidecar', 'profiles', 'appendProfiles']] };

export const meshMetricDescriptor = policyDescriptor('MeshMetric', 'mm', 'Mesh Metric', meshMetricSchema, validateMeshMetric, {
  warnings: (res) => [
    ...commonWarnings(res),
    ...((res.spec as MeshMetricSpec).default?.backends ?? []).filter((b) => b.openTelemetry?.endpoint !== undefined).map(() => OTEL_ENDPOINT_DEPRECATED),
  ],
});
