// MeshContext: everything generation needs to know about one mesh, computed once per change of the
// mesh and shared by all of its proxies. Endpoint sets are hashed per service so a proxy is only
// regenerated when something it actually uses changed.
import crypto from 'node:crypto';
import type { Resource } from '../../api/resource.js';
import type { CachedResource } from '../cache/snapshot.js';

export interface ServiceEndpoint {
  address: string;
  port: number;
  zone: string;
  healthy: boolean;
  /** Name of the Dataplane that serves it. */
  dataplane: string;
  tags: Record<string, string>;
}

export interface ServiceInfo {
  name: string;
  /** `tcp` unless every instance agrees on another `kuma.io/protocol`. */
  protocol: string;
  endpoints: ServiceEndpoint[];
  /** Lowest endpoint port (0 when none): the port in the service's SNI. */
  lowestPort: number;
  /** Hash of the endpoint set and protocol; changes when a consumer's config must change. */
  hash: string;
}

export interface MeshContext {
  mesh: Resource;
  meshHash: string;
  dataplanes: Map<string, Resource>;
  services: Map<string, ServiceInfo>;
  trafficPermissions: Resource[];
  /** Changes when any policy of the mesh changes. */
  policiesHash: string;
  /**
   * Packed ClusterLoadAssignment per service, filled on first use by the generator and shared by
   * every proxy (an endpoint change is encoded once, not once per consumer).
   */
  loadAssignments: Map<string, CachedResource>;
  /** Packed resources many proxies have in common (e.g. a service's cluster), by content key. */
  sharedResources: Map<string, CachedResource>;
}

export interface Inbound {
  port: number;
  servicePort?: number;
  serviceAddress?: string;
  address?: string;
  tags?: Record<string, string>;
  health?: { ready?: boolean };
  state?: string;
}

export interface Outbound {
  address?: string;
  port: number;
  tags?: Record<string, string>;
}

export interface Networking {
  address: string;
  advertisedAddress?: string;
  inbound?: Inbound[];
  outbound?: Outbound[];
}

export function networkingOf(dp: Resource): Networking {
  return (dp.spec['networking'] ?? { address: '' }) as Networking;
}

export function hashOf(value: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 16);
}

/**
 * `previous` (the mesh's last context) lends its load assignments of services whose endpoints did
 * not change, so a rebuild re-encodes only what changed.
 */
export function buildMeshContext(mesh: Resource, dataplanes: Iterable<Resource>, trafficPermissions: Resource[] = [], previous?: MeshContext): MeshContext {
  const byName = new Map<string, Resource>();
  const services = new Map<string, { protocols: Set<string>; endpoints: ServiceEndpoint[] }>();
  for (const dp of dataplanes) {
    byName.set(dp.name, dp);
    const net = networkingOf(dp);
    for (const inbound of net.inbound ?? []) {
      const service = inbound.tags?.['kuma.io/service'];
      if (!service) continue;
      let entry = services.get(service);
      if (!entry) services.set(service, (entry = { protocols: new Set(), endpoints: [] }));
      entry.protocols.add(inbound.tags?.['kuma.io/protocol'] ?? 'tcp');
      entry.endpoints.push({
        address: inbound.address ?? net.advertisedAddress ?? net.address,
        port: inbound.port,
        zone: inbound.tags?.['kuma.io/zone'] ?? '',
        healthy: inbound.health?.ready !== false && inbound.state !== 'NotReady',
        dataplane: dp.name,
        tags: inbound.tags ?? {},
      });
    }
  }
  const infos = new Map<string, ServiceInfo>();
  for (const [name, { protocols, endpoints }] of services) {
    endpoints.sort((a, b) => (a.dataplane < b.dataplane ? -1 : a.dataplane > b.dataplane ? 1 : a.port - b.port));
    const protocol = protocols.size === 1 ? [...protocols][0]! : 'tcp';
    const lowestPort = endpoints.reduce((min, e) => Math.min(min, e.port), Infinity);
    infos.set(name, { name, protocol, endpoints, lowestPort: Number.isFinite(lowestPort) ? lowestPort : 0, hash: hashOf([protocol, endpoints]) });
  }
  const loadAssignments = new Map<string, CachedResource>();
  for (const [service, cla] of previous?.loadAssignments ?? []) {
    // Same hash (or unknown in both): same endpoints, same load assignment.
    if (previous!.services.get(service)?.hash === infos.get(service)?.hash) loadAssignments.set(service, cla);
  }
  return {
    mesh,
    meshHash: hashOf(mesh.spec),
    dataplanes: byName,
    services: infos,
    trafficPermissions,
    policiesHash: hashOf(trafficPermissions.map((p) => [p.name, p.version, p.spec])),
    loadAssignments,
    sharedResources: new Map(),
  };
}

/** Services whose info differs between two contexts of a mesh, including added and removed ones. */
export function changedServices(before: MeshContext, after: MeshContext): Set<string> {
  const changed = new Set<string>();
  for (const [name, info] of after.services) if (before.services.get(name)?.hash !== info.hash) changed.add(name);
  for (const name of before.services.keys()) if (!after.services.has(name)) changed.add(name);
  return changed;
}
