// A Cluster resource compiled into what the data path needs: serving endpoints, a load balancer,
// upstream protocol, TLS, limits and stats.
import { reject } from '../config-error.js';
import { checkFields, durationMs, list, num, obj, str, unpackTyped, type Obj } from '../proto-values.js';
import { compileCircuitBreakers, trackRemaining, type CircuitBreakerLimits } from './circuit-breaker.js';
import { compileHealthChecks, HealthChecker } from './health-check.js';
import { compileOutlierDetection, OutlierDetector } from './outlier-detection.js';
import { fingerprint } from '../fingerprint.js';
import { clusterTypes, upstreamTransports, type CompileContext, type UpstreamTransport } from '../registry.js';
import { responseClassCounters, type Counter } from '../stats.js';
import { EndpointPool, type PoolCache } from './endpoint-pool.js';
import { createLoadBalancer, LB_POLICIES, UpstreamHost, type LbPolicy, type LoadBalancer } from './load-balancer.js';
import { DEFAULT_CLEANUP_INTERVAL_MS, OriginalDstHosts } from './original-dst.js';

const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export interface ClusterStats {
  rqTotal: Counter;
  cxTotal: Counter;
  cxActive: Counter;
  cxOverflow: Counter;
  lbHealthyPanic: Counter;
  cxMaxDurationReached: Counter;
  rqMaxDurationReached: Counter;
  cxConnectFail: Counter;
  cxConnectTimeout: Counter;
  noneHealthy: Counter;
  rqTimeout: Counter;
  pendingOverflow: Counter;
  cxPoolOverflow: Counter;
  /** Indexed by status class 1..5. */
  rqClass: Counter[];
}

export class ClusterRuntime {
  /** Requests in flight across endpoints, checked against max_requests. */
  active = 0;
  /** Requests waiting for a connection, checked against max_pending_requests. */
  pending = 0;
  /** common_http_protocol_options.max_stream_duration of upstream requests; 0 = none. */
  maxStreamDurationMs = 0;
  private lb: LoadBalancer = { pick: () => undefined };
  /** Set when the cluster has outlier_detection: the router and tcp_proxy report results to it. */
  outlier: OutlierDetector | undefined;
  healthChecker: HealthChecker | undefined;
  /** HTTP/1.1 requests waiting for one of max_connections to free up. */
  private readonly waiting: { dispatch(): void }[] = [];

  constructor(
    readonly name: string,
    readonly http2: boolean,
    /** Every endpoint, serving or not (for /clusters). */
    readonly hosts: UpstreamHost[],
    /** Endpoints by priority, lowest (preferred) first. */
    private readonly priorities: UpstreamHost[][],
    private readonly lbPolicy: LbPolicy,
    private readonly lbHealth: LbHealthSettings,
    readonly limits: CircuitBreakerLimits,
    readonly stats: ClusterStats,
    /** ORIGINAL_DST: the host for a connection's original destination (pick() finds none). */
    readonly hostFor?: (destination: { address: string; port: number } | undefined) => UpstreamHost | undefined,
  ) {
    this.refreshHealth();
  }

  pick(): UpstreamHost | undefined {
    return this.lb.pick();
  }

  enqueue(call: { dispatch(): void }): void {
    this.pending++;
    this.waiting.push(call);
  }

  /** A waiting request gave up (timeout, client gone). */
  dequeue(call: { dispatch(): void }): void {
    const i = this.waiting.indexOf(call);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    this.pending--;
  }

  /**
   * max_connection_pools: a host whose pool is idle may start using it only while fewer than that
   * many hosts of the cluster have requests or connections in flight (idle pools count as freed,
   * as Envoy frees them to make room). False is an overflow, counted.
   */
  poolAvailable(host: UpstreamHost): boolean {
    // Cheap checks first: this runs for every request.
    if (this.limits.maxConnectionPools === Infinity || host.active > 0 || this.poolsInUse() < this.limits.maxConnectionPools) return true;
    this.stats.cxPoolOverflow.value++;
    return false;
  }

