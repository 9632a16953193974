// Connections to one upstream endpoint: a keep-alive http.Agent for HTTP/1.1, one multiplexed
// session for HTTP/2, and plain connects for tcp_proxy. Pools are kept across config updates while
// the endpoint, protocol and TLS material stay the same, so updates do not drop warm connections.
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Counter } from '../stats.js';
import { HostHealth } from './host-health.js';

export interface PoolOptions {
  host: string;
  port: number;
  /** A Unix domain socket endpoint (Envoy's `pipe` address); host and port are then unused. */
  socketPath?: string;
  tls: tls.ConnectionOptions | undefined;
  /** Close pooled connections idle for this long; 0 = never. */
  idleTimeoutMs: number;
  maxConnections: number;
  connectTimeoutMs: number;
  /** Close connections this old once their current request is done; 0 = never. */
  maxConnectionDurationMs?: number;
  stats: ConnectionStats;
}

export interface ConnectionStats {
  cxTotal: Counter;
  /** Gauge: open connections of the cluster (all endpoints), checked against max_connections. */
  cxActive: Counter;
  cxConnectFail: Counter;
  cxConnectTimeout: Counter;
  cxMaxDurationReached: Counter;
}

export class EndpointPool {
  readonly agent: http.Agent;
  private session: http2.ClientHttp2Session | undefined;
  private retired = false;
  readonly health = new HostHealth();
  /** HTTP/1.1 connections past max_connection_duration: closed as soon as they are free. */
  private readonly expired = new WeakSet<net.Socket>();

  constructor(readonly options: PoolOptions) {
    const agentOptions: https.AgentOptions = {
      keepAlive: true,
      scheduling: 'lifo',
      maxSockets: options.maxConnections,
      maxFreeSockets: 1024,
      timeout: options.idleTimeoutMs || undefined,
      ...options.tls,
    };
    this.agent = options.tls ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    if (options.maxConnectionDurationMs) this.agent.on('free', (socket: net.Socket) => this.expired.has(socket) && socket.destroy());
    // Every new upstream connection is counted and bounded by connect_timeout.
    const createConnection = this.agent.createConnection.bind(this.agent);
    this.agent.createConnection = (opts: object, callback?: (err: Error | null, stream: Duplex) => void): Duplex => {
      const socket = createConnection(opts, callback) as net.Socket;
      this.track(socket);
      return socket;
    };
  }

  private track(socket: net.Socket): void {
    const { stats, connectTimeoutMs } = this.options;
    stats.cxTotal.value++;
    stats.cxActive.value++;
    socket.once('close', () => stats.cxActive.value--);
    this.limitDuration(socket, () => {
      this.expired.add(socket);
      // Idle in the pool: close now; busy: the 'free' handler closes it after its request.
      const free = Object.values(this.agent.freeSockets).some((list) => list?.includes(socket));
      if (free) socket.destroy();
    });
    // No Nagle delay on upstream connections, as in Envoy. The agents' noDelay option does not
    // reach TLS sockets (tls.connect ignores it) and plain connects do not set it.
    socket.setNoDelay(true);
    let connected = false;
    socket.once('connect', () => (connected = true));
    socket.once('error', () => {
      if (!connected) stats.cxConnectFail.value++;
    });
    limitConnectTime(socket, connectTimeoutMs, () => {
      stats.cxConnectTimeout.value++;
      socket.destroy(Object.assign(new Error('upstream connect timeout'), { code: 'ETIMEDOUT' }));
    });
  }

