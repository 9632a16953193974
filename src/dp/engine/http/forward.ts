// Forwards one HTTP request to an upstream endpoint (HTTP/1.1 via a keep-alive agent or HTTP/2 via
// a shared session) and streams the response back, with Envoy's local replies on failure.
import http, { ServerResponse } from 'node:http';
import http2, { type ClientHttp2Stream, type IncomingHttpHeaders as Http2Headers } from 'node:http2';
import type { Http2ServerRequest } from 'node:http2';
import type { Readable } from 'node:stream';
import type { ClusterRuntime } from '../cluster/cluster.js';
import type { UpstreamHost } from '../cluster/load-balancer.js';
import type { HttpExchange, LiveConfig } from '../registry.js';
import { downstreamResponseHeaders, flattenHeaders, headersObject, http2RequestHeaders, upstreamRequestHeaders } from './headers.js';
import { countStatus } from '../stats.js';
import { pickCluster, type ForwardAction } from './route-table.js';

const CONNECT_FAILURE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function forward(ex: HttpExchange, action: ForwardAction, live: LiveConfig): void {
  const clusterName = pickCluster(action);
  const cluster = live.clusters.get(clusterName);
  const log = ex.log;
  if (log) log.upstreamCluster = clusterName;
  if (!cluster) {
    if (log) log.flags.push('NC');
    localReply(ex, action.clusterNotFoundStatus, '');
    return;
  }
  cluster.stats.rqTotal.value++;
  const limits = cluster.limits;
  if (cluster.active >= limits.maxRequests) {
    overflow(ex, cluster);
    return;
  }
  const host = cluster.pick();
  if (!host) {
    cluster.stats.noneHealthy.value++;
    if (log) log.flags.push('UH');
    localReply(ex, 503, 'no healthy upstream');
    return;
  }
  // HTTP/1.1 carries one request per connection: with max_connections busy, the request waits
  // for one (max_pending_requests of them at most). HTTP/2 multiplexes, so only max_requests applies.
  const wait = !cluster.http2 && cluster.active >= limits.maxConnections;
  if (wait && cluster.pending >= limits.maxPendingRequests) {
    overflow(ex, cluster);
    return;
  }
  if (!cluster.poolAvailable(host)) {
    overflow(ex, cluster, false);
    return;
  }
  const call = new UpstreamCall(ex, cluster, host, action);
  call.start();
  if (wait) {
    cluster.stats.cxOverflow.value++;
    cluster.enqueue(call);
  } else {
    call.dispatch();
  }
}

