// MeshCircuitBreaker (Kuma 2.14): connection limits and outlier detection on outbound clusters
// (`to[]`, incl. zone-egress MeshExternalService clusters) and inbound clusters (`rules[]`, `from[]`
// read as catch-all rules).
import { Violations, type Resource } from '../../api/resource.js';
import { boolean, duration, integer, object } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { targetRefSchema, type TargetRef } from '../../policy-engine/target-ref.js';
import { checkGreaterThanZero, commonWarnings, checkPercentage, checkPositiveDuration, checkTargetRefs, checkUintPercent, intOrString, meshToMeshDefault, policyDescriptor, policySchema, type DefaultPolicy } from '../common/validate.js';

export interface MeshCircuitBreakerConf {
  connectionLimits?: { maxConnections?: number; maxConnectionPools?: number; maxPendingRequests?: number; maxRetries?: number; maxRequests?: number };
  outlierDetection?: {
    disabled?: boolean;
    interval?: string;
    baseEjectionTime?: string;
    maxEjectionPercent?: number;
    splitExternalAndLocalErrors?: boolean;
    healthyPanicThreshold?: number | string;
    detectors?: {
      totalFailures?: { consecutive?: number };
      gatewayFailures?: { consecutive?: number };
      localOriginFailures?: { consecutive?: number };
      successRate?: { minimumHosts?: number; requestVolume?: number; standardDeviationFactor?: number | string };
      failurePercentage?: { minimumHosts?: number; requestVolume?: number; threshold?: number };
    };
  };
}

export interface MeshCircuitBreakerSpec {
  targetRef?: TargetRef;
  from?: { targetRef?: TargetRef; default?: MeshCircuitBreakerConf }[];
  to?: { targetRef?: TargetRef; default?: MeshCircuitBreakerConf }[];
  rules?: { default?: MeshCircuitBreakerConf }[];
}

const consecutive = object({ consecutive: integer });
const confSchema = object({
  connectionLimits: object({ maxConnections: integer, maxConnectionPools: integer, maxPendingRequests: integer, maxRetries: integer, maxRequests: integer }),
  outlierDetection: object({
    disabled: boolean,
    interval: duration,
    baseEjectionTime: duration,
    maxEjectionPercent: integer,
    splitExternalAndLocalErrors: boolean,
    healthyPanicThreshold: intOrString,
    detectors: object({
      totalFailures: consecutive,
      gatewayFailures: consecutive,
      localOriginFailures: consecutive,
      successRate: object({ minimumHosts: integer, requestVolume: integer, standardDeviationFactor: intOrString }),
      failurePercentage: object({ minimumHosts: integer, requestVolume: integer, threshold: integer }),
    }),
  }),
});

// No `matches` on MeshCircuitBreaker rules.
export const meshCircuitBreakerSchema = (() => {
  const s = policySchema(targetRefSchema, { from: confSchema, to: confSchema, rules: confSchema });
  const props = s['properties'] as Record<string, Record<string, unknown>>;
  props['rules'] = { type: 'array', items: object({ default: confSchema }) };
  return s;
})();

