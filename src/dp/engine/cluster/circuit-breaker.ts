// Cluster circuit_breakers: Envoy's per-cluster limits on connections, queued (pending) requests,
// requests in flight and concurrent retries. Overflowing requests get a 503 with
// `x-envoy-overloaded: true`; overflowing tcp_proxy connections are closed.
import { reject } from '../config-error.js';
import { checkFields, list, num, obj } from '../proto-values.js';

export interface CircuitBreakerLimits {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  /** The engine never retries, so this limit can never be reached; kept for /config_dump fidelity. */
  maxRetries: number;
  /** Hosts whose pool may be busy at once (max_connection_pools); Infinity: no limit. */
  maxConnectionPools: number;
  /** track_remaining: publish `circuit_breakers.default.remaining_*` gauges. */
  trackRemaining: boolean;
}

/** Envoy's defaults when circuit_breakers (or a threshold) is absent. */
export const DEFAULT_LIMITS: CircuitBreakerLimits = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3, maxConnectionPools: Infinity, trackRemaining: false };

export function compileCircuitBreakers(value: unknown, path: string): CircuitBreakerLimits {
  const limits = { ...DEFAULT_LIMITS };
  const cb = obj(value, path);
  checkFields(cb, path, ['thresholds']);
  list(cb.thresholds, `${path}.thresholds`).forEach((t, i) => {
    const tpath = `${path}.thresholds[${i}]`;
    checkFields(t, tpath, ['priority', 'max_connections', 'max_requests', 'max_pending_requests', 'max_retries', 'max_connection_pools', 'track_remaining']);
    const priority = String(t.priority ?? 'DEFAULT');
    // Routes never ask for HIGH priority here, so HIGH thresholds are valid but never apply (as in
    // Envoy for a config without priority routes).
    if (priority === 'HIGH') return;
    if (priority !== 'DEFAULT') reject(`${tpath}.priority`, `${priority} is not supported`);
    limits.maxConnections = num(t.max_connections, limits.maxConnections);
    limits.maxPendingRequests = num(t.max_pending_requests, limits.maxPendingRequests);
    limits.maxRequests = num(t.max_requests, limits.maxRequests);
    limits.maxRetries = num(t.max_retries, limits.maxRetries);
    limits.maxConnectionPools = num(t.max_connection_pools, limits.maxConnectionPools);
    limits.trackRemaining = t.track_remaining === true;
  });
  return limits;
}

/**
 * Envoy's remaining-capacity gauges of the DEFAULT threshold (track_remaining), read live from the
 * cluster's counts: `cluster.<name>.circuit_breakers.default.remaining_{cx,pending,rq,retries}`.
 */
export function trackRemaining(
  gauge: (stat: string) => { value: number },
  limits: CircuitBreakerLimits,
  now: { connections(): number; pending(): number; requests(): number; pools(): number },
): void {
  const live: [string, () => number][] = [
    ['remaining_cx', () => limits.maxConnections - now.connections()],
    ['remaining_pending', () => limits.maxPendingRequests - now.pending()],
    ['remaining_rq', () => limits.maxRequests - now.requests()],
    ...(Number.isFinite(limits.maxConnectionPools) ? [['remaining_cx_pools', () => limits.maxConnectionPools - now.pools()] as [string, () => number]] : []),
    // The engine never retries: all retries remain.
    ['remaining_retries', () => limits.maxRetries],
  ];
  // Gauges outlive a config: the latest cluster that tracks owns the value.
  for (const [stat, read] of live) {
    Object.defineProperty(gauge(`circuit_breakers.default.${stat}`), 'value', { get: () => Math.max(0, read()), set: () => undefined, configurable: true, enumerable: true });
  }
}