/** A circuit breaker tripped: Envoy answers 503 with `x-envoy-overloaded: true`. */
function overflow(ex: HttpExchange, cluster: ClusterRuntime, pending = true): void {
  if (pending) cluster.stats.pendingOverflow.value++;
  if (ex.log) ex.log.flags.push('UO');
  localReply(ex, 503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', ['x-envoy-overloaded', 'true']);
}

/** A local (proxy-generated) response, like Envoy's; filters' response headers are added. */
export function localReply(ex: HttpExchange, status: number, body: string, extraHeaders?: string[]): void {
  const { res } = ex;
  ex.onStatus(status);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers = ['content-type', 'text/plain', 'content-length', String(Buffer.byteLength(body))];
  if (extraHeaders) headers.push(...extraHeaders);
  if (ex.responseHeaders) headers.push(...ex.responseHeaders);
  if (ex.log) ex.log.responseHeaders = headers;
  if (res instanceof ServerResponse) res.writeHead(status, headers);
  else res.writeHead(status, headersObject(headers));
  if (ex.log) ex.log.bytesSent += Buffer.byteLength(body);
  res.end(body);
}

class UpstreamCall {
  private finished = false;
  private responded = false;
  /** Sent upstream (not waiting for a connection under max_connections). */
  private dispatched = false;
  private durationTimer: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private abortUpstream: () => void = () => {};
  private readonly method: string;
  private readonly path: string;
  private readonly headers: string[];
  private readonly hasBody: boolean;

  constructor(
    private readonly ex: HttpExchange,
    private readonly cluster: ClusterRuntime,
    private readonly host: UpstreamHost,
    private readonly action: ForwardAction,
  ) {
    const { req } = ex;
    this.method = req.method ?? 'GET';
    this.path = rewritePath(req.url ?? '/', ex.route.prefix, action.prefixRewrite);
    this.headers = upstreamRequestHeaders(req.rawHeaders, {
      remoteAddress: req.socket.remoteAddress ?? '',
      secure: ex.secure,
      hostRewrite: action.hostRewrite,
    });
    if (ex.upstreamHeaders) this.headers = replaceHeaders(this.headers, ex.upstreamHeaders);
    if (ex.log) ex.log.upstreamRequestHeaders = this.headers;
    this.hasBody = requestHasBody(req);
  }

  /** Starts the route timeout (which covers waiting for a connection) and watches the downstream. */
  start(): void {
    if (this.action.timeoutMs > 0) this.timer = setTimeout(() => this.onTimeout(), this.action.timeoutMs);
    this.ex.res.once('close', () => {
      if (!this.finished) {
        // The downstream went away before the response completed.
        if (this.ex.log) this.ex.log.flags.push('DC');
        this.abortUpstream();
        this.finish();
      }
    });
  }

  /** Sends the request upstream (at once, or when a connection frees up under max_connections). */
  dispatch(): void {
    if (this.finished) return;
    this.dispatched = true;
    this.host.active++;
    this.cluster.active++;
    const log = this.ex.log;
    if (log) log.upstreamHost = this.host.label;
    const maxDuration = this.cluster.maxStreamDurationMs;
    if (maxDuration > 0) this.durationTimer = setTimeout(() => this.onMaxStreamDuration(), maxDuration);
    if (this.cluster.http2) this.sendHttp2();
    else this.sendHttp1(false);
  }

  private sendHttp1(isRetry: boolean): void {
    const upReq = http.request({
      agent: this.host.pool.agent,
      // The agent of a TLS cluster is an https.Agent, which http.request only takes with https:.
      protocol: this.host.pool.options.tls ? 'https:' : 'http:',
      host: this.host.address,
      port: this.host.port,
      socketPath: this.host.pool.options.socketPath,
      method: this.method,
      path: this.path,
      headers: this.headers as unknown as http.OutgoingHttpHeaders,
      setHost: false,
    });
    this.abortUpstream = () => upReq.destroy();
    upReq.on('response', (upRes) => this.onResponse(upRes.statusCode ?? 502, upRes.rawHeaders, upRes));
    upReq.on('error', (err: NodeJS.ErrnoException) => {
      // A pooled connection the upstream closed just as we reused it: safe to retry a bodiless request once.
      if (!isRetry && !this.responded && !this.hasBody && upReq.reusedSocket && err.code === 'ECONNRESET') {
        this.sendHttp1(true);
        return;
      }
      this.onUpstreamError(err);
    });
    if (this.hasBody) this.pipeBody(upReq);
    else upReq.end();
  }

  private sendHttp2(): void {
    let stream: ClientHttp2Stream;
    try {
      const session = this.host.pool.http2Session();
      const scheme = this.host.pool.options.tls ? 'https' : 'http';
      stream = session.request(http2RequestHeaders(this.headers, this.method, this.path, scheme), { endStream: !this.hasBody });
    } catch (err) {
      this.onUpstreamError(err as Error);
      return;
    }
    this.abortUpstream = () => stream.close();
    stream.on('response', (headers: Http2Headers, flags: number) => {
      const status = Number(headers[':status'] ?? 502);
      // END_STREAM on the response headers: a headers-only response, e.g. gRPC's trailers-only
      // status, which must reach the client the same way (not as headers plus an empty body).
      const headersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      this.onResponse(status, flattenHeaders(headers), stream, headersOnly);
    });
    // gRPC sends its status (grpc-status, grpc-message) in trailers: they come before the end.
    stream.on('trailers', (trailers: Http2Headers) => this.addTrailers(flattenHeaders(trailers)));
    stream.on('error', (err) => this.onUpstreamError(err));
    stream.on('close', () => {
      if (!this.responded) this.onUpstreamError(Object.assign(new Error('stream reset'), { code: 'ECONNRESET' }));
    });
    if (this.hasBody) this.pipeBody(stream);
  }

  private pipeBody(upstream: NodeJS.WritableStream): void {
    const { req, log, idleTimer } = this.ex;
    if (log || idleTimer) {
      req.on('data', (chunk: Buffer) => {
        if (log) log.bytesReceived += chunk.length;
        idleTimer?.refresh();
      });
    }
    req.pipe(upstream);
  }

  private onResponse(status: number, rawHeaders: string[], body: Readable, headersOnly = false): void {
    if (this.finished) return;
    this.responded = true;
    const { res, log } = this.ex;
    countStatus(this.cluster.stats.rqClass, status);
    const outlier = this.cluster.outlier;
    if (outlier) {
      outlier.onLocalOriginSuccess(this.host, false);
      outlier.onHttpStatus(this.host, status);
    }
    this.ex.onStatus(status);
    const headers = downstreamResponseHeaders(rawHeaders);
    if (this.ex.responseHeaders) headers.push(...this.ex.responseHeaders);
    if (log) log.responseHeaders = headers;
    if (res instanceof ServerResponse) {
      res.writeHead(status, headers);
    } else if (headersOnly) {
      // Headers set but not sent: ending the response then sends them with END_STREAM.
      res.statusCode = status;
      for (const [name, value] of Object.entries(headersObject(headers))) if (value !== undefined) res.setHeader(name, value);
    } else {
      res.writeHead(status, headersObject(headers));
    }
    // Copied by hand rather than with pipe(), which adds and removes a dozen listeners per response.
    const out = this.ex.responseBody ? this.ex.responseBody(res as NodeJS.WritableStream) : (res as NodeJS.WritableStream);
    const idleTimer = this.ex.idleTimer;
    body.on('data', (chunk: Buffer) => {
      if (log) log.bytesSent += chunk.length;
      idleTimer?.refresh();
      if (out.write(chunk)) return;
      body.pause();
      out.once('drain', () => body.resume());
    });
    body.on('end', () => {
      this.finish();
      out.end();
    });
    body.on('error', () => {
      res.destroy();
      this.finish();
    });
  }

  /**
   * Passes HTTP/2 upstream trailers on to an HTTP/2 downstream (sent when the response ends). Like
   * Envoy without http_protocol_options.enable_trailers, HTTP/1.1 downstreams get none.
   */
  private addTrailers(rawTrailers: string[]): void {
    const { res } = this.ex;
    if (this.finished || res instanceof ServerResponse) return;
    const trailers = downstreamResponseHeaders(rawTrailers);
    if (trailers.length > 0) res.addTrailers(headersObject(trailers) as Record<string, string>);
  }

  private onUpstreamError(err: NodeJS.ErrnoException): void {
    if (this.finished) return;
    const connectFailure = CONNECT_FAILURE_CODES.has(err.code ?? '');
    if (this.ex.log) this.ex.log.flags.push(connectFailure ? 'UF' : 'UC');
    const outlier = this.cluster.outlier;
    if (outlier && !this.responded) {
      if (connectFailure) outlier.onLocalOriginFailure(this.host);
      else outlier.onHttpStatus(this.host, 503);
    }
    if (this.responded) {
      this.ex.res.destroy();
    } else {
      const reason = connectFailure ? 'connection failure' : 'connection termination';
      localReply(this.ex, 503, `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`);
    }
    this.finish();
  }

  private onTimeout(): void {
    if (this.finished) return;
    this.cluster.stats.rqTimeout.value++;
    if (this.ex.log) this.ex.log.flags.push('UT');
    if (this.dispatched && !this.responded) this.cluster.outlier?.onLocalOriginFailure(this.host, true);
    this.abortUpstream();
    if (this.responded) this.ex.res.destroy();
    else localReply(this.ex, 504, 'upstream request timeout');
    this.finish();
  }

  /** The cluster's max_stream_duration passed: 504 (408 while the request is still arriving), or a reset. */
  private onMaxStreamDuration(): void {
    if (this.finished) return;
    this.cluster.stats.rqMaxDurationReached.value++;
    if (this.ex.log) this.ex.log.flags.push('UMSDR');
    this.abortUpstream();
    if (this.responded) this.ex.res.destroy();
    else localReply(this.ex, this.ex.req.complete ? 504 : 408, 'upstream max stream duration reached');
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.durationTimer) clearTimeout(this.durationTimer);
    if (!this.dispatched) {
      this.cluster.dequeue(this);
      return;
    }
    this.host.active--;
    this.cluster.active--;
    this.cluster.dispatchWaiting();
  }
}

function requestHasBody(req: HttpExchange['req']): boolean {
  if ('stream' in req) return !(req as Http2ServerRequest).stream.endAfterHeaders;
  const h = req.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

function rewritePath(path: string, matchedPrefix: string | undefined, prefixRewrite: string | undefined): string {
  if (prefixRewrite === undefined || matchedPrefix === undefined) return path;
  return prefixRewrite + path.slice(matchedPrefix.length);
}

/** `headers` with `replacements` (flat pairs) in place of any same-named ones. */
function replaceHeaders(headers: string[], replacements: string[]): string[] {
  const names = new Set<string>();
  for (let i = 0; i < replacements.length; i += 2) names.add(replacements[i].toLowerCase());
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!names.has(headers[i].toLowerCase())) out.push(headers[i], headers[i + 1]);
  out.push(...replacements);
  return out;
}
