// The proxy as a plugin asks the engine about it: reduced to the one inbound being generated (so
// the engine's answer is that inbound's), or to no inbound at all (for `to[]`).
import type { Resource } from '../../api/resource.js';
import type { ListenerType } from '../../api/well-known.js';
import { proxyViewOf, type InboundView, type ProxyView } from '../../policy-engine/index.js';

export function inboundViewOf(dp: Resource, inbound?: InboundView): ProxyView {
  return { ...proxyViewOf(dp), inbounds: inbound ? [inbound] : [], listeners: [], outbounds: [] };
}

/** A zone proxy reduced to one of its listeners, serving one SNI (one filter chain). */
export function zoneListenerViewOf(dp: Resource, listener: { type: ListenerType; name: string; port: number }, sni: string): ProxyView {
  return { ...proxyViewOf(dp), inbounds: [], listeners: [{ type: listener.type, name: listener.name, port: listener.port, snis: [sni] }], outbounds: [] };
}

/**
 * The proxy as whole-proxy and `to[]` questions need it: everything a top-level targetRef selects
 * by (inbounds, listeners, labels), without its outbounds, which only per-destination answers use.
 * Proxies alike in those respects share the engine's answer (see policy-index.ts).
 */
export function selectionViewOf(dp: Resource): ProxyView {
  return { ...proxyViewOf(dp), outbounds: [] };
}
