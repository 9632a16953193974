// The health of one upstream endpoint as active health checking and outlier detection see it. It
// lives with the endpoint's connection pool, which outlives config updates, so an EDS update (which
// recompiles every cluster) neither forgets an ejection nor restarts health checking from scratch.

export class HostHealth {
  // Active health checking (health-check.ts).
  /** Set while the host fails active health checks (Envoy's `/failed_active_hc`). */
  failedActiveHc = false;
  /** Not checked yet since health checking began (Envoy's `/pending_active_hc`). */
  pendingActiveHc = false;
  /** Whether active health checking has looked at this host under the current checker settings. */
  hcSettings = '';
  hcSuccesses = 0;
  hcFailures = 0;
  /** When the next check is due (ms since epoch), kept so config updates do not re-check at once. */
  nextCheckAt = 0;

  // Outlier detection (outlier-detection.ts).
  /** Set while ejected (Envoy's `/failed_outlier_check`). */
  ejected = false;
  ejectedAt = 0;
  /** Ejection time multiplier: times ejected, decremented in intervals without an ejection. */
  numEjections = 0;
  consecutive5xx = 0;
  consecutiveGatewayFailure = 0;
  consecutiveLocalOriginFailure = 0;
  /** Results in the current interval, for success rate and failure percentage. */
  intervalSuccess = 0;
  intervalFailure = 0;
  intervalLocalSuccess = 0;
  intervalLocalFailure = 0;
}
