// MeshContext: everything generation needs to know about one mesh, computed once per change of the
// mesh and shared by all of its proxies. Endpoint sets are hashed per service so a proxy is only
// regenerated when something it actually uses changed.
import crypto from 'node:crypto';
import net from 'node:net';
import type { Resource } from '../../api/resource.js';
import type { CachedResource } from '../cache/snapshot.js';
import { effectiveListeners, isZoneProxy, zoneProxyRole } from '../../api/zone-proxy.js';
import { destinationSni } from '../../api/sni.js';
import type { DataSource, MeshExternalServiceSpec } from '../../api/kinds/mesh-external-service.js';
import { buildDestinations, meshServicesMode, type DestinationPort, type MeshServicesMode } from './mesh-services.js';

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
  /**
   * Lowest port of the service's real inbounds in any zone (0 when none): the port in the service's
   * SNI. Sidecars (any zone) and the zone ingress compute it from the same inbounds, so a client's
   * SNI matches the ingress filter chain.
   */
  lowestPort: number;
  /**
   * The real inbounds of the service in every zone. A zone ingress forwards to those of its own zone
   * (endpointsInZone); `endpoints` holds the local zone's plus, per remote zone, that zone's ingresses.
   */
  inbounds: ServiceEndpoint[];
  /** Hash of the endpoint sets and protocol; changes when a consumer's config must change. */
  hash: string;
  /**
   * With `routing.zoneEgress`: the other zones' ingresses behind `endpoints`' egress entries, where
   * the local zone egress forwards this destination's SNI.
   */
  remote?: ServiceEndpoint[];
  /** MeshService / MeshMultiZoneService ports (keyed by cluster name): fixed SNI and accepted SANs. */
  destination?: DestinationPort;
}

export interface MeshContext {
  mesh: Resource;
  meshHash: string;
  dataplanes: Map<string, Resource>;
  /** The CP's zone (`multizone.zone.name`; '' for standalone). */
  zone: string;
  /** `routing.localityAwareLoadBalancing`: remote-zone endpoints get priority 1. */
  localityAware: boolean;
  services: Map<string, ServiceInfo>;
  trafficPermissions: Resource[];
  /** Every policy of the mesh, of every registered kind (MeshTimeout, MeshRateLimit, ...). */
  policies: Resource[];
  /** Changes when any policy of the mesh changes. */
  policiesHash: string;
  /**
   * Packed ClusterLoadAssignment per service, filled on first use by the generator and shared by
   * every proxy (an endpoint change is encoded once, not once per consumer).
   */
  loadAssignments: Map<string, CachedResource>;
  /** Same for zone ingresses: per ingress zone, per service (that zone's endpoints only). */
  ingressLoadAssignments: Map<string, Map<string, CachedResource>>;
  /** Packed resources many proxies have in common (e.g. a service's cluster), by content key. */
  sharedResources: Map<string, CachedResource>;
  /** The mesh's MeshExternalServices, by name (reached through the local zone's egresses). */
  externalServices: Map<string, ExternalServiceInfo>;
  /** Where this zone's sidecars reach the mesh's zone egresses (role egress|all). */
  egresses: ServiceEndpoint[];
  /** `meshServices.mode`: which destinations sidecars get (see sidecar.ts). */
  meshServicesMode: MeshServicesMode;
  /** MeshServices and MeshMultiZoneServices by resource name, for backendRefs. */
  meshServices: Map<string, Resource>;
  multiZoneServices: Map<string, Resource>;
}

export interface ExternalServiceInfo {
  name: string;
  /** What sidecars send to the egress: `sni.extsvc.<mesh>[.<zone>].<name>.<port>`. */
  sni: string;
  /** `match.port`: the port in the SNI. */
  port: number;
  protocol: string;
  endpoints: { address: string; port: number }[];
  tls: boolean;
  /** SNI toward the endpoints with `tls.enabled`: `tls.verification.serverName`, else a hostname endpoint's address. */
  tlsServerName?: string;
  /** TLS origination details (with `tls.enabled`). */
  tlsOptions?: ExternalTlsOptions;
  /** Hash of everything above plus the egress endpoints: changes when a consumer's config must. */
  hash: string;
}

