// Cluster outlier_detection: passive health checking as Envoy does it. The router and tcp_proxy
// report each result; hosts that fail too often are ejected (left out of load balancing) for
// base_ejection_time × times ejected, within max_ejection_percent of the cluster. Consecutive
// failures eject at once; success rate and failure percentage are judged every `interval`, which
// also brings ejected hosts back once their time is up.
import { reject } from '../config-error.js';
import { bool, checkFields, durationMs, num, obj, type Obj } from '../proto-values.js';
import type { Counter, Stats } from '../stats.js';
import type { HostHealth } from './host-health.js';
import type { UpstreamHost } from './load-balancer.js';

export interface OutlierSettings {
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionJitterMs: number;
  maxEjectionPercent: number;
  alwaysEjectOneHost: boolean;
  splitLocalOrigin: boolean;
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  consecutiveLocalOriginFailure: number;
  enforcing: Record<EjectionType, number>;
  successRateMinimumHosts: number;
  successRateRequestVolume: number;
  successRateStdevFactor: number;
  failurePercentageThreshold: number;
  failurePercentageMinimumHosts: number;
  failurePercentageRequestVolume: number;
  unejectOnActiveHcSuccess: boolean;
}

export type EjectionType =
  | 'consecutive_5xx'
  | 'consecutive_gateway_failure'
  | 'consecutive_local_origin_failure'
  | 'success_rate'
  | 'local_origin_success_rate'
  | 'failure_percentage'
  | 'failure_percentage_local_origin';

const EJECTION_TYPES: EjectionType[] = [
  'consecutive_5xx', 'consecutive_gateway_failure', 'consecutive_local_origin_failure', 'success_rate',
  'local_origin_success_rate', 'failure_percentage', 'failure_percentage_local_origin',
];

const FIELDS = [
  'consecutive_5xx', 'interval', 'base_ejection_time', 'max_ejection_percent', 'enforcing_consecutive_5xx',
  'enforcing_success_rate', 'success_rate_minimum_hosts', 'success_rate_request_volume', 'success_rate_stdev_factor',
  'consecutive_gateway_failure', 'enforcing_consecutive_gateway_failure', 'split_external_local_origin_errors',
  'consecutive_local_origin_failure', 'enforcing_consecutive_local_origin_failure', 'enforcing_local_origin_success_rate',
  'failure_percentage_threshold', 'enforcing_failure_percentage', 'enforcing_failure_percentage_local_origin',
  'failure_percentage_minimum_hosts', 'failure_percentage_request_volume', 'max_ejection_time', 'max_ejection_time_jitter',
  'successful_active_health_check_uneject_host', 'always_eject_one_host',
];

/** Undefined when the cluster has no outlier_detection. Defaults are Envoy's. */
export function compileOutlierDetection(value: unknown, path: string): OutlierSettings | undefined {
  if (value === undefined || value === null) return undefined;
  const od: Obj = obj(value, path);
  checkFields(od, path, FIELDS);
  const percent = (field: string, fallback: number): number => {
    const v = num(od[field], fallback);
    if (v > 100) reject(`${path}.${field}`, 'must be at most 100');
    return v;
  };
  const baseEjectionMs = durationMs(od.base_ejection_time, 30_000);
  return {
    intervalMs: positive(durationMs(od.interval, 10_000), `${path}.interval`),
    baseEjectionMs: positive(baseEjectionMs, `${path}.base_ejection_time`),
    maxEjectionMs: Math.max(durationMs(od.max_ejection_time, 300_000), baseEjectionMs),
    maxEjectionJitterMs: durationMs(od.max_ejection_time_jitter, 0),
    maxEjectionPercent: percent('max_ejection_percent', 10),
    alwaysEjectOneHost: bool(od.always_eject_one_host, false),
    splitLocalOrigin: bool(od.split_external_local_origin_errors, false),
    consecutive5xx: num(od.consecutive_5xx, 5),
    consecutiveGatewayFailure: num(od.consecutive_gateway_failure, 5),
    consecutiveLocalOriginFailure: num(od.consecutive_local_origin_failure, 5),
    enforcing: {
      consecutive_5xx: percent('enforcing_consecutive_5xx', 100),
      consecutive_gateway_failure: percent('enforcing_consecutive_gateway_failure', 0),
      consecutive_local_origin_failure: percent('enforcing_consecutive_local_origin_failure', 100),
      success_rate: percent('enforcing_success_rate', 100),
      local_origin_success_rate: percent('enforcing_local_origin_success_rate', 100),
      failure_percentage: percent('enforcing_failure_percentage', 0),
      failure_percentage_local_origin: percent('enforcing_failure_percentage_local_origin', 0),
    },
    successRateMinimumHosts: num(od.success_rate_minimum_hosts, 5),
    successRateRequestVolume: num(od.success_rate_request_volume, 100),
    successRateStdevFactor: num(od.success_rate_stdev_factor, 1900),
    failurePercentageThreshold: percent('failure_percentage_threshold', 85),
    failurePercentageMinimumHosts: num(od.failure_percentage_minimum_hosts, 5),
    failurePercentageRequestVolume: num(od.failure_percentage_request_volume, 50),
    unejectOnActiveHcSuccess: bool(od.successful_active_health_check_uneject_host, true),
  };
}