  poolsInUse(): number {
    return this.hosts.filter((h) => h.active > 0).length;
  }

  /** A request finished: hand its connection to the next waiting one. */
  dispatchWaiting(): void {
    while (this.waiting.length > 0 && this.active < this.limits.maxConnections) {
      const next = this.waiting.shift();
      this.pending--;
      next?.dispatch();
    }
  }

  /**
   * Rebuilds the load balancer from the hosts' health, like Envoy: the lowest priority with healthy
   * hosts serves; when less than healthy_panic_threshold of its hosts are healthy (or none anywhere
   * are), the balancer panics and uses all of them.
   */
  refreshHealth(): void {
    const { panicThreshold, failTrafficOnPanic, ignoreNewHostsUntilFirstHc } = this.lbHealth;
    let serving: UpstreamHost[] = [];
    let panic = false;
    for (const all of this.priorities) {
      const group = ignoreNewHostsUntilFirstHc ? all.filter((h) => !h.health.pendingActiveHc) : all;
      const healthy = group.filter((h) => h.healthy);
      if (healthy.length === 0) continue;
      panic = (100 * healthy.length) / group.length < panicThreshold;
      serving = panic ? group : healthy;
      break;
    }
    if (serving.length === 0 && panicThreshold > 0 && this.priorities.length > 0) {
      serving = this.priorities[0];
      panic = true;
    }
    if (panic && failTrafficOnPanic) serving = [];
    const lb = createLoadBalancer(this.lbPolicy, serving);
    const counter = this.stats.lbHealthyPanic;
    this.lb = panic && serving.length > 0 ? { pick: () => (counter.value++, lb.pick()) } : lb;
  }

  /** The config is in force: start health checking and outlier detection. */
  start(): void {
    for (const host of this.hosts) {
      const h = host.health;
      if (!this.healthChecker) {
        h.failedActiveHc = h.pendingActiveHc = false;
        h.hcSettings = '';
      }
      if (!this.outlier) h.ejected = false;
    }
    this.healthChecker?.start();
    this.outlier?.start();
    this.refreshHealth();
  }

  /** Replaced by a new config (or the engine stops). */
  stop(): void {
    this.healthChecker?.stop();
    this.outlier?.stop();
  }
}