export interface ExternalTlsOptions {
  minVersion?: string;
  maxVersion?: string;
  /** PEM CA to verify the server with (from `verification.caCert`); none = no verification (as Envoy). */
  caPem?: string;
  /** SANs the server certificate must have (mode Secured/SkipCA): subjectAltNames, else serverName. */
  sans?: { type: 'Exact' | 'Prefix'; value: string }[];
  clientCertPem?: string;
  clientKeyPem?: string;
}

/** Key of an external service in ContextChanges.services / a sidecar's externalServices. */
export function externalServiceKey(name: string): string {
  return `extsvc:${name}`;
}

/**
 * The mesh's zone egresses in `localZone` (a proxy without a zone label is local): each zone proxy
 * with an egress listener, at the listener's address (else `advertisedAddress`) and port.
 */
export function localZoneEgresses(dataplanes: Iterable<Resource>, localZone: string): ServiceEndpoint[] {
  const out: ServiceEndpoint[] = [];
  for (const dp of dataplanes) {
    if (!isZoneProxy(dp) || !zoneProxyRole(dp)) continue;
    const zone = zoneOfDataplane(dp);
    if (!isLocalZone(zone, localZone)) continue;
    const net = networkingOf(dp);
    for (const l of effectiveListeners(dp)) {
      if (l.type !== 'ZoneEgress') continue;
      const address = l.address || net.advertisedAddress || '';
      if (!address || !l.port) continue;
      if (out.some((e) => e.address === address && e.port === l.port)) continue;
      out.push({ address, port: l.port, zone, healthy: l.state !== 'NotReady', dataplane: dp.name, tags: {} });
    }
  }
  return out.sort((a, b) => (a.dataplane < b.dataplane ? -1 : a.dataplane > b.dataplane ? 1 : a.port - b.port));
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
  advertisedPort?: number;
  inbound?: Inbound[];
  outbound?: Outbound[];
}

export function networkingOf(dp: Resource): Networking {
  return (dp.spec['networking'] ?? { address: '' }) as Networking;
}

export function hashOf(value: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 16);
}

export interface MeshContextOptions {
  /** The CP's zone (`multizone.zone.name`); '' (standalone) by default. */
  zone?: string;
  /** The mesh's MeshExternalService resources. */
  externalServices?: Resource[];
  /** The mesh's MeshService and MeshMultiZoneService resources. */
  meshServices?: Resource[];
  multiZoneServices?: Resource[];
  /** Resolves a MeshExternalService DataSource `secret` (the mesh's Secret of that name) to its text. */
  secretText?: (name: string) => string | undefined;
  /**
   * Legacy global-scoped ZoneIngress / ZoneEgress resources (they serve every mesh). A zone's
   * mesh-scoped ingresses of this mesh take precedence over its legacy ones; the same for egresses
   * in the local zone (withLegacyZoneProxies).
   */
  zoneIngresses?: Resource[];
  zoneEgresses?: Resource[];
  /** Every policy of the mesh (all kinds); defaults to the traffic permissions. */
  policies?: Resource[];
}

interface LegacyNetworking {
  address?: string;
  port?: number;
  advertisedAddress?: string;
  advertisedPort?: number;
}

function legacyZone(r: Resource): string {
  return String(r.spec['zone'] ?? '') || r.labels['kuma.io/zone'] || '';
}

const byDataplaneThenPort = (a: ServiceEndpoint, b: ServiceEndpoint): number => (a.dataplane < b.dataplane ? -1 : a.dataplane > b.dataplane ? 1 : a.port - b.port);

/**
 * Precedence for migration: a zone with any mesh-scoped ingress of the mesh is reached through
 * those only; otherwise through its legacy ZoneIngresses (advertisedAddress:advertisedPort, else
 * address:port). Likewise the local zone's legacy ZoneEgresses (address:port) are used only when the
 * mesh has no mesh-scoped egress here.
 */
