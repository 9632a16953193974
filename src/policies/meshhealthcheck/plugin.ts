// MeshHealthCheck → one active health check on outbound clusters, as Kuma writes it. The merged
// `to[]` conf naming the destination picks the checker by the cluster's protocol: http/http2 with
// `http` → HTTP; grpc with `grpc` → gRPC; otherwise, with `tcp` → TCP; else no check.
//   interval (1m), timeout (15s), unhealthyThreshold (5), healthyThreshold (1), initialJitter,
//   intervalJitter(Percent), noTrafficInterval, reuseConnection → health_checks[0]
//   eventLogPath → event_logger [HealthCheckEventFileSink]; alwaysLogHealthCheckFailures
//   http {path ("/"), expectedStatuses, requestHeadersToAdd} → http_health_check; the first header is
//     `x-kuma-tags` with the calling proxy's inbound tags
//   tcp {send, receive} → tcp_health_check (hex of the strings as written)
//   grpc {serviceName, authority} → grpc_health_check
//   failTrafficOnPanic → common_lb_config.zone_aware_lb_config.fail_traffic_on_panic
//   healthyPanicThreshold (deprecated, MeshCircuitBreaker's since) → common_lb_config.healthy_panic_threshold
import type { Resource } from '../../api/resource.js';
import { parseDuration } from '../../api/rules.js';
import { networkingOf } from '../../xds/context/mesh-context.js';
import { matchPolicies, outboundConf, type DestinationView, type ProxyView } from '../../policy-engine/index.js';
import { selectionViewOf } from '../common/plugin-view.js';
import type { ClusterPatch } from '../../xds/envoy/cluster.js';
import { durationFromMs, typedExtension } from '../../xds/envoy/common.js';
import type { MeshHealthCheckConf } from './api.js';

const FILE_SINK = 'type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink';

const DEFAULTS = { intervalMs: 60_000, timeoutMs: 15_000, unhealthyThreshold: 5, healthyThreshold: 1, path: '/' };

const ms = (d: string | undefined, fallback?: number) => (d === undefined ? undefined : parseDuration(d)) ?? fallback;
const hex = (text: string) => ({ text: Buffer.from(text, 'utf8').toString('hex') });
const on = (c: { disabled?: boolean } | undefined) => Boolean(c) && !c?.disabled;

/** `&k1=v1&k2=v2,v3&`: the calling proxy's inbound tags, as Kuma's x-kuma-tags header has them. */
export function kumaTagsHeader(dp: Resource): string | undefined {
  const tags = new Map<string, Set<string>>();
  for (const inbound of networkingOf(dp).inbound ?? []) {
    for (const [k, v] of Object.entries(inbound.tags ?? {})) {
      if (!tags.has(k)) tags.set(k, new Set());
      tags.get(k)!.add(v);
    }
  }
  if (tags.size === 0) return undefined;
  const pairs = [...tags].map(([k, vs]) => `${k}=${[...vs].sort().join(',')}`).sort();
  return `&${pairs.join('&')}&`;
}

/** The cluster fields of one merged conf for a cluster speaking `protocol`; undefined: no check. */
export function healthCheckPatch(conf: MeshHealthCheckConf, protocol: string, tagsHeader?: string): ClusterPatch | undefined {
  const checker = checkerFor(conf, protocol, tagsHeader);
  const patch: ClusterPatch = {};
  const lb: NonNullable<ClusterPatch['common_lb_config']> = {};
  if (conf.failTrafficOnPanic !== undefined) lb.zone_aware_lb_config = { fail_traffic_on_panic: conf.failTrafficOnPanic };
  if (conf.healthyPanicThreshold !== undefined) lb.healthy_panic_threshold = { value: Number(conf.healthyPanicThreshold) };
  if (Object.keys(lb).length) patch.common_lb_config = lb;
  if (checker) {
    const hc: Record<string, unknown> = {
      timeout: durationFromMs(ms(conf.timeout, DEFAULTS.timeoutMs)!),
      interval: durationFromMs(ms(conf.interval, DEFAULTS.intervalMs)!),
      unhealthy_threshold: { value: conf.unhealthyThreshold ?? DEFAULTS.unhealthyThreshold },
      healthy_threshold: { value: conf.healthyThreshold ?? DEFAULTS.healthyThreshold },
    };
    const initialJitter = ms(conf.initialJitter);
    const intervalJitter = ms(conf.intervalJitter);
    const noTraffic = ms(conf.noTrafficInterval);
    if (initialJitter !== undefined) hc['initial_jitter'] = durationFromMs(initialJitter);
    if (intervalJitter !== undefined) hc['interval_jitter'] = durationFromMs(intervalJitter);
    if (conf.intervalJitterPercent !== undefined) hc['interval_jitter_percent'] = conf.intervalJitterPercent;
    if (noTraffic !== undefined) hc['no_traffic_interval'] = durationFromMs(noTraffic);
    if (conf.reuseConnection !== undefined) hc['reuse_connection'] = { value: conf.reuseConnection };
    if (conf.eventLogPath !== undefined) hc['event_logger'] = [typedExtension('envoy.health_check.event_sinks.file', FILE_SINK, { event_log_path: conf.eventLogPath })];
    if (conf.alwaysLogHealthCheckFailures !== undefined) hc['always_log_health_check_failures'] = conf.alwaysLogHealthCheckFailures;
    patch.health_checks = [{ ...hc, ...checker }];
  }
  return Object.keys(patch).length ? patch : undefined;
}