export function compileCluster(cluster: Obj, ctx: CompileContext, pools: PoolCache): ClusterRuntime {
  const name = str(cluster.name);
  const path = `Cluster "${name}"`;
  checkFields(cluster, path, [
    'name', 'type', 'eds_cluster_config', 'load_assignment', 'connect_timeout', 'lb_policy',
    'http2_protocol_options', 'typed_extension_protocol_options', 'transport_socket', 'circuit_breakers',
    'alt_stat_name', 'cleanup_interval', 'outlier_detection', 'health_checks', 'common_lb_config',
    // Informational for the engine (the DP agent reads MeshMetric's OpenTelemetry settings there).
    'metadata',
  ]);
  const discovery = str(cluster.type) || 'STATIC';
  const loadAssignment = clusterTypes.lookup(discovery, `${path}.type`)(cluster, path, ctx);

  const clusterProvided = str(cluster.lb_policy) === 'CLUSTER_PROVIDED';
  if (clusterProvided && discovery !== 'ORIGINAL_DST') reject(`${path}.lb_policy`, `CLUSTER_PROVIDED is not valid for ${discovery} clusters`);
  if (cluster.cleanup_interval && discovery !== 'ORIGINAL_DST') reject(`${path}.cleanup_interval`, 'only valid for ORIGINAL_DST clusters');
  const lbPolicy = (clusterProvided ? 'ROUND_ROBIN' : str(cluster.lb_policy) || 'ROUND_ROBIN') as LbPolicy;
  if (!LB_POLICIES.includes(lbPolicy)) reject(`${path}.lb_policy`, `${lbPolicy} is not supported (use ${LB_POLICIES.join(', ')})`);

  const protocol = upstreamProtocol(cluster, path);
  const transport = cluster.transport_socket
    ? upstreamTransport(cluster.transport_socket, `${path}.transport_socket`, ctx)
    : undefined;
  const limits = compileCircuitBreakers(cluster.circuit_breakers, `${path}.circuit_breakers`);
  const outlier = compileOutlierDetection(cluster.outlier_detection, `${path}.outlier_detection`);
  const healthCheck = compileHealthChecks(cluster.health_checks, `${path}.health_checks`, name);
  const lbHealth = lbHealthSettings(cluster.common_lb_config, `${path}.common_lb_config`);
  const statName = str(cluster.alt_stat_name) || name;
  const connectTimeoutMs = durationMs(cluster.connect_timeout, DEFAULT_CONNECT_TIMEOUT_MS);
  const poolSettings = fingerprint([cluster.transport_socket, protocol, limits, connectTimeoutMs, statName, transport?.fingerprint ?? '']);
  const stats: ClusterStats = {
    rqTotal: ctx.stats.cluster(statName, 'upstream_rq_total'),
    cxTotal: ctx.stats.cluster(statName, 'upstream_cx_total'),
    cxActive: ctx.stats.clusterGauge(statName, 'upstream_cx_active'),
    cxOverflow: ctx.stats.cluster(statName, 'upstream_cx_overflow'),
    lbHealthyPanic: ctx.stats.cluster(statName, 'lb_healthy_panic'),
    cxMaxDurationReached: ctx.stats.cluster(statName, 'upstream_cx_max_duration_reached'),
    rqMaxDurationReached: ctx.stats.cluster(statName, 'upstream_rq_max_duration_reached'),
    cxConnectFail: ctx.stats.cluster(statName, 'upstream_cx_connect_fail'),
    cxConnectTimeout: ctx.stats.cluster(statName, 'upstream_cx_connect_timeout'),
    noneHealthy: ctx.stats.cluster(statName, 'upstream_cx_none_healthy'),
    rqTimeout: ctx.stats.cluster(statName, 'upstream_rq_timeout'),
    pendingOverflow: ctx.stats.cluster(statName, 'upstream_rq_pending_overflow'),
    cxPoolOverflow: ctx.stats.cluster(statName, 'upstream_cx_pool_overflow'),
    rqClass: responseClassCounters((c) => ctx.stats.clusterResponseClass(statName, c)),
  };

  const hosts: UpstreamHost[] = [];
  const byPriority = new Map<number, UpstreamHost[]>();
  const cla = obj(loadAssignment, `${path}.load_assignment`);
  checkFields(cla, `${path}.load_assignment`, ['cluster_name', 'endpoints']);
  list(cla.endpoints, 'endpoints').forEach((locality, i) => {
    const lpath = `${path}.load_assignment.endpoints[${i}]`;
    // locality and its weight only describe the endpoints: locality-weighted LB is not enabled.
    checkFields(locality, lpath, ['locality', 'lb_endpoints', 'load_balancing_weight', 'priority']);
    const priority = num(locality.priority, 0);
    list(locality.lb_endpoints, `${lpath}.lb_endpoints`).forEach((lbEndpoint, j) => {
      const epath = `${lpath}.lb_endpoints[${j}]`;
      // metadata is informational unless subset LB / transport socket matches use it (not accepted).
      checkFields(lbEndpoint, epath, ['endpoint', 'health_status', 'load_balancing_weight', 'metadata']);
      const { address, port, socketPath } = endpointAddress(lbEndpoint.endpoint, `${epath}.endpoint`);
      const pool = pools.take(`${name}|${address}:${port}|${poolSettings}`, () =>
        new EndpointPool({
          host: address,
          port,
          socketPath,
          tls: transport?.tlsOptions(),
          idleTimeoutMs: protocol.idleTimeoutMs,
          maxConnectionDurationMs: protocol.maxConnectionDurationMs,
          maxConnections: limits.maxConnections,
          connectTimeoutMs,
          stats,
        }),
      );
      const host = new UpstreamHost(address, port, Math.max(1, num(lbEndpoint.load_balancing_weight, 1)), str(lbEndpoint.health_status) || 'UNKNOWN', pool);
      hosts.push(host);
      if (!byPriority.has(priority)) byPriority.set(priority, []);
      byPriority.get(priority)?.push(host);
    });
  });

  const originalDst = discovery === 'ORIGINAL_DST'
    ? new OriginalDstHosts(hosts, durationMs(cluster.cleanup_interval, DEFAULT_CLEANUP_INTERVAL_MS), {
      tls: transport?.tlsOptions(),
      idleTimeoutMs: protocol.idleTimeoutMs,
      maxConnectionDurationMs: protocol.maxConnectionDurationMs,
      maxConnections: limits.maxConnections,
      connectTimeoutMs,
      stats,
    })
    : undefined;

  const priorities = [...byPriority.keys()].sort((a, b) => a - b).map((p) => byPriority.get(p) ?? []);
  const runtime = new ClusterRuntime(
    name,
    protocol.http2,
    hosts,
    priorities,
    lbPolicy,
    lbHealth,
    limits,
    stats,
    originalDst && ((destination) => originalDst.hostFor(destination)),
  );
  runtime.maxStreamDurationMs = protocol.maxStreamDurationMs;
  if (limits.trackRemaining) {
    trackRemaining((stat) => ctx.stats.clusterGauge(statName, stat), limits, { connections: () => stats.cxActive.value, pending: () => runtime.pending, requests: () => runtime.active, pools: () => runtime.poolsInUse() });
  }
  const refresh = (): void => runtime.refreshHealth();
  if (outlier) runtime.outlier = new OutlierDetector(outlier, hosts, ctx.stats, statName, refresh);
  if (healthCheck) {
    if (originalDst) reject(`${path}.health_checks`, 'not valid for ORIGINAL_DST clusters');
    runtime.healthChecker = new HealthChecker(healthCheck, hosts, ctx.stats, statName, () => stats.rqTotal.value > 0, refresh, (host) => runtime.outlier?.onActiveHcSuccess(host));
  }
  return runtime;
}