export function withLegacyZoneProxies(
  ingresses: Map<string, ServiceEndpoint[]>,
  egresses: ServiceEndpoint[],
  legacy: { zoneIngresses?: Resource[]; zoneEgresses?: Resource[] },
  localZone: string,
): { ingresses: Map<string, ServiceEndpoint[]>; egresses: ServiceEndpoint[] } {
  const legacyIngresses = new Map<string, ServiceEndpoint[]>();
  for (const zi of legacy.zoneIngresses ?? []) {
    const zone = legacyZone(zi);
    if (isLocalZone(zone, localZone) || ingresses.get(zone)?.length) continue;
    const net = (zi.spec['networking'] ?? {}) as LegacyNetworking;
    const address = net.advertisedAddress || net.address;
    const port = net.advertisedPort || net.port || 10001;
    if (!address) continue;
    let list = legacyIngresses.get(zone);
    if (!list) legacyIngresses.set(zone, (list = []));
    if (list.some((e) => e.address === address && e.port === port)) continue;
    list.push({ address, port, zone, healthy: true, dataplane: `zoneingress:${zi.name}`, tags: { 'kuma.io/zone': zone } });
  }
  const mergedIngresses = new Map(ingresses);
  for (const [zone, list] of legacyIngresses) mergedIngresses.set(zone, list.sort(byDataplaneThenPort));
  if (egresses.length > 0) return { ingresses: mergedIngresses, egresses };
  const legacyEgresses: ServiceEndpoint[] = [];
  for (const ze of legacy.zoneEgresses ?? []) {
    const zone = legacyZone(ze);
    if (!isLocalZone(zone, localZone)) continue;
    const net = (ze.spec['networking'] ?? {}) as LegacyNetworking;
    const port = net.port || 10002;
    if (!net.address || legacyEgresses.some((e) => e.address === net.address && e.port === port)) continue;
    legacyEgresses.push({ address: net.address, port, zone, healthy: true, dataplane: `zoneegress:${ze.name}`, tags: {} });
  }
  return { ingresses: mergedIngresses, egresses: legacyEgresses.sort(byDataplaneThenPort) };
}

/** The zone of a Dataplane: its `kuma.io/zone` label ('' = the local zone). */
export function zoneOfDataplane(dp: Resource): string {
  return dp.labels['kuma.io/zone'] ?? '';
}

/** Whether an endpoint or proxy in `zone` is in the CP's zone (no zone at all counts as local). */
export function isLocalZone(zone: string, localZone: string): boolean {
  return zone === '' || zone === localZone;
}

/**
 * A service's real endpoints in `zone` (an endpoint without a zone is in the CP's zone): what a zone
 * ingress of that zone forwards to.
 */
export function endpointsInZone(ctx: MeshContext, service: string, zone: string): ServiceEndpoint[] {
  return (ctx.services.get(service)?.inbounds ?? []).filter((e) => (e.zone || ctx.zone) === (zone || ctx.zone));
}

/**
 * Where other zones reach the zone ingresses of a mesh, per zone: each zone proxy Dataplane with an
 * ingress listener at `advertisedAddress:advertisedPort`, falling back to its listener's address and
 * port. Duplicates within a zone collapse.
 */
export function zoneIngressAddresses(dataplanes: Iterable<Resource>): Map<string, ServiceEndpoint[]> {
  const byZone = new Map<string, ServiceEndpoint[]>();
  for (const dp of dataplanes) {
    if (!isZoneProxy(dp) || !zoneProxyRole(dp)) continue;
    const net = networkingOf(dp);
    for (const l of effectiveListeners(dp)) {
      if (l.type !== 'ZoneIngress') continue;
      const address = net.advertisedAddress || l.address;
      const port = net.advertisedPort || l.port;
      if (!address || !port) continue;
      const zone = zoneOfDataplane(dp);
      let list = byZone.get(zone);
      if (!list) byZone.set(zone, (list = []));
      if (list.some((e) => e.address === address && e.port === port)) continue;
      list.push({ address, port, zone, healthy: l.state !== 'NotReady', dataplane: dp.name, tags: { 'kuma.io/zone': zone } });
    }
  }
  for (const list of byZone.values()) list.sort((a, b) => (a.dataplane < b.dataplane ? -1 : a.dataplane > b.dataplane ? 1 : a.port - b.port));
  return byZone;
}

