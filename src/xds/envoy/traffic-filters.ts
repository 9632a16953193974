// Local rate limits (HTTP and network) and HTTP fault injection: the filters the inbound traffic
// policies (MeshRateLimit, MeshFaultInjection) put in front of the router / tcp_proxy.
import { durationFromMs, typedExtension } from './common.js';
import type { Filter, HttpFilter } from './types.js';

const HTTP_LOCAL_RATELIMIT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const NETWORK_LOCAL_RATELIMIT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit';
const HTTP_FAULT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

export type FractionDenominator = 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION';

export interface FractionalPercent {
  numerator: number;
  denominator: FractionDenominator;
}

/** A percentage (0–100, decimals allowed) as the coarsest exact FractionalPercent. */
export function fractionalPercent(percent: number): FractionalPercent {
  if (Number.isInteger(percent)) return { numerator: percent, denominator: 'HUNDRED' };
  if (Number.isInteger(percent * 100)) return { numerator: percent * 100, denominator: 'TEN_THOUSAND' };
  return { numerator: Math.round(percent * 10_000), denominator: 'MILLION' };
}

export interface TokenBucketOptions {
  /** Requests (or connections) allowed per interval. */
  num: number;
  intervalMs: number;
}

function tokenBucket(b: TokenBucketOptions): object {
  return { max_tokens: b.num, tokens_per_fill: { value: b.num }, fill_interval: durationFromMs(b.intervalMs) };
}

export interface HttpLocalRateLimitOptions extends TokenBucketOptions {
  statPrefix: string;
  /** Response status when limited (Envoy's default is 429). */
  status?: number;
  /** Headers on the limited response: `append` false overwrites an existing value. */
  headers?: { name: string; value: string; append: boolean }[];
}

/** envoy.filters.http.local_ratelimit, enabled and enforced for every request. */
export function httpLocalRateLimitFilter(o: HttpLocalRateLimitOptions): HttpFilter {
  const all = { default_value: { numerator: 100, denominator: 'HUNDRED' } };
  const config: Record<string, unknown> = { stat_prefix: o.statPrefix, token_bucket: tokenBucket(o), filter_enabled: all, filter_enforced: all };
  if (o.status) config['status'] = { code: o.status };
  if (o.headers?.length) {
    config['response_headers_to_add'] = o.headers.map((h) => ({
      header: { key: h.name, value: h.value },
      append_action: h.append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD',
    }));
  }
  return typedExtension('envoy.filters.http.local_ratelimit', HTTP_LOCAL_RATELIMIT_TYPE_URL, config);
}

/** envoy.filters.network.local_ratelimit: new connections beyond the bucket are closed. */
export function networkLocalRateLimitFilter(o: TokenBucketOptions & { statPrefix: string }): Filter {
  return typedExtension('envoy.filters.network.local_ratelimit', NETWORK_LOCAL_RATELIMIT_TYPE_URL, { stat_prefix: o.statPrefix, token_bucket: tokenBucket(o) });
}

export interface HttpFaultOptions {
  abort?: { httpStatus: number; percent: number };
  delay?: { delayMs: number; percent: number };
  /** Response bandwidth limit in KiB/s. */
  responseRateLimit?: { limitKbps: number; percent: number };
}

/** envoy.filters.http.fault with the given abort, delay and response bandwidth faults. */
export function httpFaultFilter(o: HttpFaultOptions): HttpFilter {
  const config: Record<string, unknown> = {};
  if (o.abort) config['abort'] = { http_status: o.abort.httpStatus, percentage: fractionalPercent(o.abort.percent) };
  if (o.delay) config['delay'] = { fixed_delay: durationFromMs(o.delay.delayMs), percentage: fractionalPercent(o.delay.percent) };
  if (o.responseRateLimit) config['response_rate_limit'] = { fixed_limit: { limit_kbps: o.responseRateLimit.limitKbps }, percentage: fractionalPercent(o.responseRateLimit.percent) };
  return typedExtension('envoy.filters.http.fault', HTTP_FAULT_TYPE_URL, config);
}
