// Extension registry keyed by Envoy type URL: each network filter, HTTP filter, listener filter,
// transport socket and cluster type lives in its own file and registers itself here. Config naming a
// type that is not registered is rejected with that type URL (the agent turns it into a NACK).
import type net from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { reject } from './config-error.js';
import { obj, unpackTyped, type Obj } from './proto-values.js';
import type { Stats } from './stats.js';
import type { ClusterRuntime } from './cluster/cluster.js';
import type { RouteTable, Route } from './http/route-table.js';
import type { TlsSecret } from './transport/secrets.js';

/** The config in force, swapped as a whole by Engine.apply(); looked up at connection/request time. */
export interface LiveConfig {
  clusters: Map<string, ClusterRuntime>;
  routes: Map<string, RouteTable>;
}

/** Names other resources refer to; the agent subscribes to exactly these. */
export interface References {
  routes: Set<string>;
  endpoints: Set<string>;
  secrets: Set<string>;
}

export interface CompileContext {
  stats: Stats;
  /** Live view for request-time lookups (clusters, RDS route tables, SDS secrets). */
  live: LiveConfig;
  /** The secrets of the config being compiled, to validate SDS references up front. */
  secrets: Map<string, TlsSecret>;
  /** ClusterLoadAssignments of the config being compiled, by cluster/service name. */
  endpoints: Map<string, Obj>;
  refs: References;
  /** Network filters built so far, drained if the config is rejected or replaced. */
  created: NetworkFilter[];
  /**
   * Set while an HTTP connection manager builds its HTTP filters: its stat_prefix, under which HTTP
   * filters count their stats (`http.<stat_prefix>.<filter>.*`).
   */
  httpStatPrefix?: string;
  /** The listener's traffic_direction (INBOUND, OUTBOUND, UNSPECIFIED): tracing names spans by it. */
  trafficDirection?: string;
  /** Set while an HTTP filter is built: its name in http_filters, the key of its per-route overrides. */
  httpFilterName?: string;
}

/** What listener filters learnt about a new connection, used by filter_chain_match. */
export interface ConnectionInfo {
  localPort: number;
  remoteAddress: string;
  transportProtocol: string;
  serverName: string;
  applicationProtocols: string[];
  /**
   * Where a connection redirected to a `use_original_dst` listener was going (SO_ORIGINAL_DST);
   * `localPort` is then its port. ORIGINAL_DST clusters connect there.
   */
  originalDestination?: { address: string; port: number };
}

/** The verified client certificate of a TLS connection terminated by the engine. */
export interface PeerCertificate {
  /** URI SANs, e.g. `spiffe://default/backend`, in certificate order. */
  uriSans: string[];
  /** DNS SANs, in certificate order. */
  dnsSans: string[];
  /** The subject as Envoy reports it (RFC 2253), e.g. `CN=backend,O=Kuma`. */
  subject: string;
}

export interface DownstreamConnection {
  socket: Duplex & Pick<net.Socket, 'remoteAddress' | 'destroy' | 'setTimeout'>;
  info: ConnectionInfo;
  /** TLS terminated by the engine. */
  secure: boolean;
  /**
   * The client certificate, once the TLS handshake completed (see `established`), when the client
   * presented one and it was verified. Always undefined for plaintext connections.
   */
  peer?: PeerCertificate;
  /**
   * Resolves once the transport is established: immediately for plaintext, after the TLS handshake
   * (with `peer` set) for TLS. Resolves false when the connection failed or closed before that.
   */
  established(): Promise<boolean>;
}

export interface NetworkFilter {
  /** A terminal filter owns the connection and must come last in the chain. */
  readonly terminal: boolean;
  /**
   * Non-terminal filters return false when they closed the connection. A filter that needs to wait
   * (e.g. for the TLS handshake, to see the peer certificate) returns a promise of that instead; the
   * next filters run once it resolves true.
   */
  onConnection(conn: DownstreamConnection): boolean | Promise<boolean>;
  /** Stop reusing existing connections for new work: the listener changed or went away. */
  drain(): void;
}

export type HttpRequest = IncomingMessage | Http2ServerRequest;
export type HttpResponse = ServerResponse | Http2ServerResponse;

export interface HttpExchange {
  req: HttpRequest;
  res: HttpResponse;
  route: Route;
  /** The downstream connection is TLS terminated by the engine. */
  secure: boolean;
  /** The downstream connection the request arrived on. */
  connection: DownstreamConnection;
  /** The verified client certificate of the downstream TLS connection, if any (= connection.peer). */
  peer: PeerCertificate | undefined;
  /** Called once with the final status code, for stats. */
  onStatus(status: number): void;
  /** Headers (flat name/value pairs) filters add to the response, upstream or local; usually unset. */
  responseHeaders?: string[];
  /** Wraps the downstream response body (the fault filter's response rate limit); usually unset. */
  responseBody?: (out: NodeJS.WritableStream) => NodeJS.WritableStream;
  /** What the access logs and tracing record; set only when the HCM has either. */
  log?: RequestLog;
  /** Headers the upstream request gets on top (replacing same-named ones), e.g. traceparent. */
  upstreamHeaders?: string[];
  /** The stream idle timer; refreshed on body activity. */
  idleTimer?: NodeJS.Timeout;
  /** The request's trace span, when the HCM traces. */
  span?: { traceId: string; spanId: string; parentSpanId: string; sampled: boolean; traceState: string; upstreamSpanId?: string };
}

