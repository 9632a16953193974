// MeshFaultInjection → HTTP fault filters on sidecar inbounds (http/http2/grpc only). Each catch-all
// rule (`rules[]` without match) and each legacy `from[]` entry naming the whole mesh contributes
// one `envoy.filters.http.fault` per item of its `http` list, in the engine's order. Rules or
// `from[]` entries that single out callers are not generated yet (they need a per-caller matcher).
// Zone proxies: per listener and SNI, the `http` list of the rules without matches merged with the
// rules matching that SNI (a later list replaces an earlier one), on chains that have an HCM only
// (zone egress, HTTP external service): TLS passthrough chains carry no HTTP to inject faults into.
import type { Resource } from '../../api/resource.js';
import type { ListenerType } from '../../api/well-known.js';
import { parseDuration } from '../../api/rules.js';
import { matchPolicies, type FromEntry, type InboundView, type Rule } from '../../policy-engine/index.js';
import { httpFaultFilter, type HttpFaultOptions, type HttpFilter } from '../../xds/envoy/index.js';
import { inboundViewOf, zoneListenerViewOf } from '../common/plugin-view.js';
import type { Fault, MeshFaultInjectionConf } from './api.js';

const UNIT_KBPS: Record<string, number> = { kbps: 1, Mbps: 1_000, Gbps: 1_000_000 };

export function inboundFaults(policies: readonly Resource[], dp: Resource, inbound: InboundView): HttpFilter[] {
  const rules = matchPolicies<MeshFaultInjectionConf>(inboundViewOf(dp, inbound), policies, 'MeshFaultInjection').inbounds[0];
  if (!rules || (rules.rules.length === 0 && rules.from.length === 0)) return [];
  // The engine shares rule lists among proxies that look alike: so do their (encoded) filters.
  let filters = filtersOf.get(rules.rules);
  if (!filters || filters.from !== rules.from) filtersOf.set(rules.rules, (filters = { from: rules.from, filters: faultFilters(rules.rules, rules.from) }));
  return filters.filters;
}

const filtersOf = new WeakMap<readonly Rule<MeshFaultInjectionConf>[], { from: readonly FromEntry<MeshFaultInjectionConf>[]; filters: HttpFilter[] }>();

function faultFilters(rules: readonly Rule<MeshFaultInjectionConf>[], from: readonly FromEntry<MeshFaultInjectionConf>[]): HttpFilter[] {
  const confs = [...rules.filter((r) => !r.match).map((r) => r.conf), ...from.filter((f) => f.targetRef.kind === 'Mesh').map((f) => f.conf)];
  return confs.flatMap((c) => c.http ?? []).map(faultOptions).filter((o): o is HttpFaultOptions => o !== undefined).map(httpFaultFilter);
}

function faultOptions(f: Fault): HttpFaultOptions | undefined {
  const o: HttpFaultOptions = {};
  if (f.abort?.httpStatus) o.abort = { httpStatus: f.abort.httpStatus, percent: percent(f.abort.percentage) };
  const delayMs = f.delay?.value ? parseDuration(f.delay.value) : undefined;
  if (delayMs !== undefined) o.delay = { delayMs, percent: percent(f.delay?.percentage) };
  const bw = /^(\d*)\s?([GMk]+bps)$/.exec(f.responseBandwidth?.limit ?? '');
  if (bw) o.responseRateLimit = { limitKbps: Number(bw[1] || 0) * (UNIT_KBPS[bw[2]!] ?? 1), percent: percent(f.responseBandwidth?.percentage) };
  return o.abort || o.delay || o.responseRateLimit ? o : undefined;
}

function percent(p: number | string | undefined): number {
  const n = Number(p ?? 100);
  return Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : 100;
}

const zoneFilters = new WeakMap<MeshFaultInjectionConf, HttpFilter[]>();

/** HTTP fault filters of one SNI filter chain of a zone-proxy listener. */
export function zoneProxyFaults(policies: readonly Resource[], dp: Resource, listener: { type: ListenerType; name: string; port: number }, sni: string): HttpFilter[] {
  const conf = matchPolicies<MeshFaultInjectionConf>(zoneListenerViewOf(dp, listener, sni), policies, 'MeshFaultInjection').listeners[0]?.bySni[sni];
  if (!conf) return [];
  let filters = zoneFilters.get(conf);
  if (!filters) zoneFilters.set(conf, (filters = (conf.http ?? []).map(faultOptions).filter((o): o is HttpFaultOptions => o !== undefined).map(httpFaultFilter)));
  return filters;
}
