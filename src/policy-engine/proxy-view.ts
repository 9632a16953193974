// What the engine needs to know about one proxy: its identity (name, labels), its inbounds, its
// zone-proxy listeners and the destinations it sends to. Built from a Dataplane resource; the xDS
// generator may add the destinations (and listener SNIs) it computes from the mesh.
import type { DataplaneSpec } from '../api/kinds/dataplane-spec.js';
import type { Labels, Resource } from '../api/resource.js';
import { DISPLAY_NAME_LABEL, NAMESPACE_LABEL, type ListenerType } from '../api/well-known.js';
import { effectiveListeners, isZoneProxy } from '../api/zone-proxy.js';
import type { ProxyType } from './target-ref.js';

export interface InboundView {
  /** Inbound `name`; its section name is this, else the port as a string. */
  name?: string;
  port: number;
  address?: string;
  tags: Labels;
}

export interface ListenerView {
  type: ListenerType;
  /** Section name: the listener name, else its port as a string. */
  name: string;
  port: number;
  address?: string;
  /** SNIs the listener serves (one filter chain each); keys of `bySni` in the rules. */
  snis?: string[];
}

export type DestinationKind = 'MeshService' | 'MeshExternalService' | 'MeshMultiZoneService';

/**
 * A destination the proxy sends to. A `kuma.io/service` outbound is a MeshService destination named
 * by the service; `port` is the destination port (MeshService `sectionName` matches the port name
 * or its number).
 */
export interface DestinationView {
  kind: DestinationKind;
  name: string;
  port?: number;
  portName?: string;
  /** Labels of the destination resource, for label-based `to` targetRefs. */
  labels?: Labels;
  sni?: string;
}

export interface ProxyView {
  mesh: string;
  name: string;
  labels: Labels;
  /** `Gateway` iff `networking.gateway` is set; everything else (zone proxies too) is `Sidecar`. */
  proxyType: ProxyType;
  /** Builtin gateway: never selected by `kind: Dataplane`. */
  builtinGateway: boolean;
  /** `networking.gateway.tags` of a gateway (matched by MeshSubset / MeshService). */
  gatewayTags?: Labels;
  zoneProxy: boolean;
  inbounds: InboundView[];
  listeners: ListenerView[];
  outbounds: DestinationView[];
}

export function sectionOf(item: { name?: string; port: number }): string {
  return item.name || String(item.port);
}

/** Key of a destination in the outbound rules: `<kind>/<name>[:<port>]`. */
export function destinationKey(d: DestinationView): string {
  return `${d.kind}/${d.name}${d.port ? `:${d.port}` : ''}`;
}

export interface ProxyViewExtras {
  /** Destinations to use instead of the Dataplane's declared outbounds. */
  outbounds?: DestinationView[];
  /** SNIs per listener section name. */
  listenerSnis?: Record<string, string[]>;
}

/** The engine's view of a Dataplane (sidecar, gateway or zone proxy). */
export function proxyViewOf(dp: Resource, extras: ProxyViewExtras = {}): ProxyView {
  const networking = (dp.spec as DataplaneSpec).networking ?? {};
  const inbounds: InboundView[] = (networking.inbound ?? []).map((i) => ({
    ...(i.name ? { name: i.name } : {}),
    port: i.port ?? 0,
    ...(i.address || networking.address ? { address: i.address || networking.address } : {}),
    tags: { ...(i.tags ?? {}) },
  }));
  const listeners: ListenerView[] = effectiveListeners(dp).map((l) => ({
    type: l.type,
    name: l.name,
    port: l.port,
    ...(l.address ? { address: l.address } : {}),
    ...(extras.listenerSnis?.[l.name] ? { snis: extras.listenerSnis[l.name] } : {}),
  }));
  const declared: DestinationView[] = [];
  for (const o of networking.outbound ?? []) {
    const ref = o.backendRef;
    if (ref?.kind && ref.name) {
      declared.push({ kind: ref.kind as DestinationKind, name: ref.name, ...(ref.port ? { port: ref.port } : {}) });
    } else if (o.tags?.['kuma.io/service']) {
      // The outbound's port is the local listener's, not the destination's: no section to match.
      declared.push({ kind: 'MeshService', name: o.tags['kuma.io/service'] });
    }
  }
  return {
    mesh: dp.mesh,
    name: dp.name,
    labels: { ...dp.labels },
    proxyType: networking.gateway ? 'Gateway' : 'Sidecar',
    builtinGateway: networking.gateway?.type === 'BUILTIN',
    ...(networking.gateway ? { gatewayTags: { ...(networking.gateway.tags ?? {}) } } : {}),
    zoneProxy: isZoneProxy(dp),
    inbounds,
    listeners,
    outbounds: extras.outbounds ?? declared,
  };
}

/** The proxy's display name (the `kuma.io/display-name` label of synced resources, else its name). */
export function displayName(r: { name: string; labels: Labels }): string {
  return r.labels[DISPLAY_NAME_LABEL] ?? r.name;
}

export function namespaceOf(r: { labels: Labels }): string | undefined {
  return r.labels[NAMESPACE_LABEL];
}