function checkConf(v: Violations, at: string, conf: MeshCircuitBreakerConf | undefined): void {
  if (!conf?.connectionLimits && !conf?.outlierDetection) {
    v.add(at, "at least one of: 'connectionLimits' or 'outlierDetection' should be configured");
    return;
  }
  const limits = conf.connectionLimits;
  if (limits) {
    for (const key of ['maxConnections', 'maxConnectionPools', 'maxPendingRequests', 'maxRetries', 'maxRequests'] as const) {
      if (limits[key] !== undefined && limits[key] === 0) v.add(`${at}.connectionLimits.${key}`, 'must be greater than 0');
    }
  }
  const od = conf.outlierDetection;
  if (!od) return;
  const o = `${at}.outlierDetection`;
  checkPositiveDuration(v, `${o}.interval`, od.interval);
  checkPositiveDuration(v, `${o}.baseEjectionTime`, od.baseEjectionTime);
  checkUintPercent(v, `${o}.maxEjectionPercent`, od.maxEjectionPercent);
  checkPercentage(v, `${o}.healthyPanicThreshold`, od.healthyPanicThreshold);
  if (od.disabled) return;
  const d = od.detectors;
  if (!d) {
    v.add(`${o}.detectors`, 'must be defined');
    return;
  }
  if (!d.totalFailures && !d.gatewayFailures && !d.localOriginFailures && !d.successRate && !d.failurePercentage) {
    v.add(`${o}.detectors`, 'must have at least one defined: totalFailures, gatewayFailures, localOriginFailures, successRate, failurePercentage');
  }
  for (const key of ['totalFailures', 'gatewayFailures', 'localOriginFailures'] as const) {
    if (d[key]?.consecutive !== undefined) checkGreaterThanZero(v, `${o}.detectors.${key}.consecutive`, d[key]!.consecutive);
  }
  if (d.successRate) {
    const s = `${o}.detectors.successRate`;
    checkGreaterThanZero(v, `${s}.minimumHosts`, d.successRate.minimumHosts);
    checkGreaterThanZero(v, `${s}.requestVolume`, d.successRate.requestVolume);
    const f = d.successRate.standardDeviationFactor;
    if (f !== undefined) {
      const n = Number(f);
      if (typeof f === 'string' && (f.trim() === '' || Number.isNaN(n))) v.add(`${s}.standardDeviationFactor`, 'invalid number');
      else if (n <= 0) v.add(`${s}.standardDeviationFactor`, 'must be greater than 0');
    }
  }
  if (d.failurePercentage) {
    const p = `${o}.detectors.failurePercentage`;
    checkGreaterThanZero(v, `${p}.minimumHosts`, d.failurePercentage.minimumHosts);
    checkGreaterThanZero(v, `${p}.requestVolume`, d.failurePercentage.requestVolume);
    checkUintPercent(v, `${p}.threshold`, d.failurePercentage.threshold);
  }
}

export function validateMeshCircuitBreaker(res: Resource): Violations {
  const spec = res.spec as MeshCircuitBreakerSpec;
  const v = new Violations();
  // SKEIN-SPEC §3: a zone proxy's listener is picked with `sectionName`, also for `to[]` policies.
  checkTargetRefs(v, spec, {
    sectionNameWithTo: true,
    topLevel: ['Mesh', 'MeshSubset', 'MeshService', 'MeshGateway', 'MeshServiceSubset', 'Dataplane'],
    from: ['Mesh'],
    to: ['Mesh', 'MeshService', 'MeshExternalService', 'MeshMultiZoneService'],
  });
  const from = spec.from ?? [];
  const to = spec.to ?? [];
  const rules = spec.rules ?? [];
  if (rules.length === 0 && to.length === 0 && from.length === 0) v.add('spec', "at least one of 'from', 'to' or 'rules' has to be defined");
  if (rules.length > 0 && (to.length > 0 || from.length > 0)) v.add('spec', "fields 'to' and 'from' must be empty when 'rules' is defined");
  from.forEach((f, i) => checkConf(v, `spec.from[${i}].default`, f.default));
  to.forEach((t, i) => checkConf(v, `spec.to[${i}].default`, t.default));
  rules.forEach((r, i) => checkConf(v, `spec.rules[${i}].default`, r.default));
  return v;
}

export const meshCircuitBreakerKind: PolicyKindInfo = { name: 'MeshCircuitBreaker', fromAsRules: true };

export const meshCircuitBreakerDescriptor = policyDescriptor('MeshCircuitBreaker', 'mcb', 'Mesh Circuit Breaker', meshCircuitBreakerSchema, validateMeshCircuitBreaker, {
  warnings: (res) => commonWarnings(res),
});

/** Kuma's default circuit breaker (`mesh-circuit-breaker-all-<mesh>`). */
export function defaultCircuitBreakerPolicy(mesh: string): DefaultPolicy<MeshCircuitBreakerSpec> {
  return meshToMeshDefault('MeshCircuitBreaker', mesh, `mesh-circuit-breaker-all-${mesh}`, {
    connectionLimits: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
  });
}
