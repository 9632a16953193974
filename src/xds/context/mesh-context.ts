// MeshContext: everything generation needs to know about one mesh, computed once per change of the
// mesh and shared by all of its proxies. Endpoint sets are hashed per service so a proxy is only
// regenerated when something it actually uses changed.
import crypto from 'node:crypto';
import type { Resource } from '../../api/resource.js';

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

export function buildMeshContext(mesh: Resource, dataplanes: Resource[], trafficPermissions: Resource[] = []): MeshContext {
  const services = new Map<string, { protocols: Set<string>; endpoints: ServiceEndpoint[] }>();
  for (const dp of dataplanes) {
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
    infos.set(name, { name, protocol, endpoints, hash: hashOf([protocol, endpoints]) });
  }
  return {
    mesh,
    meshHash: hashOf(mesh.spec),
    dataplanes: new Map(dataplanes.map((dp) => [dp.name, dp])),
    services: infos,
    trafficPermissions,
    policiesHash: hashOf(trafficPermissions.map((p) => [p.name, p.version, p.spec])),
  };
}

/** What a proxy's config depends on: its own Dataplane, the mesh, and the services it reaches. */
export function proxyInputHash(ctx: MeshContext, dp: Resource, identityVersion = ''): string {
  const outbound = (networkingOf(dp).outbound ?? []).map((o) => ctx.services.get(o.tags?.['kuma.io/service'] ?? '')?.hash ?? '-');
  return hashOf([ctx.meshHash, ctx.policiesHash, dp.version, dp.modificationTime, dp.spec, outbound, identityVersion]);
}