/**
 * `previous` (the mesh's last context) lends its load assignments of services whose endpoints did
 * not change, so a rebuild re-encodes only what changed.
 *
 * Cross-zone: an endpoint's zone is its inbound's `kuma.io/zone` tag, else its Dataplane's
 * `kuma.io/zone` label. Endpoints in another zone than the CP's are not dialled directly: sidecars
 * get, per remote zone that has any, the zone ingresses of this mesh in that zone instead (with mTLS
 * on, the client keeps the service's SNI; the ingress routes on it and passes the TLS stream to a
 * real endpoint, which terminates mTLS). A remote zone with no ingress, or any remote zone while the
 * mesh has no mTLS, contributes no endpoints.
 */
export function buildMeshContext(
  mesh: Resource,
  dataplanes: Iterable<Resource>,
  trafficPermissions: Resource[] = [],
  previous?: MeshContext,
  options: MeshContextOptions = {},
): MeshContext {
  const localZone = options.zone ?? '';
  // Cross-zone traffic needs mTLS: the ingress routes on the TLS SNI, so a plaintext client could not
  // be routed. Without it, remote zones contribute no endpoints (as in Kuma).
  const mtls = Boolean((mesh.spec['mtls'] as { enabledBackend?: string } | undefined)?.enabledBackend);
  const localityAware = (mesh.spec['routing'] as { localityAwareLoadBalancing?: boolean } | undefined)?.localityAwareLoadBalancing === true;
  const byName = new Map<string, Resource>();
  const services = new Map<string, { protocols: Set<string>; endpoints: ServiceEndpoint[] }>();
  for (const dp of dataplanes) {
    byName.set(dp.name, dp);
    if (isZoneProxy(dp)) continue;
    const net = networkingOf(dp);
    const dpZone = zoneOfDataplane(dp);
    for (const inbound of net.inbound ?? []) {
      const service = inbound.tags?.['kuma.io/service'];
      if (!service) continue;
      let entry = services.get(service);
      if (!entry) services.set(service, (entry = { protocols: new Set(), endpoints: [] }));
      entry.protocols.add(inbound.tags?.['kuma.io/protocol'] ?? 'tcp');
      entry.endpoints.push({
        address: inbound.address ?? net.advertisedAddress ?? net.address,
        port: inbound.port,
        zone: inbound.tags?.['kuma.io/zone'] ?? dpZone,
        healthy: inbound.health?.ready !== false && inbound.state !== 'NotReady',
        dataplane: dp.name,
        tags: inbound.tags ?? {},
      });
    }
  }
  const { ingresses, egresses } = withLegacyZoneProxies(zoneIngressAddresses(byName.values()), localZoneEgresses(byName.values(), localZone), options, localZone);
  // routing.zoneEgress (mTLS only): other zones are reached through the local zone egress, which
  // passes the TLS stream on to their ingresses by SNI.
  const viaEgress = mtls && (mesh.spec['routing'] as { zoneEgress?: boolean } | undefined)?.zoneEgress === true;
  const infos = new Map<string, ServiceInfo>();
  for (const [name, { protocols, endpoints }] of services) {
    endpoints.sort((a, b) => (a.dataplane < b.dataplane ? -1 : a.dataplane > b.dataplane ? 1 : a.port - b.port));
    const protocol = protocols.size === 1 ? [...protocols][0]! : 'tcp';
    const lowestPort = endpoints.reduce((min, e) => Math.min(min, e.port), Infinity);
    const localEndpoints = endpoints.filter((e) => isLocalZone(e.zone, localZone));
    const remoteZones = [...new Set(endpoints.filter((e) => !isLocalZone(e.zone, localZone)).map((e) => e.zone))].sort();
    const viaIngress = (mtls ? remoteZones : []).flatMap((zone) => (ingresses.get(zone) ?? []).map((e) => ({ ...e, tags: { 'kuma.io/service': name, 'kuma.io/zone': zone } })));
    const all = [...localEndpoints, ...(viaEgress ? throughEgress(viaIngress, egresses, name) : viaIngress)];
    infos.set(name, {
      name,
      protocol,
      endpoints: all,
      inbounds: endpoints,
      lowestPort: Number.isFinite(lowestPort) ? lowestPort : 0,
      hash: hashOf([protocol, all, endpoints, localityAware, localZone, mtls, viaEgress ? viaIngress : []]),
      ...(viaEgress && viaIngress.length ? { remote: viaIngress } : {}),
    });
  }
  const meshServices = options.meshServices ?? [];
  const multiZoneServices = options.multiZoneServices ?? [];
  for (const d of buildDestinations({ mesh: mesh.name, localZone, mtls, dataplanes: [...byName.values()], meshServices, multiZoneServices, ingresses })) {
    const remote = d.endpoints.filter((e) => !isLocalZone(e.zone, localZone));
    const endpoints = viaEgress ? [...d.endpoints.filter((e) => isLocalZone(e.zone, localZone)), ...throughEgress(remote, egresses, d.key)] : d.endpoints;
    infos.set(d.key, {
      name: d.key,
      protocol: d.protocol,
      endpoints,
      inbounds: d.inbounds,
      lowestPort: d.port,
      hash: hashOf([d, localityAware, localZone, viaEgress, endpoints]),
      destination: d,
      ...(viaEgress && remote.length ? { remote } : {}),
    });
  }
  const reuse = (from: Map<string, CachedResource> | undefined): Map<string, CachedResource> => {
    const into = new Map<string, CachedResource>();
    for (const [service, cla] of from ?? []) {
      // Same hash (or unknown in both): same endpoints, same load assignment.
      if (previous!.services.get(service)?.hash === infos.get(service)?.hash) into.set(service, cla);
    }
    return into;
  };
  const loadAssignments = reuse(previous?.loadAssignments);
  const ingressLoadAssignments = new Map<string, Map<string, CachedResource>>();
  for (const [zone, byService] of previous?.ingressLoadAssignments ?? []) ingressLoadAssignments.set(zone, reuse(byService));
  const externalServices = new Map<string, ExternalServiceInfo>();
  for (const res of options.externalServices ?? []) {
    const spec = res.spec as MeshExternalServiceSpec;
    const port = spec.match?.port ?? 0;
    const sni = port ? destinationSni(res, port) : undefined;
    if (!sni) continue;
    const endpoints = (spec.endpoints ?? []).filter((e) => e.address && e.port).map((e) => ({ address: e.address!, port: e.port! }));
    const hostname = endpoints.find((e) => net.isIP(e.address) === 0)?.address;
    const tlsServerName = spec.tls?.verification?.serverName || hostname;
    const tls = spec.tls?.enabled === true;
    // Known by its original name: a copy synced from global is stored under a hashed one.
    const name = res.labels['kuma.io/display-name'] ?? res.name;
    const info = {
      name,
      sni,
      port,
      protocol: spec.match?.protocol ?? 'tcp',
      endpoints,
      tls,
      ...(tlsServerName ? { tlsServerName } : {}),
      ...(tls ? { tlsOptions: externalTlsOptions(spec, tlsServerName, options.secretText) } : {}),
    };
    externalServices.set(name, { ...info, hash: hashOf([info, egresses]) });
  }
  return {
    mesh,
    meshHash: hashOf(mesh.spec),
    dataplanes: byName,
    zone: localZone,
    localityAware,
    services: infos,
    trafficPermissions,
    policies: options.policies ?? trafficPermissions,
    policiesHash: hashOf([trafficPermissions, options.policies ?? []].map((list) => list.map((p) => [p.type, p.name, p.version, p.labels, p.spec]))),
    loadAssignments,
    ingressLoadAssignments,
    sharedResources: new Map(),
    externalServices,
    egresses,
    meshServicesMode: meshServicesMode(mesh),
    meshServices: new Map(meshServices.map((r) => [r.name, r])),
    multiZoneServices: new Map(multiZoneServices.map((r) => [r.name, r])),
  };
}

