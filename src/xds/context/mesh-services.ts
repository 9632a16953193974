// MeshService and MeshMultiZoneService destinations of a mesh, one per (resource, port), in the same
// shape as legacy `kuma.io/service` destinations (ServiceInfo) so the generators treat both alike.
// What differs: the key (a stable cluster name), the SNI (fixed by the resource's KRI, SKEIN-SPEC §2)
// and the SANs a client accepts (the resource's identities).
//
//   local MeshService (zone label empty or this CP's zone): the inbounds of the Dataplanes it selects
//     whose port (or name) is the port's targetPort;
//   remote MeshService: the mesh's zone ingresses of its zone (mTLS only; the ingress routes on SNI);
//   MeshMultiZoneService: the union of its matched MeshServices' endpoints for the same port.
import type { Resource } from '../../api/resource.js';
import { destinationSni } from '../../api/sni.js';
import { destinationVip, portSection, type MeshServicePort, type MeshServiceSpec } from '../../api/kinds/mesh-service.js';
import { multiZonePortSection, type MeshMultiZoneServiceSpec } from '../../api/kinds/mesh-multizone-service.js';
import { isZoneProxy } from '../../api/zone-proxy.js';
import { DISPLAY_NAME_LABEL, NAMESPACE_LABEL, ZONE_LABEL } from '../../api/well-known.js';
import type { ServiceEndpoint } from './mesh-context.js';

export type MeshServicesMode = 'Disabled' | 'Everywhere' | 'ReachableBackends' | 'Exclusive';

export function meshServicesMode(mesh: Resource): MeshServicesMode {
  return ((mesh.spec['meshServices'] as { mode?: MeshServicesMode } | undefined)?.mode) ?? 'Disabled';
}

/** One port of a MeshService / MeshMultiZoneService as the generators use it. */
export interface DestinationPort {
  /** Stable cluster name (Kuma 2.x: `<mesh>_<name>_<namespace>_<zone>_<msvc|mzsvc>_<port>`). */
  key: string;
  kind: 'MeshService' | 'MeshMultiZoneService';
  resource: string;
  port: number;
  protocol: string;
  sni: string;
  /** SPIFFE IDs accepted from the endpoints. */
  sans: string[];
  /** Where a transparent proxy's outbound listener for it sits (the resource's VIP). */
  vip: string;
  endpoints: ServiceEndpoint[];
  /** Real inbounds in this CP's zone (what a local zone ingress forwards to). */
  inbounds: ServiceEndpoint[];
}

export function destinationClusterName(res: Resource, short: 'msvc' | 'mzsvc', port: number): string {
  const l = res.labels;
  return `${res.mesh}_${l[DISPLAY_NAME_LABEL] ?? res.name}_${l[NAMESPACE_LABEL] ?? ''}_${l[ZONE_LABEL] ?? ''}_${short}_${port}`;
}

