// envoy.filters.network.tcp_proxy: pipes the connection to an endpoint of a (weighted) cluster.
import net from 'node:net';
import tls from 'node:tls';
import { reject } from '../config-error.js';
import { checkFields, durationMs, list, num, obj, str } from '../proto-values.js';
import { networkFilters, type DownstreamConnection, type LiveConfig, type NetworkFilter, type RequestLog } from '../registry.js';
import type { Counter } from '../stats.js';
import { compileAccessLogs, emitAccessLogs, formatAddress, newRequestLog, type AccessLog } from '../access-log/access-log.js';

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

interface Weighted {
  name: string;
  weight: number;
}

networkFilters.register(TCP_PROXY, (config, path, ctx) => {
  checkFields(config, path, ['stat_prefix', 'cluster', 'weighted_clusters', 'cluster_specifier', 'idle_timeout', 'access_log']);
  const statPrefix = str(config.stat_prefix);
  if (!statPrefix) reject(`${path}.stat_prefix`, 'is required');
  let clusters: Weighted[];
  if (config.weighted_clusters) {
    const wpath = `${path}.weighted_clusters`;
    const wc = obj(config.weighted_clusters, wpath);
    checkFields(wc, wpath, ['clusters']);
    clusters = list(wc.clusters, `${wpath}.clusters`).map((c, i) => {
      checkFields(c, `${wpath}.clusters[${i}]`, ['name', 'weight']);
      return { name: str(c.name), weight: num(c.weight, 0) };
    });
    if (clusters.reduce((s, c) => s + c.weight, 0) <= 0) reject(wpath, 'the sum of weights must be greater than 0');
  } else if (str(config.cluster)) {
    clusters = [{ name: str(config.cluster), weight: 1 }];
  } else {
    return reject(path, 'one of cluster, weighted_clusters is required');
  }
  const accessLogs = compileAccessLogs(config.access_log, `${path}.access_log`, ctx);
  return new TcpProxy(clusters, durationMs(config.idle_timeout, DEFAULT_IDLE_TIMEOUT_MS), ctx.live, accessLogs, {
    cxTotal: ctx.stats.tcp(statPrefix, 'downstream_cx_total'),
    noRoute: ctx.stats.tcp(statPrefix, 'downstream_cx_no_route'),
    idleTimeout: ctx.stats.tcp(statPrefix, 'idle_timeout'),
  });
});

class TcpProxy implements NetworkFilter {
  readonly terminal = true;
  private readonly totalWeight: number;

  constructor(
    private readonly clusters: Weighted[],
    private readonly idleTimeoutMs: number,
    private readonly live: LiveConfig,
    private readonly accessLogs: AccessLog[],
    private readonly stats: { cxTotal: Counter; noRoute: Counter; idleTimeout: Counter },
  ) {
    this.totalWeight = clusters.reduce((s, c) => s + c.weight, 0);
  }

  onConnection(conn: DownstreamConnection): boolean {
    this.stats.cxTotal.value++;
    const downstream = conn.socket;
    const clusterName = this.pickCluster();
    const cluster = this.live.clusters.get(clusterName);
    const log = this.accessLogs.length > 0 ? this.record(conn, clusterName) : undefined;
    const refuse = (flag: string): boolean => {
      if (log) {
        log.flags.push(flag);
        emitAccessLogs(this.accessLogs, log);
      }
      downstream.destroy();
      return true;
    };
    // ORIGINAL_DST clusters connect to where the connection was going (see listener/original-dst.ts).
    const host = cluster?.hostFor ? cluster.hostFor(conn.info.originalDestination) : cluster?.pick();
    if (!cluster || !host) {
      if (cluster) cluster.stats.noneHealthy.value++;
      else this.stats.noRoute.value++;
      return refuse(cluster ? 'UH' : 'NC');
    }
    if (cluster.stats.cxActive.value >= cluster.limits.maxConnections) {
      // The max_connections circuit breaker: the connection is refused.
      cluster.stats.cxOverflow.value++;
      return refuse('UO');
    }
    if (!cluster.poolAvailable(host)) return refuse('UO');
    cluster.stats.rqTotal.value++;
    host.active++;
    const upstream: net.Socket = host.pool.connect();
    if (log) log.upstreamHost = host.label;
    const outlier = cluster.outlier;
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      outlier?.onLocalOriginSuccess(host, true);
    });
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      host.active--;
      downstream.destroy();
      upstream.destroy();
      if (log) {
        const socket = downstream as Partial<net.Socket>;
        log.bytesReceived = socket.bytesRead ?? 0;
        log.bytesSent = socket.bytesWritten ?? 0;
        emitAccessLogs(this.accessLogs, log);
      }
    };
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.on('error', close);
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) {
        outlier?.onLocalOriginFailure(host, err.code === 'ETIMEDOUT');
        if (log) log.flags.push('UF');
      }
      // An upstream reset (e.g. a peer's RBAC filter refusing the connection) is passed on as a
      // reset rather than a clean close, as recent Envoys do.
      if (err.code === 'ECONNRESET' && !closed) resetConnection(downstream);
      close();
    });
    downstream.on('close', close);
    upstream.on('close', close);
    if (this.idleTimeoutMs > 0) {
      const onIdle = (): void => {
        this.stats.idleTimeout.value++;
        close();
      };
      downstream.setTimeout(this.idleTimeoutMs, onIdle);
      upstream.setTimeout(this.idleTimeoutMs, onIdle);
    }
    return true;
  }

  private record(conn: DownstreamConnection, clusterName: string): RequestLog {
    const log = newRequestLog();
    const socket = conn.socket as Partial<net.Socket>;
    log.upstreamCluster = clusterName;
    log.downstreamRemoteAddress = formatAddress(socket.remoteAddress, socket.remotePort);
    log.downstreamLocalAddress = formatAddress(socket.localAddress, socket.localPort);
    log.serverName = conn.info.serverName;
    return log;
  }

  private pickCluster(): string {
    if (this.clusters.length === 1) return this.clusters[0].name;
    let r = Math.random() * this.totalWeight;
    for (const c of this.clusters) {
      r -= c.weight;
      if (r < 0) return c.name;
    }
    return this.clusters[this.clusters.length - 1].name;
  }

  drain(): void {
    // Established TCP sessions run to completion; the listener already stopped handing new ones here.
  }
}

/** Closes with a TCP RST where the engine owns the TCP socket (not under TLS, whose layer owns it). */
function resetConnection(socket: DownstreamConnection['socket']): void {
  if (socket instanceof net.Socket && !(socket instanceof tls.TLSSocket) && !socket.destroyed) {
    try {
      socket.resetAndDestroy();
      return;
    } catch {
      // Not a TCP handle: fall back to a plain close.
    }
  }
  socket.destroy();
}