function checkerFor(conf: MeshHealthCheckConf, protocol: string, tagsHeader: string | undefined): Record<string, unknown> | undefined {
  const httpLike = protocol === 'http' || protocol === 'http2';
  if (httpLike && on(conf.http)) return { http_health_check: httpCheck(conf.http!, protocol, tagsHeader) };
  if (protocol === 'grpc' && on(conf.grpc)) {
    const g = conf.grpc!;
    return { grpc_health_check: { ...(g.serviceName ? { service_name: g.serviceName } : {}), ...(g.authority ? { authority: g.authority } : {}) } };
  }
  if (on(conf.tcp)) {
    const t = conf.tcp!;
    return { tcp_health_check: { ...(t.send !== undefined ? { send: hex(t.send) } : {}), ...(t.receive?.length ? { receive: t.receive.map(hex) } : {}) } };
  }
  return undefined;
}

function httpCheck(http: NonNullable<MeshHealthCheckConf['http']>, protocol: string, tagsHeader: string | undefined): Record<string, unknown> {
  const headers: Record<string, unknown>[] = [];
  const option = (key: string, value: string, action: string) => ({ header: { key, value }, append_action: action });
  if (tagsHeader) headers.push(option('x-kuma-tags', tagsHeader, 'OVERWRITE_IF_EXISTS_OR_ADD'));
  for (const h of http.requestHeadersToAdd?.add ?? []) for (const v of (h.value ?? '').split(',')) headers.push(option(h.name ?? '', v, 'APPEND_IF_EXISTS_OR_ADD'));
  for (const h of http.requestHeadersToAdd?.set ?? []) for (const v of (h.value ?? '').split(',')) headers.push(option(h.name ?? '', v, 'OVERWRITE_IF_EXISTS_OR_ADD'));
  const check: Record<string, unknown> = { path: http.path ?? DEFAULTS.path };
  if (protocol === 'http2') check['codec_client_type'] = 'HTTP2';
  if (http.expectedStatuses?.length) check['expected_statuses'] = http.expectedStatuses.map((s) => ({ start: s, end: s + 1 }));
  if (headers.length) check['request_headers_to_add'] = headers;
  return check;
}

type Resolver = (destination: DestinationView, protocol: string) => ClusterPatch | undefined;

function resolver(view: ProxyView, policies: readonly Resource[], tagsHeader: string | undefined): Resolver {
  const to = matchPolicies<MeshHealthCheckConf>(view, policies, 'MeshHealthCheck').to;
  return (destination, protocol) => {
    const merged = outboundConf(to, destination);
    return merged.origins.length && merged.conf ? healthCheckPatch(merged.conf, protocol, tagsHeader) : undefined;
  };
}

/**
 * Per-sidecar resolver: the health check of each destination's cluster (undefined: none). The whole
 * proxy view: a top-level MeshService / MeshSubset selects the proxy by its inbounds.
 */
export function outboundHealthChecks(policies: readonly Resource[], dp: Resource): Resolver {
  return resolver(selectionViewOf(dp), policies, kumaTagsHeader(dp));
}

/**
 * The same for a zone proxy's clusters. It has no inbound tags, so no x-kuma-tags header (as on
 * Kuma's egress). TLS passthrough clusters pass protocol `tcp`: only a TCP check can work there.
 */
export function zoneProxyHealthChecks(policies: readonly Resource[], dp: Resource): Resolver {
  return resolver(selectionViewOf(dp), policies, undefined);
}