function subset(want: Record<string, string>, have: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

/** Labels a MeshMultiZoneService selects on: display name defaults to the name. */
function matchableLabels(ms: Resource): Record<string, string> {
  return { [DISPLAY_NAME_LABEL]: ms.name, ...ms.labels };
}

function identitiesOf(ms: Resource, endpoints: ServiceEndpoint[]): string[] {
  const ids = ((ms.spec as MeshServiceSpec).identities ?? []).flatMap((id) => {
    if (!id.value) return [];
    return id.type === 'SpiffeID' ? [id.value] : [`spiffe://${ms.mesh}/${id.value}`];
  });
  if (ids.length) return [...new Set(ids)].sort();
  // No identities: whatever the selected inbounds serve.
  return [...new Set(endpoints.map((e) => e.tags['kuma.io/service']).filter(Boolean).map((s) => `spiffe://${ms.mesh}/${s}`))].sort();
}

function isLocal(zone: string, localZone: string): boolean {
  return zone === '' || zone === localZone;
}

/** The inbounds of local Dataplanes a MeshService port selects. */
function selectedInbounds(ms: Resource, port: MeshServicePort, dataplanes: Resource[], localZone: string): ServiceEndpoint[] {
  const selector = (ms.spec as MeshServiceSpec).selector ?? {};
  const target = port.targetPort ?? port.port;
  const out: ServiceEndpoint[] = [];
  for (const dp of dataplanes) {
    if (isZoneProxy(dp)) continue;
    if (selector.dataplaneRef?.name) {
      if (dp.name !== selector.dataplaneRef.name) continue;
    } else if (!selector.dataplaneTags) continue;
    const net = (dp.spec['networking'] ?? {}) as { address?: string; advertisedAddress?: string; inbound?: { port: number; name?: string; address?: string; tags?: Record<string, string>; health?: { ready?: boolean }; state?: string }[] };
    for (const inbound of net.inbound ?? []) {
      const tags = inbound.tags ?? {};
      const zone = tags[ZONE_LABEL] ?? dp.labels[ZONE_LABEL] ?? '';
      if (!isLocal(zone, localZone)) continue;
      if (selector.dataplaneTags && !subset(selector.dataplaneTags, tags)) continue;
      if (typeof target === 'number' ? inbound.port !== target : inbound.name !== target) continue;
      out.push({
        address: inbound.address ?? net.advertisedAddress ?? net.address ?? '',
        port: inbound.port,
        zone,
        healthy: inbound.health?.ready !== false && inbound.state !== 'NotReady',
        dataplane: dp.name,
        tags,
      });
    }
  }
  return out.sort((a, b) => (a.dataplane < b.dataplane ? -1 : a.dataplane > b.dataplane ? 1 : a.port - b.port));
}

export interface DestinationInputs {
  mesh: string;
  localZone: string;
  mtls: boolean;
  dataplanes: Resource[];
  meshServices: Resource[];
  multiZoneServices: Resource[];
  /** The mesh's zone ingresses per zone (where other zones are reached). */
  ingresses: Map<string, ServiceEndpoint[]>;
}

export function buildDestinations(input: DestinationInputs): DestinationPort[] {
  const out: DestinationPort[] = [];
  const byMs = new Map<Resource, Map<number, DestinationPort>>();
  for (const ms of input.meshServices) {
    const zone = ms.labels[ZONE_LABEL] ?? '';
    const ports = new Map<number, DestinationPort>();
    byMs.set(ms, ports);
    for (const p of (ms.spec as MeshServiceSpec).ports ?? []) {
      if (!p.port) continue;
      const sni = destinationSni(ms, portSection(p));
      if (!sni) continue; // no valid KRI, no cluster (as Kuma)
      const local = isLocal(zone, input.localZone);
      const inbounds = local ? selectedInbounds(ms, p, input.dataplanes, input.localZone) : [];
      const remote = !local && input.mtls ? (input.ingresses.get(zone) ?? []).map((e) => ({ ...e, tags: { 'kuma.io/service': ms.labels[DISPLAY_NAME_LABEL] ?? ms.name, 'kuma.io/zone': zone } })) : [];
      const dest: DestinationPort = {
        key: destinationClusterName(ms, 'msvc', p.port),
        kind: 'MeshService',
        resource: ms.name,
        port: p.port,
        protocol: p.appProtocol ?? 'tcp',
        sni,
        sans: identitiesOf(ms, inbounds),
        vip: destinationVip(ms),
        endpoints: local ? inbounds : remote,
        inbounds,
      };
      ports.set(p.port, dest);
      out.push(dest);
    }
  }
  for (const mzs of input.multiZoneServices) {
    const spec = mzs.spec as MeshMultiZoneServiceSpec;
    const want = spec.selector?.meshService?.matchLabels ?? {};
    if (Object.keys(want).length === 0) continue;
    const matched = input.meshServices.filter((ms) => subset(want, matchableLabels(ms)));
    for (const p of spec.ports ?? []) {
      if (!p.port) continue;
      const sni = destinationSni(mzs, multiZonePortSection(p));
      if (!sni) continue;
      const parts = matched.map((ms) => byMs.get(ms)?.get(p.port!)).filter((d): d is DestinationPort => d !== undefined);
      const endpoints: ServiceEndpoint[] = [];
      for (const e of parts.flatMap((d) => d.endpoints)) {
        if (!endpoints.some((x) => x.address === e.address && x.port === e.port && x.zone === e.zone)) endpoints.push(e);
      }
      out.push({
        key: destinationClusterName(mzs, 'mzsvc', p.port),
        kind: 'MeshMultiZoneService',
        resource: mzs.name,
        port: p.port,
        protocol: p.appProtocol ?? 'tcp',
        sni,
        sans: [...new Set(parts.flatMap((d) => d.sans))].sort(),
        vip: destinationVip(mzs),
        endpoints,
        inbounds: parts.flatMap((d) => d.inbounds),
      });
    }
  }
  return out;
}
