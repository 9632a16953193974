// MeshRateLimit → local rate limits on sidecar inbounds, from the merged catch-all conf (`rules[]`
// without match, `from[]`): `local.http.requestRate` → HTTP local_ratelimit filter (token bucket of
// `num` per `interval`; `onRateLimit.status` default 429, `headers.add` appended, `headers.set`
// overwritten, one header per comma-separated value), `local.tcp.connectionRate` → network
// local_ratelimit filter. Rules matching a caller's spiffeID are not generated yet.
// Zone proxies: per listener and SNI (rules without matches plus those matching the SNI), the TCP
// connection rate on that SNI's filter chain; the HTTP request rate where the chain has an HCM.
import type { Resource } from '../../api/resource.js';
import type { ListenerType } from '../../api/well-known.js';
import { parseDuration } from '../../api/rules.js';
import { matchPolicies, type InboundView } from '../../policy-engine/index.js';
import { httpLocalRateLimitFilter, networkLocalRateLimitFilter, type Filter, type HttpFilter } from '../../xds/envoy/index.js';
import { inboundViewOf, zoneListenerViewOf } from '../common/plugin-view.js';
import type { MeshRateLimitConf } from './api.js';

export interface InboundRateLimit {
  http?: HttpFilter;
  tcp?: Filter;
}

const filtersOf = new WeakMap<MeshRateLimitConf, InboundRateLimit>();

export function inboundRateLimit(policies: readonly Resource[], dp: Resource, inbound: InboundView): InboundRateLimit {
  const conf = matchPolicies<MeshRateLimitConf>(inboundViewOf(dp, inbound), policies, 'MeshRateLimit').inbounds[0]?.conf;
  return filtersFor(conf);
}

/** Rate limits of one SNI filter chain of a zone-proxy listener. */
export function zoneProxyRateLimit(policies: readonly Resource[], dp: Resource, listener: { type: ListenerType; name: string; port: number }, sni: string): InboundRateLimit {
  return filtersFor(matchPolicies<MeshRateLimitConf>(zoneListenerViewOf(dp, listener, sni), policies, 'MeshRateLimit').listeners[0]?.bySni[sni]);
}

function filtersFor(conf: MeshRateLimitConf | undefined): InboundRateLimit {
  if (!conf) return {};
  // The engine shares a merged conf among proxies that look alike: so do their (encoded) filters.
  let filters = filtersOf.get(conf);
  if (!filters) filtersOf.set(conf, (filters = rateLimitFilters(conf)));
  return filters;
}

function rateLimitFilters(conf: MeshRateLimitConf): InboundRateLimit {
  const local = conf.local;
  const out: InboundRateLimit = {};
  const http = local?.http;
  const httpRate = http && !http.disabled ? rate(http.requestRate) : undefined;
  if (httpRate) {
    const headers = [
      ...(http?.onRateLimit?.headers?.add ?? []).map((h) => ({ name: h.name ?? '', value: h.value ?? '', append: true })),
      ...(http?.onRateLimit?.headers?.set ?? []).flatMap((h) => (h.value ?? '').split(',').map((value) => ({ name: h.name ?? '', value: value.trim(), append: false }))),
    ];
    out.http = httpLocalRateLimitFilter({ statPrefix: 'rate_limit', ...httpRate, ...(http?.onRateLimit?.status ? { status: http.onRateLimit.status } : {}), headers });
  }
  const tcp = local?.tcp;
  const tcpRate = tcp && !tcp.disabled ? rate(tcp.connectionRate) : undefined;
  if (tcpRate) out.tcp = networkLocalRateLimitFilter({ statPrefix: 'tcp_rate_limit', ...tcpRate });
  return out;
}

function rate(r: { num?: number; interval?: string } | undefined): { num: number; intervalMs: number } | undefined {
  const intervalMs = r?.interval ? parseDuration(r.interval) : undefined;
  return r?.num && intervalMs ? { num: r.num, intervalMs } : undefined;
}
