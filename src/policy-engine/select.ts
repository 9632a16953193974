// Which parts of a proxy a targetRef selects, and in which order matching policies apply.
import type { Labels, Resource } from '../api/resource.js';
import { ORIGIN_LABEL, ZONE_LABEL } from '../api/well-known.js';
import { displayName, namespaceOf, sectionOf, type DestinationView, type InboundView, type ListenerView, type ProxyView } from './proxy-view.js';
import type { TargetRef } from './target-ref.js';

export interface Selection {
  /** The policy applies to the proxy at all (proxy-wide confs, `to` rules). */
  proxy: boolean;
  inbounds: InboundView[];
  listeners: ListenerView[];
}

const NOTHING: Selection = { proxy: false, inbounds: [], listeners: [] };

export function isSubset(want: Labels | undefined, have: Labels): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => have[k] === v);
}

function admitsProxyType(ref: TargetRef, view: ProxyView): boolean {
  return !ref.proxyTypes?.length || ref.proxyTypes.includes(view.proxyType);
}

/**
 * What a top-level targetRef selects on a proxy (Kuma 2.14 `matchers/dataplane.go`):
 * - Mesh: everything, if `proxyTypes` admits the proxy (zone proxies are `Sidecar`);
 * - Dataplane: by name (or display name), labels, or all; `sectionName` narrows to one inbound or
 *   zone-proxy listener (its name, else its port); never a builtin gateway;
 * - MeshSubset / MeshService / MeshServiceSubset: inbounds by tags (a gateway by its gateway tags),
 *   never zone-proxy listeners;
 * - MeshGateway, MeshHTTPRoute (kinds Skein has no resource for): nothing.
 * Mesh and Dataplane without sectionName select the proxy even when it has no inbound.
 */
export function selectProxy(ref: TargetRef, view: ProxyView): Selection {
  switch (ref.kind) {
    case 'Mesh':
      if (!admitsProxyType(ref, view)) return NOTHING;
      return { proxy: true, inbounds: view.inbounds, listeners: view.listeners };
    case 'Dataplane': {
      if (view.builtinGateway) return NOTHING;
      if (ref.name !== undefined && ref.name !== view.name && ref.name !== displayName(view)) return NOTHING;
      if (ref.namespace !== undefined && ref.namespace !== namespaceOf(view)) return NOTHING;
      if (!isSubset(ref.labels, view.labels)) return NOTHING;
      if (ref.sectionName === undefined) return { proxy: true, inbounds: view.inbounds, listeners: view.listeners };
      const inbounds = view.inbounds.filter((i) => sectionOf(i) === ref.sectionName);
      const listeners = view.listeners.filter((l) => sectionOf(l) === ref.sectionName);
      return { proxy: inbounds.length + listeners.length > 0, inbounds, listeners };
    }
    case 'MeshSubset':
    case 'MeshService':
    case 'MeshServiceSubset': {
      if (ref.kind === 'MeshSubset' && !admitsProxyType(ref, view)) return NOTHING;
      const want: Labels = { ...(ref.kind !== 'MeshService' ? ref.tags : {}), ...(ref.kind !== 'MeshSubset' ? { 'kuma.io/service': ref.name ?? '' } : {}) };
      const inbounds = view.inbounds.filter((i) => isSubset(want, i.tags));
      const gateway = view.gatewayTags !== undefined && isSubset(want, view.gatewayTags);
      return { proxy: inbounds.length > 0 || gateway, inbounds, listeners: [] };
    }
    default:
      return NOTHING;
  }
}

/**
 * Kuma's zone gate: a policy created in a zone (`kuma.io/origin: zone` with a `kuma.io/zone`) only
 * selects proxies of that zone (or without a zone label), wherever it was synced to.
 */
export function zoneAllows(policy: Resource, view: ProxyView): boolean {
  const zone = policy.labels[ZONE_LABEL];
  if (policy.labels[ORIGIN_LABEL] !== 'zone' || !zone) return true;
  const proxyZone = view.labels[ZONE_LABEL];
  return !proxyZone || proxyZone === zone;
}

/**
 * True when a `to` targetRef names this destination: Mesh names all; MeshService /
 * MeshExternalService / MeshMultiZoneService by name or labels (a `kuma.io/service` outbound is a
 * MeshService by service name); MeshService `sectionName` is the port name or number.
 */
export function selectsDestination(ref: TargetRef, dest: DestinationView): boolean {
  if (ref.kind === 'Mesh') return true;
  if (ref.kind !== dest.kind) return false;
  if (ref.name !== undefined && ref.name !== dest.name) return false;
  if (ref.labels !== undefined && !isSubset(ref.labels, dest.labels ?? {})) return false;
  if (ref.name === undefined && ref.labels === undefined) return false;
  if (ref.sectionName !== undefined) return ref.sectionName === dest.portName || ref.sectionName === String(dest.port ?? '');
  return true;
}

// Ranks of top-level kinds, least specific first: Mesh < MeshSubset < MeshService <
// MeshServiceSubset < Dataplane by labels < Dataplane by name; a sectionName adds one.
const TOP_RANK: Record<string, number> = {
  Mesh: 0,
  MeshSubset: 10,
  MeshGateway: 15,
  MeshService: 20,
  MeshServiceSubset: 30,
  MeshHTTPRoute: 35,
  Dataplane: 40,
};

export function topLevelRank(ref: TargetRef): number {
  let rank = TOP_RANK[ref.kind ?? 'Mesh'] ?? 0;
  if (ref.kind === 'Dataplane' && ref.name !== undefined) rank += 5;
  if (ref.sectionName !== undefined) rank += 1;
  return rank;
}

// `to` kinds, least specific first (Kuma: Mesh < MeshService < MES < MMZS < MeshHTTPRoute).
const TO_RANK: Record<string, number> = { Mesh: 0, MeshService: 1, MeshExternalService: 2, MeshMultiZoneService: 3, MeshHTTPRoute: 4 };

export function toRank(ref: TargetRef): number {
  return (TO_RANK[ref.kind ?? 'Mesh'] ?? 0) * 2 + (ref.kind === 'MeshService' && ref.sectionName !== undefined ? 1 : 0);
}

/** global < unset < zone: a policy created in the zone overrides one from global. */
export function originRank(p: Resource): number {
  const origin = p.labels[ORIGIN_LABEL];
  return origin === 'global' ? 0 : origin === 'zone' ? 2 : 1;
}

export function topLevelRef(p: Resource): TargetRef {
  return ((p.spec as { targetRef?: TargetRef }).targetRef ?? { kind: 'Mesh' }) as TargetRef;
}

/**
 * Policy order, least specific first (later entries win merges): top-level targetRef rank, then
 * origin, then display name descending, so that among equals the name sorting first wins (Kuma).
 * `extra` slots in a comparison before the name (the `to` kind order).
 */
export function comparePolicies(a: Resource, b: Resource): number {
  return topLevelRank(topLevelRef(a)) - topLevelRank(topLevelRef(b)) || originRank(a) - originRank(b) || compareNamesDescending(a, b);
}

export function compareNamesDescending(a: Resource, b: Resource): number {
  const an = displayName(a);
  const bn = displayName(b);
  return an < bn ? 1 : an > bn ? -1 : 0;
}

export function sortPolicies(policies: readonly Resource[]): Resource[] {
  return [...policies].sort(comparePolicies);
}