const TLS_VERSION: Record<string, string> = { TLS10: 'TLSv1_0', TLS11: 'TLSv1_1', TLS12: 'TLSv1_2', TLS13: 'TLSv1_3' };

/**
 * A MeshExternalService's TLS origination (Kuma semantics): verification mode Secured (default)
 * checks the CA and the SANs (subjectAltNames, else serverName), SkipSAN only the CA, SkipCA only the
 * SANs, SkipAll nothing. Without a caCert there is no CA to check against, so only SANs can be.
 */
function externalTlsOptions(spec: MeshExternalServiceSpec, serverName: string | undefined, secretText?: (name: string) => string | undefined): ExternalTlsOptions {
  const tls = spec.tls ?? {};
  const ver = tls.verification ?? {};
  const mode = ver.mode ?? 'Secured';
  const text = (ds: DataSource | undefined): string | undefined => {
    if (!ds) return undefined;
    if (ds.inlineString !== undefined) return ds.inlineString;
    if (ds.inline !== undefined) return Buffer.from(ds.inline, 'base64').toString('utf8');
    return ds.secret ? secretText?.(ds.secret) : undefined;
  };
  const out: ExternalTlsOptions = {};
  const min = TLS_VERSION[tls.version?.min ?? ''];
  const max = TLS_VERSION[tls.version?.max ?? ''];
  if (min) out.minVersion = min;
  if (max) out.maxVersion = max;
  const caPem = text(ver.caCert);
  if (caPem && (mode === 'Secured' || mode === 'SkipSAN')) out.caPem = caPem;
  if (mode === 'Secured' || mode === 'SkipCA') {
    const sans = (ver.subjectAltNames ?? []).filter((s) => s.value).map((s) => ({ type: s.type ?? 'Exact', value: s.value! }));
    if (sans.length) out.sans = sans;
    else if (serverName) out.sans = [{ type: 'Exact', value: serverName }];
  }
  const cert = text(ver.clientCert);
  const key = text(ver.clientKey);
  if (cert && key) {
    out.clientCertPem = cert;
    out.clientKeyPem = key;
  }
  return out;
}

/**
 * Remote endpoints replaced by the local zone egresses, once per remote zone (keeping the zone as
 * locality, so locality-aware load balancing still ranks them after local ones). No egress, no
 * route to other zones.
 */
function throughEgress(remote: ServiceEndpoint[], egresses: ServiceEndpoint[], service: string): ServiceEndpoint[] {
  const zones = [...new Set(remote.map((e) => e.zone))].sort();
  return zones.flatMap((zone) => egresses.map((e) => ({ ...e, zone, tags: { 'kuma.io/service': service, 'kuma.io/zone': zone } })));
}

/** Services whose info differs between two contexts of a mesh, including added and removed ones. */
export function changedServices(before: MeshContext, after: MeshContext): Set<string> {
  const changed = new Set<string>();
  for (const [name, info] of after.services) if (before.services.get(name)?.hash !== info.hash) changed.add(name);
  for (const name of before.services.keys()) if (!after.services.has(name)) changed.add(name);
  for (const [name, info] of after.externalServices) if (before.externalServices.get(name)?.hash !== info.hash) changed.add(externalServiceKey(name));
  for (const name of before.externalServices.keys()) if (!after.externalServices.has(name)) changed.add(externalServiceKey(name));
  return changed;
}
