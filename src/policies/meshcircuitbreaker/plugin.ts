// MeshCircuitBreaker → Envoy cluster fields, as Kuma writes them:
//   connectionLimits.*            → circuit_breakers.thresholds[DEFAULT] max_* (+ track_remaining)
//   outlierDetection (enabled)    → outlier_detection: interval, base_ejection_time,
//                                   max_ejection_percent, split_external_local_origin_errors and the
//                                   detectors (each present detector enforcing 100, absent ones 0)
//   outlierDetection.healthyPanicThreshold → common_lb_config.healthy_panic_threshold
// Outbound clusters (sidecars, and zone egress / ingress clusters of zone proxies) take the merged
// `to[]` conf naming their destination; inbound (local) clusters take the catch-all `rules[]` /
// `from[]` conf of the inbound.
import type { Resource } from '../../api/resource.js';
import { parseDuration } from '../../api/rules.js';
import { matchPolicies, outboundConf, type DestinationView, type InboundView, type ProxyView } from '../../policy-engine/index.js';
import type { ClusterPatch } from '../../xds/envoy/cluster.js';
import { durationFromMs } from '../../xds/envoy/common.js';
import { inboundViewOf, selectionViewOf } from '../common/plugin-view.js';
import type { MeshCircuitBreakerConf } from './api.js';

type OutlierDetection = NonNullable<MeshCircuitBreakerConf['outlierDetection']>;

const u32 = (value: number) => ({ value });
const enforcing = (on: boolean) => u32(on ? 100 : 0);

/** The cluster fields of one merged conf. */
export function circuitBreakerPatch(conf: MeshCircuitBreakerConf): ClusterPatch {
  const limits = conf.connectionLimits ?? {};
  // Kuma gives every cluster a DEFAULT threshold that tracks what remains, limits or not.
  const threshold: Record<string, unknown> = { track_remaining: true };
  if (limits.maxConnections !== undefined) threshold['max_connections'] = u32(limits.maxConnections);
  if (limits.maxConnectionPools !== undefined) threshold['max_connection_pools'] = u32(limits.maxConnectionPools);
  if (limits.maxPendingRequests !== undefined) threshold['max_pending_requests'] = u32(limits.maxPendingRequests);
  if (limits.maxRequests !== undefined) threshold['max_requests'] = u32(limits.maxRequests);
  if (limits.maxRetries !== undefined) threshold['max_retries'] = u32(limits.maxRetries);
  const patch: ClusterPatch = { circuit_breakers: { thresholds: [threshold] } };
  const od = conf.outlierDetection;
  if (od && !od.disabled) patch.outlier_detection = outlierDetection(od);
  if (od?.healthyPanicThreshold !== undefined) patch.common_lb_config = { healthy_panic_threshold: { value: Number(od.healthyPanicThreshold) } };
  return patch;
}

function outlierDetection(od: OutlierDetection): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ms = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d));
  const interval = ms(od.interval);
  const baseEjection = ms(od.baseEjectionTime);
  if (interval !== undefined) out['interval'] = durationFromMs(interval);
  if (baseEjection !== undefined) out['base_ejection_time'] = durationFromMs(baseEjection);
  if (od.maxEjectionPercent !== undefined) out['max_ejection_percent'] = u32(od.maxEjectionPercent);
  if (od.splitExternalAndLocalErrors !== undefined) out['split_external_local_origin_errors'] = od.splitExternalAndLocalErrors;
  const d = od.detectors;
  // Envoy enforces consecutive 5xx / gateway / local-origin by default: turn off the absent ones.
  out['enforcing_consecutive_5xx'] = enforcing(Boolean(d?.totalFailures));
  out['enforcing_consecutive_gateway_failure'] = enforcing(Boolean(d?.gatewayFailures));
  out['enforcing_consecutive_local_origin_failure'] = enforcing(Boolean(d?.localOriginFailures));
  if (!d) return out;
  if (d.totalFailures?.consecutive !== undefined) out['consecutive_5xx'] = u32(d.totalFailures.consecutive);
  if (d.gatewayFailures?.consecutive !== undefined) out['consecutive_gateway_failure'] = u32(d.gatewayFailures.consecutive);
  if (d.localOriginFailures?.consecutive !== undefined) out['consecutive_local_origin_failure'] = u32(d.localOriginFailures.consecutive);
  out['enforcing_success_rate'] = enforcing(Boolean(d.successRate));
  out['enforcing_local_origin_success_rate'] = enforcing(Boolean(d.successRate));
  if (d.successRate) {
    const s = d.successRate;
    if (s.minimumHosts !== undefined) out['success_rate_minimum_hosts'] = u32(s.minimumHosts);
    if (s.requestVolume !== undefined) out['success_rate_request_volume'] = u32(s.requestVolume);
    if (s.standardDeviationFactor !== undefined) out['success_rate_stdev_factor'] = u32(Math.trunc(Number(s.standardDeviationFactor) * 1000));
  }
  out['enforcing_failure_percentage'] = enforcing(Boolean(d.failurePercentage));
  out['enforcing_failure_percentage_local_origin'] = enforcing(Boolean(d.failurePercentage));
  if (d.failurePercentage) {
    const f = d.failurePercentage;
    if (f.minimumHosts !== undefined) out['failure_percentage_minimum_hosts'] = u32(f.minimumHosts);
    if (f.requestVolume !== undefined) out['failure_percentage_request_volume'] = u32(f.requestVolume);
    if (f.threshold !== undefined) out['failure_percentage_threshold'] = u32(f.threshold);
  }
  return out;
}

function resolver(view: ProxyView, policies: readonly Resource[]): (destination: DestinationView) => ClusterPatch | undefined {
  const to = matchPolicies<MeshCircuitBreakerConf>(view, policies, 'MeshCircuitBreaker').to;
  return (destination) => {
    const merged = outboundConf(to, destination);
    return merged.origins.length && merged.conf ? circuitBreakerPatch(merged.conf) : undefined;
  };
}

/**
 * Per-sidecar resolver: the cluster fields of each destination it sends to (undefined: none). The
 * whole proxy view: a top-level MeshService / MeshSubset / `sectionName` selects the proxy by its
 * inbounds, also for `to[]`.
 */
export function outboundCircuitBreakers(policies: readonly Resource[], dp: Resource): (destination: DestinationView) => ClusterPatch | undefined {
  return resolver(selectionViewOf(dp), policies);
}

/**
 * The same for a zone proxy's clusters (egress: external services and other zones' destinations;
 * ingress: local destinations). The whole proxy view, so that a Dataplane `sectionName` naming one
 * of its listeners selects it.
 */
export function zoneProxyCircuitBreakers(policies: readonly Resource[], dp: Resource): (destination: DestinationView) => ClusterPatch | undefined {
  return resolver(selectionViewOf(dp), policies);
}

/** The local cluster of one inbound: the catch-all `rules[]` / `from[]` conf selecting it. */
export function inboundCircuitBreaker(policies: readonly Resource[], dp: Resource, inbound: InboundView): ClusterPatch | undefined {
  const rules = matchPolicies<MeshCircuitBreakerConf>(inboundViewOf(dp, inbound), policies, 'MeshCircuitBreaker').inbounds[0];
  return rules?.conf ? circuitBreakerPatch(rules.conf) : undefined;
}
