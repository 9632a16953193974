// MeshTimeout → Envoy timeouts on sidecars. Inbound: the merged catch-all conf (`rules[]` without
// match, `from[]`) of the policies selecting the inbound; outbound: the merged `to[]` conf naming
// the destination. Fields a matching policy leaves out get Kuma's built-in defaults:
//   connectionTimeout     → cluster connect_timeout            (5s)
//   idleTimeout           → HCM common_http_protocol_options.idle_timeout / tcp_proxy idle_timeout (1h)
//   http.requestTimeout   → route timeout                      (15s; 0s turns it off)
//   http.streamIdleTimeout→ HCM stream_idle_timeout            (30m)
// No MeshTimeout at all: only the outbound request timeout's default (15s) applies.
// Zone proxies: per listener and SNI (rules without matches plus those matching the SNI), the same
// fields on the SNI's filter chain: connectionTimeout on its cluster, idleTimeout on its tcp_proxy
// (or HCM), the HTTP ones only where the chain has an HCM (zone egress, HTTP external service).
// Rules matching a caller's spiffeID are not generated yet (they need filter-state route clones).
import type { Resource } from '../../api/resource.js';
import type { ListenerType } from '../../api/well-known.js';
import { parseDuration } from '../../api/rules.js';
import { matchPolicies, outboundConf, type DestinationView, type InboundView } from '../../policy-engine/index.js';
import { inboundViewOf, zoneListenerViewOf, selectionViewOf } from '../common/plugin-view.js';
import type { MeshTimeoutConf } from './api.js';

export interface Timeouts {
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  requestTimeoutMs?: number;
  streamIdleTimeoutMs?: number;
}

const DEFAULTS = { connectTimeoutMs: 5_000, idleTimeoutMs: 3_600_000, requestTimeoutMs: 15_000, streamIdleTimeoutMs: 1_800_000 };

/** What an outbound gets when no MeshTimeout names it: the route's default request timeout only. */
export const NO_POLICY_OUTBOUND: Timeouts = { requestTimeoutMs: DEFAULTS.requestTimeoutMs };

function ms(value: string | undefined, fallback: number): number {
  return (value === undefined ? undefined : parseDuration(value)) ?? fallback;
}

const withDefaultsOf = new WeakMap<MeshTimeoutConf, Timeouts>();

/** Remembered per conf object: the engine shares a merged conf among proxies that look alike. */
function withDefaults(conf: MeshTimeoutConf | undefined): Timeouts {
  if (!conf) return computeDefaults(undefined);
  let timeouts = withDefaultsOf.get(conf);
  if (!timeouts) withDefaultsOf.set(conf, (timeouts = computeDefaults(conf)));
  return timeouts;
}

function computeDefaults(conf: MeshTimeoutConf | undefined): Timeouts {
  return {
    connectTimeoutMs: ms(conf?.connectionTimeout, DEFAULTS.connectTimeoutMs),
    idleTimeoutMs: ms(conf?.idleTimeout, DEFAULTS.idleTimeoutMs),
    requestTimeoutMs: ms(conf?.http?.requestTimeout, DEFAULTS.requestTimeoutMs),
    streamIdleTimeoutMs: ms(conf?.http?.streamIdleTimeout, DEFAULTS.streamIdleTimeoutMs),
  };
}

/** Timeouts of one inbound; undefined when no MeshTimeout selects it or only matched rules do. */
export function inboundTimeouts(policies: readonly Resource[], dp: Resource, inbound: InboundView): Timeouts | undefined {
  const rules = matchPolicies<MeshTimeoutConf>(inboundViewOf(dp, inbound), policies, 'MeshTimeout').inbounds[0];
  if (!rules || rules.policies.length === 0) return undefined;
  // As Kuma: the catch-all conf applies when there are no rules or at least one catch-all rule.
  const catchAll = rules.rules.length === 0 || rules.rules.some((r) => !r.match);
  return catchAll ? withDefaults(rules.conf) : undefined;
}

/** Per-proxy outbound resolver: the timeouts of each destination the proxy sends to. */
export function outboundTimeouts(policies: readonly Resource[], dp: Resource): (destination: DestinationView) => Timeouts {
  // The whole proxy: a top-level MeshService, MeshSubset or Dataplane targetRef selects it by its inbounds.
  const to = matchPolicies<MeshTimeoutConf>(selectionViewOf(dp), policies, 'MeshTimeout').to;
  return (destination) => {
    const merged = outboundConf(to, destination);
    return merged.origins.length ? withDefaults(merged.conf) : NO_POLICY_OUTBOUND;
  };
}

/**
 * Timeouts of one SNI filter chain of a zone-proxy listener (catch-all rules merged with the rules
 * matching that SNI); undefined when no MeshTimeout says anything about it.
 */
export function zoneProxyTimeouts(policies: readonly Resource[], dp: Resource, listener: { type: ListenerType; name: string; port: number }, sni: string): Timeouts | undefined {
  const conf = matchPolicies<MeshTimeoutConf>(zoneListenerViewOf(dp, listener, sni), policies, 'MeshTimeout').listeners[0]?.bySni[sni];
  return conf ? withDefaults(conf) : undefined;
}
