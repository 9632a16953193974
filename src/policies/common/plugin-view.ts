// The proxy as a plugin asks the engine about it: reduced to the one inbound being generated (so
// the engine's answer is that inbound's), or to no inbound at all (for `to[]`).
import type { Resource } from '../../api/resource.js';
import { proxyViewOf, type InboundView, type ProxyView } from '../../policy-engine/index.js';

export function inboundViewOf(dp: Resource, inbound?: InboundView): ProxyView {
  return { ...proxyViewOf(dp), inbounds: inbound ? [inbound] : [], listeners: [], outbounds: [] };
}
