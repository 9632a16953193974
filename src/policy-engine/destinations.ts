// Where a proxy sends traffic, as the engine names destinations, from the mesh's resources. The
// same rules as the xDS generator: a sidecar outbound's `kuma.io/service` is a mesh service when
// some Dataplane serves it, else the MeshExternalService of that name; a zone egress reaches every
// MeshExternalService of the mesh (one SNI each); a zone ingress serves, by SNI, every service with
// an endpoint in its zone (SNI port = the service's lowest inbound port across zones).
import type { DataplaneSpec } from '../api/kinds/dataplane-spec.js';
import type { MeshExternalServiceSpec } from '../api/kinds/mesh-external-service.js';
import { destinationSni } from '../api/sni.js';
import type { Resource } from '../api/resource.js';
import { ZONE_LABEL } from '../api/well-known.js';
import { effectiveListeners, isZoneProxy } from '../api/zone-proxy.js';
import type { DestinationView, ProxyViewExtras } from './proxy-view.js';

export interface MeshResources {
  dataplanes: readonly Resource[];
  externalServices: readonly Resource[];
  /** This control plane's zone ('' when not a zone). */
  zone?: string;
}

function inboundsOf(dp: Resource): { service: string; port: number }[] {
  return ((dp.spec as DataplaneSpec).networking?.inbound ?? [])
    .filter((i) => i.tags?.['kuma.io/service'])
    .map((i) => ({ service: i.tags!['kuma.io/service']!, port: i.port ?? 0 }));
}

function externalDestination(mesh: string, es: Resource): DestinationView {
  const port = (es.spec as MeshExternalServiceSpec).match?.port;
  return {
    kind: 'MeshExternalService',
    name: es.name,
    ...(port ? { port } : {}),
    labels: es.labels,
    ...(port && destinationSni(es, port) ? { sni: destinationSni(es, port) } : {}),
  };
}

/** Destinations (and zone-proxy listener SNIs) of a Dataplane, for `proxyViewOf(dp, extras)`. */
export function destinationsOf(dp: Resource, mesh: MeshResources): ProxyViewExtras {
  const externals = new Map(mesh.externalServices.filter((e) => e.mesh === dp.mesh).map((e) => [e.name, e]));
  // Per service: its lowest inbound port across zones (the SNI port) and whether it has a local endpoint.
  const lowestPort = new Map<string, number>();
  const local = new Set<string>();
  for (const d of mesh.dataplanes) {
    if (d.mesh !== dp.mesh || isZoneProxy(d)) continue;
    const zone = d.labels[ZONE_LABEL];
    for (const { service, port } of inboundsOf(d)) {
      lowestPort.set(service, Math.min(lowestPort.get(service) ?? port, port));
      if (!zone || !mesh.zone || zone === mesh.zone) local.add(service);
    }
  }
  const serviceSni = (service: string) => `sni.msvc.${dp.mesh}.${service}.${lowestPort.get(service)}`;

  if (!isZoneProxy(dp)) {
    const outbounds: DestinationView[] = [];
    for (const o of (dp.spec as DataplaneSpec).networking?.outbound ?? []) {
      const ref = o.backendRef;
      const service = o.tags?.['kuma.io/service'];
      if (ref?.kind && ref.name) {
        const es = ref.kind === 'MeshExternalService' ? externals.get(ref.name) : undefined;
        outbounds.push(es ? externalDestination(dp.mesh, es) : { kind: ref.kind as DestinationView['kind'], name: ref.name, ...(ref.port ? { port: ref.port } : {}) });
      } else if (service) {
        const es = lowestPort.has(service) ? undefined : externals.get(service);
        outbounds.push(es ? externalDestination(dp.mesh, es) : { kind: 'MeshService', name: service, ...(lowestPort.has(service) ? { sni: serviceSni(service) } : {}) });
      }
    }
    return { outbounds };
  }

  // Zone proxy: egress destinations are the mesh's external services; ingress ones are SNIs only.
  const listeners = effectiveListeners(dp);
  const egress = [...externals.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((es) => externalDestination(dp.mesh, es));
  const ingressSnis = [...local].sort().map(serviceSni);
  const listenerSnis: Record<string, string[]> = {};
  for (const l of listeners) listenerSnis[l.name] = l.type === 'ZoneEgress' ? egress.flatMap((d) => (d.sni ? [d.sni] : [])) : ingressSnis;
  return { outbounds: listeners.some((l) => l.type === 'ZoneEgress') ? egress : [], listenerSnis };
}
