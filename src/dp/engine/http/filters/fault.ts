// envoy.filters.http.fault: injects delays, aborts and response body rate limits into a share of
// the requests (FractionalPercent), optionally only for some headers, downstream nodes or upstream
// cluster. The delay comes first, then the abort decision, as in Envoy. A route's
// typed_per_filter_config HTTPFault replaces the filter's config for that route.
import { Writable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { reject } from '../../config-error.js';
import { checkFields, durationMs, list, num, obj, str, type Obj } from '../../proto-values.js';
import { chance, fractionalPercent } from '../../percent.js';
import { httpFilters, perRouteConfigs, type CompileContext, type HttpExchange } from '../../registry.js';
import type { Counter } from '../../stats.js';
import { localReply } from '../forward.js';
import { compileHeaderMatcher } from '../route-table.js';

const HTTP_FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
/** Envoy sends the throttled body in slices this often. */
const RATE_LIMIT_TICK_MS = 50;

interface FaultStats {
  delays: Counter;
  aborts: Counter;
  responseRl: Counter;
  overflow: Counter;
  active: Counter;
}

class Fault {
  constructor(
    private readonly delay: { ms: number; chance: number } | undefined,
    private readonly abort: { status: number; chance: number } | undefined,
    private readonly rateLimit: { bytesPerSecond: number; chance: number } | undefined,
    private readonly upstreamCluster: string,
    private readonly headers: ((h: IncomingHttpHeaders) => boolean)[],
    private readonly downstreamNodes: string[],
    private readonly maxActive: number,
  ) {}

  /** `stats` are the filter's: a route's override counts under the HCM of the filter it overrides. */
  onRequest(ex: HttpExchange, stats: FaultStats): boolean | Promise<boolean> {
    if (!this.applies(ex)) return true;
    const delay = this.delay && chance(this.delay.chance) ? this.delay.ms : 0;
    const abort = this.abort;
    const rateLimit = this.rateLimit && chance(this.rateLimit.chance) ? this.rateLimit.bytesPerSecond : 0;
    if (!delay && !rateLimit && !(abort && abort.chance > 0)) return true;
    if (stats.active.value >= this.maxActive) {
      stats.overflow.value++;
      return true;
    }
    stats.active.value++;
    ex.res.once('close', () => stats.active.value--);
    if (rateLimit) {
      stats.responseRl.value++;
      ex.responseBody = (out) => new Throttle(out, rateLimit);
    }
    if (!delay) return this.maybeAbort(ex, stats);
    stats.delays.value++;
    if (ex.log) ex.log.flags.push('DI');
    return new Promise((resolve) => setTimeout(() => resolve(this.maybeAbort(ex, stats)), delay));
  }

  private maybeAbort(ex: HttpExchange, stats: FaultStats): boolean {
    const abort = this.abort;
    if (!abort || !chance(abort.chance)) return true;
    stats.aborts.value++;
    if (ex.log) ex.log.flags.push('FI');
    localReply(ex, abort.status, 'fault filter abort');
    return false;
  }

  private applies(ex: HttpExchange): boolean {
    const headers = ex.req.headers;
    if (this.upstreamCluster) {
      const action = ex.route.action;
      if (action.kind !== 'forward' || action.cluster !== this.upstreamCluster) return false;
    }
    for (const match of this.headers) if (!match(headers)) return false;
    if (this.downstreamNodes.length > 0) {
      const node = headers['x-envoy-downstream-service-node'];
      if (typeof node !== 'string' || !this.downstreamNodes.includes(node)) return false;
    }
    return true;
  }
}

/** Passes the response body on at `bytesPerSecond`. */
class Throttle extends Writable {
  private readonly perTick: number;

  constructor(private readonly out: NodeJS.WritableStream, bytesPerSecond: number) {
    super();
    this.perTick = Math.max(1, Math.floor((bytesPerSecond * RATE_LIMIT_TICK_MS) / 1000));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let offset = 0;
    const step = (): void => {
      const slice = chunk.subarray(offset, offset + this.perTick);
      offset += slice.length;
      this.out.write(slice);
      if (offset >= chunk.length) setTimeout(callback, RATE_LIMIT_TICK_MS);
      else setTimeout(step, RATE_LIMIT_TICK_MS);
    };
    step();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.out.end();
    callback();
  }
}

const FIELDS = ['delay', 'abort', 'upstream_cluster', 'headers', 'downstream_nodes', 'max_active_faults', 'response_rate_limit', 'disable_downstream_cluster_stats'];

function compile(config: Obj, path: string): Fault {
  // disable_downstream_cluster_stats: the engine keeps no per-downstream-cluster fault stats anyway.
  checkFields(config, path, FIELDS);

  let delay: { ms: number; chance: number } | undefined;
  if (config.delay) {
    const dpath = `${path}.delay`;
    const d = obj(config.delay, dpath);
    checkFields(d, dpath, ['fixed_delay', 'percentage', 'fault_delay_secifier']);
    if (d.fixed_delay === undefined) reject(`${dpath}.fixed_delay`, 'is required (header_delay is not supported)');
    const ms = durationMs(d.fixed_delay, 0);
    if (ms <= 0) reject(`${dpath}.fixed_delay`, 'must be greater than 0');
    delay = { ms, chance: fractionalPercent(d.percentage, `${dpath}.percentage`, 0) };
  }
  let abort: { status: number; chance: number } | undefined;
  if (config.abort) {
    const apath = `${path}.abort`;
    const a = obj(config.abort, apath);
    checkFields(a, apath, ['http_status', 'percentage', 'error_type']);
    if (a.http_status === undefined) reject(`${apath}.http_status`, 'is required (grpc_status and header_abort are not supported)');
    const status = num(a.http_status, 0);
    if (status < 200 || status >= 600) reject(`${apath}.http_status`, 'must be within [200, 600)');
    abort = { status, chance: fractionalPercent(a.percentage, `${apath}.percentage`, 0) };
  }
  let rateLimit: { bytesPerSecond: number; chance: number } | undefined;
  if (config.response_rate_limit) {
    const rpath = `${path}.response_rate_limit`;
    const r = obj(config.response_rate_limit, rpath);
    checkFields(r, rpath, ['fixed_limit', 'percentage', 'limit_type']);
    if (r.fixed_limit === undefined) reject(`${rpath}.fixed_limit`, 'is required (header_limit is not supported)');
    const fixed = obj(r.fixed_limit, `${rpath}.fixed_limit`);
    checkFields(fixed, `${rpath}.fixed_limit`, ['limit_kbps']);
    const kbps = num(fixed.limit_kbps, 0);
    if (kbps < 1) reject(`${rpath}.fixed_limit.limit_kbps`, 'must be at least 1');
    rateLimit = { bytesPerSecond: kbps * 1024, chance: fractionalPercent(r.percentage, `${rpath}.percentage`, 0) };
  }
  const maxActive = config.max_active_faults === undefined ? Infinity : num(config.max_active_faults, 0);
  return new Fault(
    delay,
    abort,
    rateLimit,
    str(config.upstream_cluster),
    list(config.headers, `${path}.headers`).map((h, i) => compileHeaderMatcher(h, `${path}.headers[${i}]`)),
    ((config.downstream_nodes as string[] | undefined) ?? []).map(String),
    maxActive,
  );
}

function faultStats(ctx: CompileContext, statPrefix: string): FaultStats {
  const stat = (s: string): Counter => ctx.stats.http(statPrefix, `fault.${s}`);
  return {
    delays: stat('delays_injected'),
    aborts: stat('aborts_injected'),
    responseRl: stat('response_rl_injected'),
    overflow: stat('faults_overflow'),
    active: ctx.stats.httpGauge(statPrefix, 'fault.active_faults'),
  };
}

httpFilters.register(HTTP_FAULT, (config, path, ctx) => {
  const statPrefix = ctx.httpStatPrefix;
  if (statPrefix === undefined) return reject(path, 'the fault filter must be in an http_connection_manager');
  const own = compile(config, path);
  const stats = faultStats(ctx, statPrefix);
  const name = ctx.httpFilterName ?? '';
  return {
    terminal: false,
    onRequest(ex) {
      const override = ex.route.perFilter?.get(name);
      return (override instanceof Fault ? override : own).onRequest(ex, stats);
    },
  };
});

perRouteConfigs.register(HTTP_FAULT, (config, path) => compile(config, path));
