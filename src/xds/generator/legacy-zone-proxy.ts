// Envoy v3 resources for the legacy global-scoped zone proxies (Kuma 2.x ZoneIngress / ZoneEgress,
// kept for migration, SKEIN-SPEC §2). Unlike a mesh-scoped zone proxy, one legacy proxy serves EVERY
// mesh, so it is generated from all the meshes' contexts at once:
//
// ZoneIngress: one listener at networking.address:port with the TLS inspector and, per mTLS mesh,
//   one filter chain per destination that has endpoints in the ingress's zone (the same SNIs as
//   a mesh-scoped ingress: `sni.msvc.<mesh>.<service>.<port>` and the MeshService /
//   MeshMultiZoneService KRI SNIs, which all name the mesh, so meshes never share a chain). TLS
//   passthrough to the EDS cluster `<mesh>:ingress:<service>` (mesh-prefixed: service names may
//   repeat across meshes).
// ZoneEgress: one listener at networking.address:port; per mTLS mesh, one chain per
//   MeshExternalService that terminates mTLS with THAT mesh's certificate for the egress (SPIFFE ID
//   `spiffe://<mesh>/legacy/zone-egress`: no service tag (no "/") nor
//   workload label yields it; sidecars accept it, see egressSpiffeIds), network RBAC from
//   the mesh's MeshTrafficPermissions (deny unless a `rules[]` entry allows, as the mesh-scoped
//   egress) and a tcp_proxy to `<mesh>:egress:<name>`; with the mesh's `routing.zoneEgress`, TLS
//   passthrough chains toward the other zones' ingresses (`<mesh>:egress-zone:<service>`).
//   MeshTrafficPermissions of the mesh select a legacy egress as if it were a Dataplane named after
//   the ZoneEgress with its labels plus `kuma.io/proxy-type: zoneegress` and
//   `kuma.io/zone-proxy-role: egress` (so a policy written for the mesh-scoped egress carries over
//   during migration), `sectionName` = its port: see legacyEgressAsDataplane.
import type { Resource } from '../../api/resource.js';
import { cachedResource, type CachedResource } from '../cache/snapshot.js';
import { endpointsInZone, type MeshContext } from '../context/mesh-context.js';
import {
  certificateSecret,
  clusterLoadAssignment,
  clusterLoadAssignmentResource,
  clusterResource,
  downstreamMtls,
  edsCluster,
  externalServiceTls,
  filterChain,
  listener,
  listenerResource,
  networkRbacFilter,
  staticCluster,
  tcpProxyFilter,
  tlsInspector,
  validationSecret,
  type FilterChain,
} from '../envoy/index.js';
import { egressPermissions } from '../../policies/index.js';
import { caSecretName, identitySecretName, localitiesOf, shared, type ProxyIdentity } from './sidecar.js';
import { crossZoneDestinations, ingressDestinations } from './zone-proxy.js';

export interface LegacyNetworking {
  address?: string;
  port?: number;
  advertisedAddress?: string;
  advertisedPort?: number;
}

export const LEGACY_INGRESS_DEFAULT_PORT = 10001;
export const LEGACY_EGRESS_DEFAULT_PORT = 10002;

export function legacyNetworking(r: Resource): LegacyNetworking {
  return (r.spec['networking'] ?? {}) as LegacyNetworking;
}

/** The zone a legacy proxy serves: `zone` (set by the CP it registered with), else its zone label. */
export function legacyZoneOf(r: Resource): string {
  return String(r.spec['zone'] ?? '') || r.labels['kuma.io/zone'] || '';
}

/** SPIFFE ID of the legacy ZoneEgress in a mesh: what it presents to that mesh's sidecars. */
export function legacyEgressSpiffeId(mesh: string): string {
  return `spiffe://${mesh}/legacy/zone-egress`;
}

export function legacyIngressListenerName(r: Resource): string {
  return `zoneingress:${r.name}`;
}

export function legacyEgressListenerName(r: Resource): string {
  return `zoneegress:${r.name}`;
}

export function legacyIngressClusterName(mesh: string, service: string): string {
  return `${mesh}:ingress:${service}`;
}

export function legacyEgressClusterName(mesh: string, name: string): string {
  return `${mesh}:egress:${name}`;
}

export function legacyEgressZoneClusterName(mesh: string, service: string): string {
  return `${mesh}:egress-zone:${service}`;
}

function mtlsOn(ctx: MeshContext): boolean {
  return Boolean((ctx.mesh.spec['mtls'] as { enabledBackend?: string } | undefined)?.enabledBackend);
}

function statName(...parts: string[]): string {
  return parts.join('_').replace(/[:.]/g, '_');
}

/**
 * A legacy ZoneIngress's resources for all meshes. `contexts` are the meshes' contexts built by
 * this CP; a mesh without mTLS has no cross-zone traffic (sidecars do not route through ingresses).
 */