function positive(ms: number, path: string): number {
  if (ms <= 0) reject(path, 'must be greater than 0');
  return ms;
}

interface OutlierStats {
  active: Counter;
  enforcedTotal: Counter;
  overflow: Counter;
  detected: Record<EjectionType, Counter>;
  enforced: Record<EjectionType, Counter>;
}

export class OutlierDetector {
  private timer: NodeJS.Timeout | undefined;
  private readonly stats: OutlierStats;

  constructor(
    readonly settings: OutlierSettings,
    /** The cluster's hosts (ORIGINAL_DST clusters add and remove hosts in place). */
    private readonly hosts: UpstreamHost[],
    stats: Stats,
    statName: string,
    /** Called when a host is ejected or brought back, to rebuild the load balancer. */
    private readonly onChange: () => void,
  ) {
    const stat = (s: string): Counter => stats.cluster(statName, `outlier_detection.${s}`);
    const byType = (kind: string): Record<EjectionType, Counter> =>
      Object.fromEntries(EJECTION_TYPES.map((t) => [t, stat(`ejections_${kind}_${t}`)])) as Record<EjectionType, Counter>;
    this.stats = {
      active: stats.clusterGauge(statName, 'outlier_detection.ejections_active'),
      enforcedTotal: stat('ejections_enforced_total'),
      overflow: stat('ejections_overflow'),
      detected: byType('detected'),
      enforced: byType('enforced'),
    };
  }