export interface LbHealthSettings {
  /** common_lb_config.healthy_panic_threshold, in percent (Envoy's default 50). */
  panicThreshold: number;
  /** zone_aware_lb_config.fail_traffic_on_panic: in panic, fail requests instead of using every host. */
  failTrafficOnPanic: boolean;
  /** ignore_new_hosts_until_first_hc: hosts not yet checked do not count towards the panic threshold. */
  ignoreNewHostsUntilFirstHc: boolean;
}

/** common_lb_config: the parts that decide which hosts serve (panic threshold and friends). */
function lbHealthSettings(value: unknown, path: string): LbHealthSettings {
  const config = obj(value, path);
  checkFields(config, path, ['healthy_panic_threshold', 'zone_aware_lb_config', 'ignore_new_hosts_until_first_hc']);
  const threshold = obj(config.healthy_panic_threshold, `${path}.healthy_panic_threshold`);
  checkFields(threshold, `${path}.healthy_panic_threshold`, ['value']);
  const percent = config.healthy_panic_threshold === undefined ? 50 : num(threshold.value, 0);
  if (percent < 0 || percent > 100) reject(`${path}.healthy_panic_threshold`, 'must be within [0, 100]');
  const zoneAware = obj(config.zone_aware_lb_config, `${path}.zone_aware_lb_config`);
  // Zone-aware routing itself is not implemented: only its panic switch is accepted.
  checkFields(zoneAware, `${path}.zone_aware_lb_config`, ['fail_traffic_on_panic']);
  return {
    panicThreshold: percent,
    failTrafficOnPanic: zoneAware.fail_traffic_on_panic === true,
    ignoreNewHostsUntilFirstHc: config.ignore_new_hosts_until_first_hc === true,
  };
}

