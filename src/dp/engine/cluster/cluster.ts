// A Cluster resource compiled into what the data path needs: serving endpoints, a load balancer,
// upstream protocol, TLS, limits and stats.
import { reject } from '../config-error.js';
import { checkFields, durationMs, list, num, obj, str, unpackTyped, type Obj } from '../proto-values.js';
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
  cxConnectFail: Counter;
  cxConnectTimeout: Counter;
  noneHealthy: Counter;
  rqTimeout: Counter;
  pendingOverflow: Counter;
  /** Indexed by status class 1..5. */
  rqClass: Counter[];
}

export class ClusterRuntime {
  /** Requests in flight across endpoints, checked against max_requests. */
  active = 0;

  constructor(
    readonly name: string,
    readonly http2: boolean,
    /** Every endpoint, serving or not (for /clusters). */
    readonly hosts: UpstreamHost[],
    private readonly lb: LoadBalancer,
    readonly maxRequests: number,
    readonly stats: ClusterStats,
    /** ORIGINAL_DST: the host for a connection's original destination (pick() finds none). */
    readonly hostFor?: (destination: { address: string; port: number } | undefined) => UpstreamHost | undefined,
  ) {}

  pick(): UpstreamHost | undefined {
    return this.lb.pick();
  }
}

export function compileCluster(cluster: Obj, ctx: CompileContext, pools: PoolCache): ClusterRuntime {
  const name = str(cluster.name);
  const path = `Cluster "${name}"`;
  checkFields(cluster, path, [
    'name', 'type', 'eds_cluster_config', 'load_assignment', 'connect_timeout', 'lb_policy',
    'http2_protocol_options', 'typed_extension_protocol_options', 'transport_socket', 'circuit_breakers',
    'alt_stat_name', 'cleanup_interval',
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
  const limits = circuitBreakers(cluster.circuit_breakers, `${path}.circuit_breakers`);
  const statName = str(cluster.alt_stat_name) || name;
  const connectTimeoutMs = durationMs(cluster.connect_timeout, DEFAULT_CONNECT_TIMEOUT_MS);
  const poolSettings = fingerprint([cluster.transport_socket, protocol, limits, connectTimeoutMs, statName, transport?.fingerprint ?? '']);
  const stats: ClusterStats = {
    rqTotal: ctx.stats.cluster(statName, 'upstream_rq_total'),
    cxTotal: ctx.stats.cluster(statName, 'upstream_cx_total'),
    cxConnectFail: ctx.stats.cluster(statName, 'upstream_cx_connect_fail'),
    cxConnectTimeout: ctx.stats.cluster(statName, 'upstream_cx_connect_timeout'),
    noneHealthy: ctx.stats.cluster(statName, 'upstream_cx_none_healthy'),
    rqTimeout: ctx.stats.cluster(statName, 'upstream_rq_timeout'),
    pendingOverflow: ctx.stats.cluster(statName, 'upstream_rq_pending_overflow'),
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
      const { address, port } = endpointAddress(lbEndpoint.endpoint, `${epath}.endpoint`);
      const pool = pools.take(`${name}|${address}:${port}|${poolSettings}`, () =>
        new EndpointPool({
          host: address,
          port,
          tls: transport?.tlsOptions(),
          idleTimeoutMs: protocol.idleTimeoutMs,
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
      maxConnections: limits.maxConnections,
      connectTimeoutMs,
      stats,
    })
    : undefined;

  // Like Envoy, serve from the lowest priority that has healthy endpoints.
  const serving = [...byPriority.keys()].sort((a, b) => a - b).map((p) => (byPriority.get(p) ?? []).filter((h) => h.healthy)).find((g) => g.length > 0) ?? [];
  return new ClusterRuntime(
    name,
    protocol.http2,
    hosts,
    createLoadBalancer(lbPolicy, serving),
    limits.maxRequests,
    stats,
    originalDst && ((destination) => originalDst.hostFor(destination)),
  );
}

function endpointAddress(endpoint: unknown, path: string): { address: string; port: number } {
  const ep = obj(endpoint, path);
  checkFields(ep, path, ['address', 'hostname']);
  const address = obj(ep.address, `${path}.address`);
  checkFields(address, `${path}.address`, ['socket_address']);
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
}

/** HTTP/2 via the legacy http2_protocol_options or HttpProtocolOptions.explicit_http_config. */
function upstreamProtocol(cluster: Obj, path: string): UpstreamProtocol {
  const result: UpstreamProtocol = { http2: false, idleTimeoutMs: 3_600_000 };
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
    checkFields(common, `${epath}.common_http_protocol_options`, ['idle_timeout']);
    result.idleTimeoutMs = durationMs(common.idle_timeout, result.idleTimeoutMs);
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

interface Limits {
  maxConnections: number;
  maxRequests: number;
}

/** Envoy's DEFAULT-priority thresholds: max_connections caps pooled sockets, max_requests in-flight requests. */
function circuitBreakers(value: unknown, path: string): Limits {
  const limits: Limits = { maxConnections: 1024, maxRequests: 1024 };
  const cb = obj(value, path);
  checkFields(cb, path, ['thresholds']);
  list(cb.thresholds, `${path}.thresholds`).forEach((t, i) => {
    const tpath = `${path}.thresholds[${i}]`;
    // max_pending_requests / max_retries: requests wait in the socket queue, and Skein never retries.
    checkFields(t, tpath, ['priority', 'max_connections', 'max_requests', 'max_pending_requests', 'max_retries']);
    if (t.priority && t.priority !== 'DEFAULT') reject(`${tpath}.priority`, `${String(t.priority)} is not supported`);
    limits.maxConnections = num(t.max_connections, limits.maxConnections);
    limits.maxRequests = num(t.max_requests, limits.maxRequests);
  });
  return limits;
}