  /** The shared HTTP/2 session, (re)connected when missing or closed. */
  http2Session(): http2.ClientHttp2Session {
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return current;
    const { host, port } = this.options;
    const authority = `${this.options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const tlsOptions = this.options.tls;
    // Over TLS, HTTP/2 is spoken with prior knowledge: ALPN offers h2 unless the cluster configured
    // its own list, and a server that picked none (Envoy, or the engine, without alpn_protocols)
    // still gets h2. (http2.connect itself would always offer exactly ['h2'].)
    const socketPath = this.options.socketPath;
    const session = tlsOptions
      ? http2.connect(authority, { createConnection: () => tls.connect({ ...(socketPath ? { path: socketPath } : { host, port }), ...tlsOptions, ALPNProtocols: tlsOptions.ALPNProtocols ?? ['h2'] }) })
      : socketPath
        ? http2.connect('http://localhost', { createConnection: () => net.connect({ path: socketPath }) })
        : http2.connect(authority);
    const forget = (): void => {
      if (this.session === session) this.session = undefined;
    };
    session.on('close', forget);
    session.on('goaway', forget);
    session.on('error', forget);
    if (this.options.idleTimeoutMs > 0) session.setTimeout(this.options.idleTimeoutMs, () => session.close());
    const { stats, connectTimeoutMs } = this.options;
    stats.cxTotal.value++;
    stats.cxActive.value++;
    session.once('close', () => stats.cxActive.value--);
    // Past max_connection_duration: no new streams (GOAWAY), open ones finish.
    this.limitDuration(session, () => {
      forget();
      session.close();
    });
    const timer = setTimeout(() => {
      stats.cxConnectTimeout.value++;
      session.destroy(Object.assign(new Error('upstream connect timeout'), { code: 'ETIMEDOUT' }));
    }, connectTimeoutMs);
    let connected = false;
    session.once('connect', () => {
      connected = true;
      clearTimeout(timer);
    });
    session.once('close', () => clearTimeout(timer));
    session.once('error', () => {
      if (!connected) stats.cxConnectFail.value++;
    });
    this.session = session;
    return session;
  }

  /** Envoy's max_connection_duration: `onExpiry` once the connection is that old. */
  private limitDuration(connection: { once(event: 'close', listener: () => void): unknown }, onExpiry: () => void): void {
    const ms = this.options.maxConnectionDurationMs;
    if (!ms) return;
    const timer = setTimeout(() => {
      this.options.stats.cxMaxDurationReached.value++;
      onExpiry();
    }, ms);
    timer.unref();
    connection.once('close', () => clearTimeout(timer));
  }

  /** A new raw (or TLS) connection, for tcp_proxy. */
  connect(): net.Socket {
    const { host, port, socketPath } = this.options;
    const target = socketPath ? { path: socketPath } : { host, port };
    const socket = this.options.tls ? tls.connect({ ...target, ...this.options.tls }) : net.connect(target);
    this.track(socket);
    return socket;
  }

  /** No new work goes here; idle connections close now, busy ones when they become idle. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.agent.on('free', (socket: net.Socket) => socket.destroy());
    for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
    this.session?.close();
  }
}

/** Pools by key, shared between consecutive configs. */
export class PoolCache {
  private pools = new Map<string, EndpointPool>();
  private next = new Map<string, EndpointPool>();

  /** Gets or creates the pool for a key while a new config is being built. */
  take(key: string, create: () => EndpointPool): EndpointPool {
    let pool = this.next.get(key) ?? this.pools.get(key);
    if (!pool) pool = create();
    this.next.set(key, pool);
    return pool;
  }

  /** The new config is in force: pools it did not take are retired. */
  commit(): void {
    for (const [key, pool] of this.pools) if (!this.next.has(key)) pool.retire();
    this.pools = this.next;
    this.next = new Map();
  }

  /** The new config was rejected: forget pools created for it. */
  abort(): void {
    for (const [key, pool] of this.next) if (!this.pools.has(key)) pool.retire();
    this.next = new Map();
  }

  retireAll(): void {
    for (const pool of this.pools.values()) pool.retire();
    this.pools = new Map();
  }
}

/** Fails a connection attempt that does not complete in time (Envoy's connect_timeout). */
export function limitConnectTime(socket: net.Socket, timeoutMs: number, onTimeout: () => void): void {
  if (!socket.connecting || timeoutMs <= 0) return;
  const timer = setTimeout(onTimeout, timeoutMs);
  const clear = (): void => clearTimeout(timer);
  socket.once('connect', clear);
  socket.once('close', clear);
}