/** Facts about one request (or TCP connection) for access logs and spans, filled in as it goes. */
export interface RequestLog {
  startMs: number;
  /** process.hrtime.bigint() at the start, for durations. */
  startNs: bigint;
  /** Set when the request (connection) ends. */
  durationMs: number;
  /** 0 for TCP. */
  status: number;
  /** Envoy response flags, e.g. `UH`, `UF`, `RL` (joined with `,`). */
  flags: string[];
  bytesReceived: number;
  bytesSent: number;
  upstreamCluster: string;
  /** `address:port` of the endpoint the request went to. */
  upstreamHost: string;
  downstreamRemoteAddress: string;
  downstreamLocalAddress: string;
  /** `HTTP/1.1`, `HTTP/2`; empty for TCP. */
  protocol: string;
  routeName: string;
  /** SNI of the downstream TLS connection. */
  serverName: string;
  /** The HTTP request as received; undefined for TCP. */
  request: { method: string; path: string; authority: string; scheme: string; headers: Record<string, string | string[] | undefined> } | undefined;
  /** The request headers as sent upstream (flat name/value pairs). */
  upstreamRequestHeaders: string[] | undefined;
  /** Response headers as sent downstream (flat name/value pairs). */
  responseHeaders: string[] | undefined;
}

export interface HttpFilter {
  readonly terminal: boolean;
  /**
   * Returns false when the filter answered the request itself, true to go on with the next filter,
   * or a promise of either when it needs to wait first (e.g. an injected delay).
   */
  onRequest(exchange: HttpExchange): boolean | Promise<boolean>;
}

export interface ListenerFilter {
  /** Reads (and puts back) the first bytes of a connection to fill `info`; gives up when `signal` aborts. */
  inspect(socket: net.Socket, info: ConnectionInfo, signal: AbortSignal): Promise<void>;
}

export interface DownstreamTransport {
  /** Wraps an accepted socket, e.g. TLS termination. Undefined when the connection is refused. */
  wrap(socket: net.Socket, info: ConnectionInfo): DownstreamConnection['socket'] | undefined;
  readonly secure: boolean;
  /**
   * For transports with a handshake, called right after wrap(): calls `done` once, synchronously
   * when the handshake completes (before any application data is read), with the verified peer
   * certificate if one was presented, or with false when the connection failed or closed first.
   * Transports without it are established as soon as they are wrapped.
   */
  onEstablished?(socket: DownstreamConnection['socket'], done: (result: PeerCertificate | undefined | false) => void): void;
}

export interface UpstreamTransport {
  /** TLS options for connections to an endpoint, or undefined for plaintext. */
  tlsOptions(): tls.ConnectionOptions | undefined;
  /** Changes when the TLS material changes, so pooled connections are not reused across it. */
  readonly fingerprint: string;
}

export type Factory<T> = (config: Obj, path: string, ctx: CompileContext) => T;

export class Registry<T> {
  private readonly factories = new Map<string, Factory<T>>();

  constructor(readonly kind: string) {}

  register(key: string, factory: Factory<T>): void {
    if (this.factories.has(key)) throw new Error(`${this.kind} ${key} registered twice`);
    this.factories.set(key, factory);
  }

  has(key: string): boolean {
    return this.factories.has(key);
  }

  lookup(key: string, path: string): Factory<T> {
    const factory = this.factories.get(key);
    if (!factory) reject(path, `${this.kind} type ${key} is not supported by the Skein data plane`);
    return factory;
  }

  /** Builds the extension named by a `typed_config` Any. */
  create(typedConfig: unknown, path: string, ctx: CompileContext): { typeUrl: string; instance: T } {
    const typeUrl = obj(typedConfig, path).type_url;
    if (typeof typeUrl !== 'string' || !typeUrl) reject(path, `${this.kind} without typed_config`);
    const factory = this.lookup(typeUrl, path);
    const { config } = unpackTyped(typedConfig, path);
    return { typeUrl, instance: factory(config, path, ctx) };
  }
}

export const networkFilters = new Registry<NetworkFilter>('network filter');
export const httpFilters = new Registry<HttpFilter>('HTTP filter');
export const listenerFilters = new Registry<ListenerFilter>('listener filter');
export const downstreamTransports = new Registry<DownstreamTransport>('downstream transport socket');
export const upstreamTransports = new Registry<UpstreamTransport>('upstream transport socket');
/** Per-route HTTP filter configs (typed_per_filter_config), by type URL; the filter reads its own. */
export const perRouteConfigs = new Registry<unknown>('per-route HTTP filter config');
/** Keyed by Cluster.type (discovery type); returns the ClusterLoadAssignment to use, if any yet. */
export const clusterTypes = new Registry<Obj | undefined>('cluster discovery');