function endpointAddress(endpoint: unknown, path: string): { address: string; port: number; socketPath?: string } {
  const ep = obj(endpoint, path);
  checkFields(ep, path, ['address', 'hostname']);
  const address = obj(ep.address, `${path}.address`);
  checkFields(address, `${path}.address`, ['socket_address', 'pipe']);
  if (address.pipe) {
    // A Unix domain socket, e.g. the data plane's own admin API (served for MeshMetric listeners).
    const pipe = obj(address.pipe, `${path}.address.pipe`);
    checkFields(pipe, `${path}.address.pipe`, ['path', 'mode']);
    const socketPath = str(pipe.path);
    if (!socketPath) reject(`${path}.address.pipe.path`, 'is required');
    return { address: socketPath, port: 0, socketPath };
  }
  const sa = obj(address.socket_address, `${path}.address.socket_address`);
  checkFields(sa, `${path}.address.socket_address`, ['address', 'port_value', 'protocol']);
  if (sa.protocol && sa.protocol !== 'TCP') reject(`${path}.address.socket_address.protocol`, `${String(sa.protocol)} is not supported`);
  const port = num(sa.port_value, 0);
  if (!str(sa.address) || port <= 0) reject(`${path}.address.socket_address`, 'address and port_value are required');
  return { address: str(sa.address), port };
}

interface UpstreamProtocol {
  http2: boolean;
  idleTimeoutMs: number;
  maxConnectionDurationMs: number;
  maxStreamDurationMs: number;
}

/** HTTP/2 via the legacy http2_protocol_options or HttpProtocolOptions.explicit_http_config. */
function upstreamProtocol(cluster: Obj, path: string): UpstreamProtocol {
  const result: UpstreamProtocol = { http2: false, idleTimeoutMs: 3_600_000, maxConnectionDurationMs: 0, maxStreamDurationMs: 0 };
  if (cluster.http2_protocol_options) {
    checkHttp2Options(cluster.http2_protocol_options, `${path}.http2_protocol_options`);
    result.http2 = true;
  }
  const extensions = obj(cluster.typed_extension_protocol_options, `${path}.typed_extension_protocol_options`);
  for (const [key, any] of Object.entries(extensions)) {
    const epath = `${path}.typed_extension_protocol_options["${key}"]`;
    const { typeUrl, config } = unpackTyped(any, epath);
    if (typeUrl !== `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`) reject(epath, `protocol options type ${typeUrl} is not supported`);
    checkFields(config, epath, ['explicit_http_config', 'common_http_protocol_options']);
    const common = obj(config.common_http_protocol_options, `${epath}.common_http_protocol_options`);
    checkFields(common, `${epath}.common_http_protocol_options`, ['idle_timeout', 'max_connection_duration', 'max_stream_duration']);
    result.idleTimeoutMs = durationMs(common.idle_timeout, result.idleTimeoutMs);
    result.maxConnectionDurationMs = durationMs(common.max_connection_duration, 0);
    result.maxStreamDurationMs = durationMs(common.max_stream_duration, 0);
    const explicit = obj(config.explicit_http_config, `${epath}.explicit_http_config`);
    checkFields(explicit, `${epath}.explicit_http_config`, ['http_protocol_options', 'http2_protocol_options']);
    if (explicit.http2_protocol_options) {
      checkHttp2Options(explicit.http2_protocol_options, `${epath}.explicit_http_config.http2_protocol_options`);
      result.http2 = true;
    }
    if (explicit.http_protocol_options) {
      checkFields(obj(explicit.http_protocol_options, epath), `${epath}.explicit_http_config.http_protocol_options`, []);
    }
  }
  return result;
}

function checkHttp2Options(options: unknown, path: string): void {
  // Window and stream limits are left to Node's HTTP/2 defaults; anything else is rejected.
  checkFields(obj(options, path), path, []);
}

function upstreamTransport(socket: unknown, path: string, ctx: CompileContext): UpstreamTransport {
  const ts = obj(socket, path);
  checkFields(ts, path, ['name', 'typed_config']);
  return upstreamTransports.create(ts.typed_config, `${path}.typed_config`, ctx).instance;
}