export function generateLegacyZoneIngress(zi: Resource, contexts: MeshContext[], cpZone: string): CachedResource[] {
  const net = legacyNetworking(zi);
  const zone = legacyZoneOf(zi) || cpZone;
  const out: CachedResource[] = [];
  const chains: FilterChain[] = [];
  const seen = new Set<string>();
  const listenerName = legacyIngressListenerName(zi);
  for (const ctx of [...contexts].sort((a, b) => (a.mesh.name < b.mesh.name ? -1 : 1))) {
    if (!mtlsOn(ctx)) continue;
    const mesh = ctx.mesh.name;
    for (const { service, sni } of ingressDestinations(ctx, zone)) {
      if (seen.has(sni)) continue;
      seen.add(sni);
      const cluster = legacyIngressClusterName(mesh, service);
      out.push(shared(ctx, ['legacy-ingress-cluster', cluster], () => clusterResource(edsCluster({ name: cluster }))));
      out.push(shared(ctx, ['legacy-ingress-cla', cluster, zone, ctx.services.get(service)?.hash], () =>
        clusterLoadAssignmentResource(clusterLoadAssignment(cluster, localitiesOf(ctx, service, endpointsInZone(ctx, service, zone)))),
      ));
      chains.push(filterChain({ name: sni, match: { transportProtocol: 'tls', serverNames: [sni] }, filters: [tcpProxyFilter({ statPrefix: statName(listenerName, cluster), cluster })] }));
    }
  }
  // No destination, no listener (as a mesh-scoped ingress): nothing to bind for.
  if (chains.length > 0) {
    out.push(cachedResource(listenerResource(listener({
      name: listenerName,
      address: net.address ?? '',
      port: net.port || LEGACY_INGRESS_DEFAULT_PORT,
      trafficDirection: 'INBOUND',
      listenerFilters: [tlsInspector()],
      filterChains: chains,
    }))));
  }
  return out;
}

/** How MeshTrafficPermissions see a legacy ZoneEgress (policies select Dataplanes). */
export function legacyEgressAsDataplane(ze: Resource, mesh: string): Resource {
  return { ...ze, type: 'Dataplane', mesh, labels: { ...ze.labels, 'kuma.io/proxy-type': 'zoneegress', 'kuma.io/zone-proxy-role': 'egress' } };
}

/**
 * A legacy ZoneEgress's resources for all meshes. `identities` holds, per mTLS mesh, the egress's
 * certificate from that mesh's CA; a mesh without one gets no chains (egress traffic is mTLS only).
 */
export function generateLegacyZoneEgress(ze: Resource, contexts: MeshContext[], identities: Map<string, ProxyIdentity>): CachedResource[] {
  const net = legacyNetworking(ze);
  const port = net.port || LEGACY_EGRESS_DEFAULT_PORT;
  const listenerName = legacyEgressListenerName(ze);
  const out: CachedResource[] = [];
  const chains: FilterChain[] = [];
  for (const ctx of [...contexts].sort((a, b) => (a.mesh.name < b.mesh.name ? -1 : 1))) {
    const mesh = ctx.mesh.name;
    const identity = identities.get(mesh);
    if (!mtlsOn(ctx) || !identity) continue;
    const externals = [...ctx.externalServices.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    const crossZone = (ctx.mesh.spec['routing'] as { zoneEgress?: boolean } | undefined)?.zoneEgress === true ? crossZoneDestinations(ctx) : [];
    if (externals.length + crossZone.length === 0) continue;
    out.push(cachedResource(certificateSecret(identitySecretName(mesh), identity.certPem, identity.keyPem)));
    out.push(cachedResource(validationSecret(caSecretName(mesh), identity.caPem)));
    const asDataplane = legacyEgressAsDataplane(ze, mesh);
    for (const e of externals) {
      const cluster = legacyEgressClusterName(mesh, e.name);
      out.push(shared(ctx, ['legacy-egress-cluster', cluster, e.endpoints, e.tls, e.tlsServerName, e.tlsOptions], () => {
        const c = staticCluster({ name: cluster, localities: [{ endpoints: e.endpoints.map((ep) => ({ address: ep.address, port: ep.port, weight: 1 })) }] });
        if (e.tls) c.transport_socket = externalServiceTls({ sni: e.tlsServerName, ...e.tlsOptions });
        return clusterResource(c);
      }));
      const statPrefix = statName(listenerName, cluster);
      const permissions = egressPermissions(ctx.trafficPermissions, asDataplane, { name: String(port), port }, e.sni);
      chains.push({
        ...filterChain({
          name: e.sni,
          match: { transportProtocol: 'tls', serverNames: [e.sni] },
          filters: [
            ...(permissions.deny ? [networkRbacFilter(`${statPrefix}.`, permissions.deny)] : []),
            networkRbacFilter(`${statPrefix}.`, permissions.allow),
            tcpProxyFilter({ statPrefix, cluster }),
          ],
        }),
        transport_socket: downstreamMtls({ identitySecret: identitySecretName(mesh), caSecret: caSecretName(mesh) }),
      });
    }
    for (const d of crossZone) {
      const cluster = legacyEgressZoneClusterName(mesh, d.service);
      out.push(shared(ctx, ['legacy-egress-zone-cluster', cluster, d.remote], () => clusterResource(staticCluster({ name: cluster, localities: localitiesOf(ctx, d.service, d.remote) }))));
      chains.push(filterChain({ name: d.sni, match: { transportProtocol: 'tls', serverNames: [d.sni] }, filters: [tcpProxyFilter({ statPrefix: statName(listenerName, cluster), cluster })] }));
    }
  }
  if (chains.length > 0) {
    out.push(cachedResource(listenerResource(listener({ name: listenerName, address: net.address ?? '', port, trafficDirection: 'OUTBOUND', listenerFilters: [tlsInspector()], filterChains: chains }))));
  }
  return out;
}