  start(): void {
    this.timer = setInterval(() => this.onInterval(), this.settings.intervalMs);
    this.timer.unref();
    this.syncActive();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** An HTTP response from the host (external origin). */
  onHttpStatus(host: UpstreamHost, status: number): void {
    const h = host.health;
    if (status >= 500) {
      h.intervalFailure++;
      const s = this.settings;
      if (status >= 502 && status <= 504 && ++h.consecutiveGatewayFailure === s.consecutiveGatewayFailure) {
        this.eject(host, 'consecutive_gateway_failure');
        h.consecutiveGatewayFailure = 0;
      }
      if (++h.consecutive5xx === s.consecutive5xx) {
        this.eject(host, 'consecutive_5xx');
        h.consecutive5xx = 0;
      }
    } else {
      h.intervalSuccess++;
      h.consecutive5xx = 0;
      h.consecutiveGatewayFailure = 0;
    }
  }

  /**
   * A failure of the proxy's own making: the connection could not be made (or timed out). Counted
   * on its own when split_external_local_origin_errors is set, else as a 503 (504 for a timeout).
   */
  onLocalOriginFailure(host: UpstreamHost, timeout = false): void {
    if (!this.settings.splitLocalOrigin) {
      this.onHttpStatus(host, timeout ? 504 : 503);
      return;
    }
    const h = host.health;
    h.intervalLocalFailure++;
    if (++h.consecutiveLocalOriginFailure === this.settings.consecutiveLocalOriginFailure) {
      this.eject(host, 'consecutive_local_origin_failure');
      h.consecutiveLocalOriginFailure = 0;
    }
  }

  /**
   * The connection to the host worked. `final` for TCP, where that is all there is to know (it then
   * counts as a success when local origin errors are not split).
   */
  onLocalOriginSuccess(host: UpstreamHost, final: boolean): void {
    const h = host.health;
    if (this.settings.splitLocalOrigin) {
      h.intervalLocalSuccess++;
      h.consecutiveLocalOriginFailure = 0;
    } else if (final) {
      this.onHttpStatus(host, 200);
    }
  }

  /** Active health checking passed on an ejected host (successful_active_health_check_uneject_host). */
  onActiveHcSuccess(host: UpstreamHost): void {
    if (this.settings.unejectOnActiveHcSuccess && host.health.ejected) {
      this.uneject(host.health);
      this.onChange();
    }
  }

  private eject(host: UpstreamHost, type: EjectionType): void {
    const h = host.health;
    if (h.ejected) return;
    this.stats.detected[type].value++;
    if (Math.random() * 100 >= this.settings.enforcing[type]) return;
    const ejected = this.hosts.filter((x) => x.health.ejected).length;
    const allowed = (100 * ejected) / this.hosts.length < this.settings.maxEjectionPercent || (this.settings.alwaysEjectOneHost && ejected === 0);
    if (!allowed) {
      this.stats.overflow.value++;
      return;
    }
    h.ejected = true;
    h.ejectedAt = Date.now();
    h.numEjections++;
    this.stats.enforced[type].value++;
    this.stats.enforcedTotal.value++;
    this.syncActive();
    this.onChange();
  }

  private uneject(h: HostHealth): void {
    h.ejected = false;
    h.consecutive5xx = 0;
    h.consecutiveGatewayFailure = 0;
    h.consecutiveLocalOriginFailure = 0;
    this.syncActive();
  }

  private syncActive(): void {
    this.stats.active.value = this.hosts.filter((x) => x.health.ejected).length;
  }

  private onInterval(): void {
    const now = Date.now();
    const s = this.settings;
    let changed = false;
    for (const host of this.hosts) {
      const h = host.health;
      if (h.ejected) {
        const jitter = s.maxEjectionJitterMs > 0 ? Math.random() * s.maxEjectionJitterMs : 0;
        if (now >= h.ejectedAt + Math.min(s.baseEjectionMs * h.numEjections, s.maxEjectionMs) + jitter) {
          this.uneject(h);
          changed = true;
        }
      } else if (h.numEjections > 0 && now - h.ejectedAt >= s.baseEjectionMs) {
        // A host that stays in for a while is forgiven one ejection's worth of back-off per interval.
        h.numEjections--;
      }
    }
    this.judgeRates('success_rate', 'failure_percentage', (h) => [h.intervalSuccess, h.intervalFailure]);
    if (s.splitLocalOrigin) this.judgeRates('local_origin_success_rate', 'failure_percentage_local_origin', (h) => [h.intervalLocalSuccess, h.intervalLocalFailure]);
    for (const host of this.hosts) {
      const h = host.health;
      h.intervalSuccess = h.intervalFailure = h.intervalLocalSuccess = h.intervalLocalFailure = 0;
    }
    if (changed) this.onChange();
  }

  /** Success rate (mean − stdev × factor) and failure percentage ejections over the last interval. */
  private judgeRates(successType: EjectionType, failureType: EjectionType, counts: (h: HostHealth) => [number, number]): void {
    const s = this.settings;
    const rates = (volume: number): { host: UpstreamHost; rate: number }[] =>
      this.hosts.flatMap((host) => {
        const [ok, failed] = counts(host.health);
        const total = ok + failed;
        return !host.health.ejected && total >= volume && total > 0 ? [{ host, rate: (100 * ok) / total }] : [];
      });
    const bySuccess = rates(s.successRateRequestVolume);
    if (bySuccess.length >= s.successRateMinimumHosts && s.enforcing[successType] > 0) {
      const mean = bySuccess.reduce((sum, r) => sum + r.rate, 0) / bySuccess.length;
      const stdev = Math.sqrt(bySuccess.reduce((sum, r) => sum + (r.rate - mean) ** 2, 0) / bySuccess.length);
      const threshold = mean - (s.successRateStdevFactor / 1000) * stdev;
      for (const r of bySuccess) if (r.rate < threshold) this.eject(r.host, successType);
    }
    const byFailure = rates(s.failurePercentageRequestVolume);
    if (byFailure.length >= s.failurePercentageMinimumHosts && s.enforcing[failureType] > 0) {
      for (const r of byFailure) if (100 - r.rate >= s.failurePercentageThreshold) this.eject(r.host, failureType);
    }
  }
}
