// envoy.filters.network.http_connection_manager: terminates HTTP/1.1 and HTTP/2 (h2c or over TLS)
// on the connection, matches routes (inline route_config or RDS) and runs the HTTP filter chain.
import { randomUUID } from 'node:crypto';
import http, { ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import { reject } from '../config-error.js';
import { checkFields, durationMs, list, obj, str, type Obj } from '../proto-values.js';
import { httpFilters, networkFilters, type CompileContext, type DownstreamConnection, type HttpExchange, type HttpFilter, type HttpRequest, type HttpResponse, type NetworkFilter } from '../registry.js';
import { compileRouteConfiguration, type RouteTable } from '../http/route-table.js';
import { localReply } from '../http/forward.js';
import { countStatus, responseClassCounters, type Counter } from '../stats.js';
import { compileAccessLogs, emitAccessLogs, formatAddress, newRequestLog, type AccessLog } from '../access-log/access-log.js';
import { compileTracing, type Tracer } from '../tracing/tracing.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;
const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;

type Codec = 'AUTO' | 'HTTP1' | 'HTTP2';

interface HcmSettings {
  codec: Codec;
  idleTimeoutMs: number;
  maxConnectionDurationMs: number;
  maxStreamDurationMs: number;
  streamIdleTimeoutMs: number;
  requestTimeoutMs: number;
  requestHeadersTimeoutMs: number;
}

networkFilters.register(HCM, (config, path, ctx) => {
  checkFields(config, path, [
    'stat_prefix', 'codec_type', 'route_config', 'rds', 'route_specifier', 'http_filters',
    'common_http_protocol_options', 'stream_idle_timeout', 'request_timeout', 'request_headers_timeout',
    'use_remote_address', 'http_protocol_options', 'http2_protocol_options', 'access_log', 'tracing',
  ]);
  const codec = (str(config.codec_type) || 'AUTO') as Codec;
  if (!['AUTO', 'HTTP1', 'HTTP2'].includes(codec)) reject(`${path}.codec_type`, `${codec} is not supported`);
  checkFields(obj(config.http_protocol_options, path), `${path}.http_protocol_options`, []);
  checkFields(obj(config.http2_protocol_options, path), `${path}.http2_protocol_options`, []);
  const common = obj(config.common_http_protocol_options, `${path}.common_http_protocol_options`);
  checkFields(common, `${path}.common_http_protocol_options`, ['idle_timeout', 'max_connection_duration', 'max_stream_duration']);

  const statPrefix = str(config.stat_prefix);
  if (!statPrefix) reject(`${path}.stat_prefix`, 'is required');
  const routes = routeSource(config, path, ctx);
  const filterCtx: CompileContext = { ...ctx, httpStatPrefix: statPrefix };
  const filters = list(config.http_filters, `${path}.http_filters`).map((f, i) => {
    const fpath = `${path}.http_filters[${i}]`;
    checkFields(f, fpath, ['name', 'typed_config', 'config_type']);
    return httpFilters.create(f.typed_config, `${fpath}.typed_config`, { ...filterCtx, httpFilterName: str(f.name) }).instance;
  });
  if (filters.length === 0 || !filters[filters.length - 1].terminal) reject(`${path}.http_filters`, 'the last HTTP filter must be the router');
  if (filters.slice(0, -1).some((f) => f.terminal)) reject(`${path}.http_filters`, 'router filter is before the end of the list');
  const accessLogs = compileAccessLogs(config.access_log, `${path}.access_log`, ctx);
  const tracer = config.tracing ? compileTracing(config.tracing, `${path}.tracing`, ctx) : undefined;
  return new HttpConnectionManager(routes, filters, statPrefix, ctx, accessLogs, tracer, {
    codec,
    idleTimeoutMs: durationMs(common.idle_timeout, DEFAULT_IDLE_TIMEOUT_MS),
    maxConnectionDurationMs: durationMs(common.max_connection_duration, 0),
    maxStreamDurationMs: durationMs(common.max_stream_duration, 0),
    streamIdleTimeoutMs: durationMs(config.stream_idle_timeout, DEFAULT_STREAM_IDLE_TIMEOUT_MS),
    requestTimeoutMs: durationMs(config.request_timeout, 0),
    requestHeadersTimeoutMs: durationMs(config.request_headers_timeout, 0),
  });
});

/** The route table: compiled now when inline, looked up per request when it comes from RDS. */
function routeSource(config: Obj, path: string, ctx: CompileContext): () => RouteTable | undefined {
  if (config.route_config && config.rds) reject(path, 'route_config and rds are mutually exclusive');
  if (config.route_config) {
    const table = compileRouteConfiguration(obj(config.route_config, path), `${path}.route_config`, ctx);
    return () => table;
  }
  if (!config.rds) return reject(path, 'one of route_config, rds is required');
  const rds = obj(config.rds, `${path}.rds`);
  checkFields(rds, `${path}.rds`, ['config_source', 'route_config_name']);
  const source = obj(rds.config_source, `${path}.rds.config_source`);
  checkFields(source, `${path}.rds.config_source`, ['ads', 'resource_api_version', 'initial_fetch_timeout']);
  if (!source.ads) reject(`${path}.rds.config_source`, 'only the ADS config source is supported');
  const name = str(rds.route_config_name);
  if (!name) reject(`${path}.rds.route_config_name`, 'is required');
  ctx.refs.routes.add(name);
  const live = ctx.live;
  return () => live.routes.get(name);
}

class HttpConnectionManager implements NetworkFilter {
  readonly terminal = true;
  private readonly http1: http.Server;
  private readonly http2: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** The downstream connection of each HTTP/1 socket and HTTP/2 session, for HttpExchange. */
  private readonly connections = new WeakMap<object, DownstreamConnection>();
  /** The connection being handed to the HTTP/2 server, which creates its session synchronously. */
  private handingOver: DownstreamConnection | undefined;
  private draining = false;
  private readonly rqTotal: Counter;
  private readonly cxTotal: Counter;
  private readonly noRoute: Counter;
  private readonly idleTimeout: Counter;
  private readonly rqMaxDuration: Counter;
  private readonly cxMaxDuration: Counter;
  /** HTTP/1.1 connections past max_connection_duration, and requests in flight per connection. */
  private readonly expired = new WeakSet<object>();
  private readonly inFlight = new WeakMap<object, number>();
  private readonly rqClass: Counter[];

  constructor(
    private readonly routes: () => RouteTable | undefined,
    private readonly filters: HttpFilter[],
    statPrefix: string,
    ctx: CompileContext,
    private readonly accessLogs: AccessLog[],
    private readonly tracer: Tracer | undefined,
    private readonly settings: HcmSettings,
  ) {
    this.rqTotal = ctx.stats.http(statPrefix, 'downstream_rq_total');
    this.cxTotal = ctx.stats.http(statPrefix, 'downstream_cx_total');
    this.noRoute = ctx.stats.http(statPrefix, 'no_route');
    this.idleTimeout = ctx.stats.http(statPrefix, 'downstream_rq_idle_timeout');
    this.rqMaxDuration = ctx.stats.http(statPrefix, 'downstream_rq_max_duration_reached');
    this.cxMaxDuration = ctx.stats.http(statPrefix, 'downstream_cx_max_duration_reached');
    this.rqClass = responseClassCounters((c) => ctx.stats.httpResponseClass(statPrefix, c));

    const onRequest = (req: HttpRequest, res: HttpResponse): void => this.onRequest(req, res);
    // Node checks request and header timeouts on an interval (30 s by default): check often enough
    // for the configured ones to fire on time.
    const timeouts = [settings.requestTimeoutMs, settings.requestHeadersTimeoutMs].filter((t) => t > 0);
    const connectionsCheckingInterval = timeouts.length ? Math.max(50, Math.min(30_000, Math.min(...timeouts) / 4)) : 30_000;
    this.http1 = http.createServer({
      requestTimeout: settings.requestTimeoutMs,
      headersTimeout: settings.requestHeadersTimeoutMs || undefined,
      connectionsCheckingInterval,
    }, onRequest);
    this.http1.keepAliveTimeout = settings.idleTimeoutMs;
    // Stream idle timeouts are per request (see armStreamIdleTimer), answering 408 like Envoy.
    this.http1.timeout = 0;
    // The server never listens (the listener owns the socket); this turns on its connection tracking,
    // which idle-connection closing and request timeouts rely on.
    this.http1.emit('listening');
    this.http2 = http2.createServer({}, onRequest);
    this.http2.on('session', (session: http2.ServerHttp2Session) => {
      if (this.handingOver) this.connections.set(session, this.handingOver);
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      if (settings.idleTimeoutMs > 0) session.setTimeout(settings.idleTimeoutMs, () => session.close());
      if (this.draining) session.close();
    });
  }

  onConnection(conn: DownstreamConnection): boolean {
    this.cxTotal.value++;
    const codec = this.settings.codec;
    if (codec === 'AUTO') this.detectCodec(conn);
    else if (codec === 'HTTP1' || !conn.secure) this.handOver(conn, codec === 'HTTP2');
    // An HTTP/2 session set up on a TLS socket needs the handshake done (ALPN, peer certificate).
    else void conn.established().then((ok) => ok && !conn.socket.destroyed && this.handOver(conn, true));
    return true;
  }

  private handOver(conn: DownstreamConnection, isHttp2: boolean): void {
    const socket = conn.socket as net.Socket;
    if (this.settings.maxConnectionDurationMs > 0) this.limitConnectionDuration(socket, isHttp2);
    if (isHttp2) {
      // node:http2 serves TLS sockets only when ALPN chose h2 (Envoy also takes HTTP/2 by prior
      // knowledge): meshed clients speak h2 over TLS without ALPN (Kuma/Skein set no alpn_protocols).
      const tlsSocket = socket as Partial<tls.TLSSocket>;
      if (conn.secure && tlsSocket.alpnProtocol !== 'h2') tlsSocket.alpnProtocol = 'h2';
      // The HTTP/2 session drains bytes already buffered (peeked) itself; resuming would race it.
      this.handingOver = conn;
      try {
        this.http2.emit('connection', socket);
      } finally {
        this.handingOver = undefined;
      }
    } else {
      this.connections.set(socket, conn);
      this.http1.emit('connection', socket);
      // Peeking leaves the socket paused.
      socket.resume();
    }
  }

  /**
   * max_connection_duration: HTTP/2 sessions get a GOAWAY (open streams finish); HTTP/1.1
   * connections close now if idle, else after the response in flight (with `Connection: close`).
   */
  private limitConnectionDuration(socket: net.Socket, isHttp2: boolean): void {
    const timer = setTimeout(() => {
      this.cxMaxDuration.value++;
      if (isHttp2) {
        for (const session of this.sessions) if (this.connections.get(session)?.socket === socket) session.close();
        return;
      }
      this.expired.add(socket);
      if (!this.inFlight.get(socket)) socket.destroy();
    }, this.settings.maxConnectionDurationMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /** Counts HTTP/1.1 requests in flight on their connection, for max_connection_duration. */
  private trackInFlight(req: HttpRequest, res: HttpResponse): void {
    if ('stream' in req) return;
    const socket = req.socket;
    this.inFlight.set(socket, (this.inFlight.get(socket) ?? 0) + 1);
    if (this.expired.has(socket) && res instanceof ServerResponse) res.shouldKeepAlive = false;
    res.once('close', () => {
      const left = (this.inFlight.get(socket) ?? 1) - 1;
      this.inFlight.set(socket, left);
      if (left === 0 && this.expired.has(socket)) socket.destroy();
    });
  }

  /**
   * codec_type AUTO, like Envoy: HTTP/2 when TLS negotiated h2 by ALPN or when the client starts
   * with the HTTP/2 connection preface (h2c, or h2 over TLS without ALPN); HTTP/1.1 otherwise. Reads
   * until the first bytes decide (the first data of a TLS connection comes after its handshake).
   */
  private detectCodec(conn: DownstreamConnection): void {
    const socket = conn.socket as net.Socket;
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const isHttp2 = (socket as Partial<tls.TLSSocket>).alpnProtocol === 'h2' || startsWithPreface(head);
      if (isHttp2 === undefined) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(head);
      this.handOver(conn, isHttp2);
    };
    socket.on('data', onData);
    socket.resume();
  }

  private connectionOf(req: HttpRequest): DownstreamConnection {
    const key = 'stream' in req ? req.stream.session : req.socket;
    const conn = key ? this.connections.get(key) : undefined;
    if (conn) return conn;
    // Not reached: every socket/session is registered in handOver(). A stand-in keeps requests working.
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    const ready = Promise.resolve(true);
    return {
      socket: req.socket as net.Socket,
      info: { localPort: req.socket.localPort ?? 0, remoteAddress: req.socket.remoteAddress ?? '', transportProtocol: secure ? 'tls' : 'raw_buffer', serverName: '', applicationProtocols: [] },
      secure,
      established: () => ready,
    };
  }

  private onRequest(req: HttpRequest, res: HttpResponse): void {
    this.rqTotal.value++;
    const rqClass = this.rqClass;
    const connection = this.connectionOf(req);
    const ex: HttpExchange = {
      req,
      res,
      route: undefined as never,
      secure: (req.socket as { encrypted?: boolean }).encrypted === true,
      connection,
      peer: connection.peer,
      onStatus: (status) => countStatus(rqClass, status),
    };
    if (this.draining && res instanceof ServerResponse) res.shouldKeepAlive = false;
    if (this.settings.maxConnectionDurationMs > 0) this.trackInFlight(req, res);
    const table = this.routes();
    const host = (req.headers.host ?? req.headers[':authority'] ?? '') as string;
    // Access logs and tracing need a record of the request; without them nothing is allocated.
    if (this.accessLogs.length > 0 || this.tracer) this.record(ex, host);
    const route = table?.match(host, req.url ?? '/', req.headers);
    if (!route) {
      this.noRoute.value++;
      if (ex.log) ex.log.flags.push('NR');
      localReply(ex, 404, '');
      return;
    }
    ex.route = route;
    if (route.responseHeaders) (ex.responseHeaders ??= []).push(...route.responseHeaders);
    if (ex.log) ex.log.routeName = route.name;
    const idleMs = (route.action.kind === 'forward' && route.action.idleTimeoutMs) || this.settings.streamIdleTimeoutMs;
    if (idleMs > 0) this.armStreamIdleTimer(ex, idleMs);
    if (this.settings.maxStreamDurationMs > 0) this.limitStreamDuration(ex);
    if (this.tracer) this.tracer.onRequest(ex);
    this.runFilters(ex, 0);
  }

  /**
   * Envoy's stream idle timeout (route idle_timeout, else stream_idle_timeout): a request with no
   * activity (request or response body) for that long gets 408 "stream timeout", or is reset once
   * its response has started.
   */
  private armStreamIdleTimer(ex: HttpExchange, idleMs: number): void {
    const { res } = ex;
    const timer = setTimeout(() => {
      if (res.writableEnded || res.destroyed) return;
      this.idleTimeout.value++;
      if (ex.log) ex.log.flags.push('SI');
      if (res.headersSent) res.destroy();
      else localReply(ex, 408, 'stream timeout');
    }, idleMs);
    ex.idleTimer = timer;
    res.once('close', () => clearTimeout(timer));
  }

  /** max_stream_duration: 504 (408 while the request is still arriving), or a reset once the response started. */
  private limitStreamDuration(ex: HttpExchange): void {
    const { req, res } = ex;
    const timer = setTimeout(() => {
      if (res.writableEnded || res.destroyed) return;
      this.rqMaxDuration.value++;
      if (ex.log) ex.log.flags.push('DT');
      if (res.headersSent) res.destroy();
      else localReply(ex, req.complete ? 504 : 408, 'downstream duration timeout');
    }, this.settings.maxStreamDurationMs);
    res.once('close', () => clearTimeout(timer));
  }

  private record(ex: HttpExchange, host: string): void {
    const { req, res } = ex;
    const log = newRequestLog();
    const socket = req.socket;
    log.downstreamRemoteAddress = formatAddress(socket.remoteAddress, socket.remotePort);
    log.downstreamLocalAddress = formatAddress(socket.localAddress, socket.localPort);
    log.protocol = 'stream' in req ? 'HTTP/2' : `HTTP/${req.httpVersion}`;
    log.serverName = ex.connection.info.serverName;
    log.request = { method: req.method ?? '', path: req.url ?? '', authority: host, scheme: ex.secure ? 'https' : 'http', headers: req.headers };
    ex.log = log;
    // The request ID Envoy's HCM gives every request (logged even for local replies); the upstream
    // request carries the same one.
    if (req.headers['x-request-id'] === undefined) {
      const id = randomUUID();
      (ex.upstreamHeaders ??= []).push('x-request-id', id);
      log.upstreamRequestHeaders = ['x-request-id', id];
    }
    const rqClass = this.rqClass;
    ex.onStatus = (status) => {
      countStatus(rqClass, status);
      log.status = status;
    };
    res.once('close', () => {
      if (!res.writableFinished && log.flags.length === 0) log.flags.push('DC');
      this.tracer?.onResponse(ex);
      emitAccessLogs(this.accessLogs, log, ex.span?.sampled === true);
    });
  }

  /** Runs the HTTP filters from `from` on; a filter answering with a promise suspends the chain. */
  private runFilters(ex: HttpExchange, from: number): void {
    const filters = this.filters;
    for (let i = from; i < filters.length; i++) {
      const result = filters[i].onRequest(ex);
      if (result === true) continue;
      if (result === false) return;
      result.then(
        (proceed) => {
          if (proceed && !ex.res.writableEnded && !ex.res.destroyed) this.runFilters(ex, i + 1);
        },
        () => localReply(ex, 500, 'filter error'),
      );
      return;
    }
  }

  drain(): void {
    if (this.draining) return;
    this.draining = true;
    // Busy keep-alive connections close right after their current response.
    this.http1.keepAliveTimeout = 1;
    this.http1.closeIdleConnections();
    for (const session of this.sessions) session.close();
  }
}

/** Whether `head` starts with the HTTP/2 connection preface; undefined while too short to tell. */
function startsWithPreface(head: Buffer): boolean | undefined {
  const n = Math.min(head.length, HTTP2_PREFACE.length);
  if (head.compare(HTTP2_PREFACE, 0, n, 0, n) !== 0) return false;
  return n === HTTP2_PREFACE.length ? true : undefined;
}
