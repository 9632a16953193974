// envoy.filters.http.local_ratelimit: a token bucket per filter config (the listener's, or a
// route's typed_per_filter_config override, each with its own bucket). Requests finding the bucket
// empty get a local 429 (`status`) with `x-envoy-ratelimited: true` and response_headers_to_add.
// filter_enabled / filter_enforced default to 0%, as in Envoy: only stats, no limiting.
import { reject } from '../../config-error.js';
import { checkFields, httpStatus, list, num, str, type Obj } from '../../proto-values.js';
import { chance, runtimeFractionalPercent } from '../../percent.js';
import { httpFilters, perRouteConfigs, type CompileContext, type HttpExchange } from '../../registry.js';
import type { Counter } from '../../stats.js';
import { compileTokenBucket, TokenBucket } from '../../token-bucket.js';
import { localReply } from '../forward.js';
import { headerValueOptions } from '../header-options.js';

const LOCAL_RATE_LIMIT = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

class LocalRateLimit {
  /** local_rate_limit_per_downstream_connection: a bucket per connection, made on first use. */
  private readonly perConnection: WeakMap<object, TokenBucket> | undefined;

  constructor(
    private readonly bucket: TokenBucket | undefined,
    perConnection: boolean,
    private readonly enabled: number,
    private readonly enforced: number,
    private readonly status: number,
    private readonly headersToAdd: string[],
    private readonly xRateLimitHeaders: boolean,
    private readonly stats: { enabled: Counter; enforced: Counter; rateLimited: Counter; ok: Counter },
  ) {
    this.perConnection = perConnection ? new WeakMap() : undefined;
  }

  onRequest(ex: HttpExchange): boolean {
    let bucket = this.bucket;
    if (!bucket || !chance(this.enabled)) return true;
    if (this.perConnection) {
      const shared = bucket;
      let own = this.perConnection.get(ex.connection);
      if (!own) this.perConnection.set(ex.connection, (own = new TokenBucket(shared.maxTokens, shared.tokensPerFill, shared.fillIntervalMs)));
      bucket = own;
    }
    this.stats.enabled.value++;
    const allowed = bucket.consume();
    if (this.xRateLimitHeaders) {
      (ex.responseHeaders ??= []).push(
        'x-ratelimit-limit', String(bucket.maxTokens),
        'x-ratelimit-remaining', String(Math.floor(bucket.remaining())),
        'x-ratelimit-reset', String(Math.ceil(bucket.msUntilFill() / 1000)),
      );
    }
    if (allowed) {
      this.stats.ok.value++;
      return true;
    }
    this.stats.rateLimited.value++;
    if (!chance(this.enforced)) return true;
    this.stats.enforced.value++;
    if (ex.log) ex.log.flags.push('RL');
    localReply(ex, this.status, 'local_rate_limited', ['x-envoy-ratelimited', 'true', ...this.headersToAdd]);
    return false;
  }
}

const FIELDS = [
  'stat_prefix', 'status', 'token_bucket', 'filter_enabled', 'filter_enforced', 'response_headers_to_add',
  'enable_x_ratelimit_headers', 'descriptors', 'stage', 'local_rate_limit_per_downstream_connection',
  'always_consume_default_token_bucket', 'rate_limited_as_resource_exhausted',
];

function compile(config: Obj, path: string, ctx: CompileContext): LocalRateLimit {
  checkFields(config, path, FIELDS);
  const statPrefix = str(config.stat_prefix);
  if (!statPrefix) reject(`${path}.stat_prefix`, 'is required');
  // Descriptors need rate_limits actions on the route, which the engine does not run.
  if (list(config.descriptors, `${path}.descriptors`).length > 0) reject(`${path}.descriptors`, 'descriptor rate limits are not supported');
  if (num(config.stage, 0) !== 0) reject(`${path}.stage`, 'only stage 0 is supported');
  if (config.rate_limited_as_resource_exhausted === true) reject(`${path}.rate_limited_as_resource_exhausted`, 'is not supported');
  // always_consume_default_token_bucket only matters with descriptors: the default bucket is always used.
  const xHeaders = str(config.enable_x_ratelimit_headers) || 'OFF';
  if (xHeaders !== 'OFF' && xHeaders !== 'DRAFT_VERSION_03') reject(`${path}.enable_x_ratelimit_headers`, `${xHeaders} is not supported`);
  const status = httpStatus(config.status, `${path}.status`, 429);
  if (status < 400 || status > 599) reject(`${path}.status`, 'must be a 4xx or 5xx status');
  const stat = (s: string): Counter => ctx.stats.httpLocalRateLimit(statPrefix, s);
  return new LocalRateLimit(
    config.token_bucket ? compileTokenBucket(config.token_bucket, `${path}.token_bucket`) : undefined,
    config.local_rate_limit_per_downstream_connection === true,
    runtimeFractionalPercent(config.filter_enabled, `${path}.filter_enabled`, 0),
    runtimeFractionalPercent(config.filter_enforced, `${path}.filter_enforced`, 0),
    status,
    headerValueOptions(config.response_headers_to_add, `${path}.response_headers_to_add`),
    xHeaders === 'DRAFT_VERSION_03',
    { enabled: stat('enabled'), enforced: stat('enforced'), rateLimited: stat('rate_limited'), ok: stat('ok') },
  );
}

httpFilters.register(LOCAL_RATE_LIMIT, (config, path, ctx) => {
  const own = compile(config, path, ctx);
  const name = ctx.httpFilterName ?? '';
  return {
    terminal: false,
    onRequest(ex) {
      const override = ex.route.perFilter?.get(name);
      return (override instanceof LocalRateLimit ? override : own).onRequest(ex);
    },
  };
});

perRouteConfigs.register(LOCAL_RATE_LIMIT, compile);
