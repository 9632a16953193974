// Envoy v3 resources for a sidecar in Universal mode:
//   inbound listener per networking.inbound[]   → local service (cluster localhost:<servicePort>)
//   outbound listener per networking.outbound[] → service cluster (EDS, endpoints from the mesh)
//   with transparentProxying.redirectPortOutbound: the outbound passthrough listener that takes
//   iptables-redirected connections (see transparent-proxy.ts)
// TCP services get tcp_proxy; http/http2/grpc get an http_connection_manager with one route.
// With mesh mTLS on, inbounds terminate mTLS (STRICT: TLS only; PERMISSIVE: TLS or plaintext,
// told apart by the TLS inspector) and enforce MeshTrafficPermission on the TLS chain; outbound
// clusters originate mTLS, verify the server's SPIFFE ID and send the service's SNI.
import type { Resource } from '../../api/resource.js';
import { cachedResource, type CachedResource, type NamedResource } from '../cache/snapshot.js';
import { externalServiceKey, hashOf, networkingOf, type ExternalServiceInfo, type Inbound, type MeshContext, type ServiceEndpoint, type ServiceInfo } from '../context/mesh-context.js';
import { externalServiceAllowed, inboundPermissions, type InboundPermissions } from '../../policies/index.js';
import { inboundTimeouts, outboundTimeouts, type Timeouts } from '../../policies/meshtimeout/plugin.js';
import { inboundRateLimit } from '../../policies/meshratelimit/plugin.js';
import { inboundFaults } from '../../policies/meshfaultinjection/plugin.js';
import { AccessLogPlan, accessLogEntries, type AccessLogEntry } from '../../policies/meshaccesslog/plugin.js';
import { inboundCircuitBreaker, outboundCircuitBreakers } from '../../policies/meshcircuitbreaker/plugin.js';
import { outboundHealthChecks } from '../../policies/meshhealthcheck/plugin.js';
import { meshMetricResources } from '../../policies/meshmetric/plugin.js';
import type { ProxyMetadata } from '../../policies/common/proxy-metadata.js';
import { isZoneProxy } from '../../api/zone-proxy.js';
import type { DestinationView } from '../../policy-engine/index.js';
import type { DataplaneSpec, Outbound as OutboundSpec } from '../../api/kinds/dataplane-spec.js';
import { proxyTracing } from '../../policies/meshtrace/plugin.js';
import { destinationClusterName } from '../context/mesh-services.js';
import { meshPassthrough, outboundPassthroughCluster, outboundPassthroughListener, redirectPortOutbound } from './transparent-proxy.js';
import {
  certificateSecret,
  clusterLoadAssignment,
  clusterLoadAssignmentResource,
  applyClusterPatches,
  clusterResource,
  downstreamMtls,
  edsCluster,
  filterChain,
  httpConnectionManagerFilter,
  httpRbacFilter,
  listener,
  listenerResource,
  networkRbacFilter,
  route,
  routeConfiguration,
  staticCluster,
  externalServiceTls,
  tcpProxyFilter,
  tlsInspector,
  upstreamMtls,
  validationSecret,
  virtualHost,
  type ClusterPatch,
  type Filter,
  type FilterChain,
  type HcmTracing,
  type HttpFilter,
  type LocalityOptions,
  type TrafficDirection,
} from '../envoy/index.js';

const HTTP_PROTOCOLS = new Set(['http', 'http2', 'grpc']);

/**
 * What the traffic policies add to one filter chain: MeshTimeout's timeouts, and on inbounds the
 * HTTP filters (rate limit, faults) before the router and network filters before tcp_proxy.
 */
interface ChainPolicies {
  tracing?: HcmTracing;
  timeouts?: Timeouts;
  httpFilters?: HttpFilter[];
  networkFilters?: Filter[];
  /** MeshAccessLog's entries on the HCM / tcp_proxy. */
  accessLogs?: AccessLogEntry[];
}

/** Resources of the whole-proxy policies (MeshMetric) of a sidecar or zone proxy. */
export function proxyWideResources(dp: Resource, ctx: MeshContext, identity: ProxyIdentity | undefined, meta: ProxyMetadata | undefined): CachedResource[] {
  const mtls = identity ? { identitySecret: identitySecretName(dp.mesh), caSecret: caSecretName(dp.mesh) } : undefined;
  const providedTls = meta?.metricsCertPath && meta.metricsKeyPath ? { certPath: meta.metricsCertPath, keyPath: meta.metricsKeyPath } : undefined;
  return meshMetricResources(ctx.policies, dp, { adminSocketPath: meta?.adminSocketPath, zoneProxy: isZoneProxy(dp), ...(mtls ? { mtls } : {}), ...(providedTls ? { providedTls } : {}) }).map((r) => cachedResource(r));
}

/** The proxy's mesh identity, present when the mesh has mTLS enabled. */
export interface ProxyIdentity {
  mode: 'STRICT' | 'PERMISSIVE';
  certPem: string;
  keyPem: string;
  caPem: string;
}

export function identitySecretName(mesh: string): string {
  return `identity_cert:secret:${mesh}`;
}

export function caSecretName(mesh: string): string {
  return `mesh_ca:secret:${mesh}`;
}

/** SNI a client sends to reach a service of a mesh (SKEIN-SPEC §2 format, port = its inbound port). */
export function serviceSni(mesh: string, service: string, port: number): string {
  return `sni.msvc.${mesh}.${service}.${port}`;
}

/** URI SANs of a proxy's certificate: the SPIFFE ID of each service it serves plus one per tag. */
export function identityUris(dp: Resource): string[] {
  const uris = new Set<string>();
  for (const inbound of networkingOf(dp).inbound ?? []) {
    for (const [key, value] of Object.entries(inbound.tags ?? {})) {
      uris.add(key === 'kuma.io/service' ? `spiffe://${dp.mesh}/${value}` : `kuma://${key}/${value}`);
    }
  }
  const workload = dp.labels['kuma.io/workload'];
  if (workload) uris.add(`spiffe://${dp.mesh}/workload/${workload}`);
  return [...uris].sort((a, b) => (a.startsWith('spiffe://') === b.startsWith('spiffe://') ? (a < b ? -1 : 1) : a.startsWith('spiffe://') ? -1 : 1));
}

/** A sidecar's config minus its endpoints, which are shared per service (see loadAssignment). */
export interface SidecarConfig {
  /** Secrets, listeners and clusters: they depend only on what sidecarKey covers. */
  resources: CachedResource[];
  /** Services whose ClusterLoadAssignment the proxy gets. */
  endpointServices: string[];
  /**
   * External services it reaches through the zone egress (externalServiceKey), whose clusters are
   * static: a change of one (or of the egresses) regenerates the proxy.
   */
  externalServices?: string[];
}

/**
 * SPIFFE IDs of a mesh's zone egress: a mesh-scoped one's computed `kuma.io/workload` (role egress or
 * all), or the legacy global ZoneEgress's per-mesh identity (legacyEgressSpiffeId).
 */
export function egressSpiffeIds(mesh: string): string[] {
  return [`spiffe://${mesh}/workload/zone-proxy-${mesh}-egress`, `spiffe://${mesh}/workload/zone-proxy-${mesh}-all`, `spiffe://${mesh}/legacy/zone-egress`];
}

/** The external service an outbound names, when no mesh service of that name exists. */
function externalOutbound(ctx: MeshContext, service: string): ExternalServiceInfo | undefined {
  return ctx.services.has(service) ? undefined : ctx.externalServices?.get(service);
}

/** What one outbound (explicit, or implicit with a transparent proxy) leads to. */
export type OutboundTarget =
  | { type: 'service'; key: string; info?: ServiceInfo }
  | { type: 'destination'; key: string; info: ServiceInfo }
  | { type: 'external'; key: string; external: ExternalServiceInfo };

/**
 * The resource a backendRef names: by name (a synced copy is also found by its display name, its
 * original name; a copy of this zone first), else the first, by name, with all the given labels.
 */
function byNameOrLabels(resources: Map<string, Resource>, ref: { name?: string; labels?: Record<string, string> }, localZone: string): Resource | undefined {
  if (ref.name) {
    const exact = resources.get(ref.name);
    if (exact) return exact;
    const byDisplayName = [...resources.values()].filter((r) => r.labels['kuma.io/display-name'] === ref.name);
    const local = (r: Resource) => !r.labels['kuma.io/zone'] || r.labels['kuma.io/zone'] === localZone;
    return byDisplayName.sort((a, b) => Number(local(b)) - Number(local(a)) || (a.name < b.name ? -1 : 1))[0];
  }
  const want = Object.entries(ref.labels ?? {});
  if (want.length === 0) return undefined;
  return [...resources.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).find((r) => want.every(([k, v]) => r.labels[k] === v));
}

/**
 * Where an outbound of `networking.outbound[]` goes. `backendRef` names a MeshService /
 * MeshMultiZoneService port or a MeshExternalService; `tags['kuma.io/service']` is legacy routing,
 * which `meshServices.mode: Exclusive` turns off. Undefined: nothing to route to (no listener).
 */
export function resolveOutbound(ctx: MeshContext, outbound: OutboundSpec): OutboundTarget | undefined {
  const ref = outbound.backendRef;
  if (ref) {
    if (ref.kind === 'MeshExternalService') {
      const info = ref.name ? ctx.externalServices.get(ref.name) : undefined;
      return info ? { type: 'external', key: externalServiceKey(info.name), external: info } : undefined;
    }
    const kind = ref.kind === 'MeshMultiZoneService' ? 'mzsvc' : 'msvc';
    const res = byNameOrLabels(kind === 'mzsvc' ? ctx.multiZoneServices : ctx.meshServices, ref, ctx.zone);
    if (!res || !ref.port) return undefined;
    const key = destinationClusterName(res, kind, ref.port);
    const info = ctx.services.get(key);
    return info ? { type: 'destination', key, info } : undefined;
  }
  const service = outbound.tags?.['kuma.io/service'];
  if (!service || ctx.meshServicesMode === 'Exclusive') return undefined;
  const external = externalOutbound(ctx, service);
  if (external) return { type: 'external', key: externalServiceKey(external.name), external };
  return { type: 'service', key: service, info: ctx.services.get(service) };
}

/**
 * With a transparent proxy and MeshServices on, the destinations a sidecar reaches without listing
 * them: every MeshService / MeshMultiZoneService port (`Everywhere`, `Exclusive`), or those of
 * `transparentProxying.reachableBackends.refs` (`ReachableBackends`). Each gets a listener on the
 * resource's VIP that only the transparent proxy's redirect feeds.
 */
export function implicitDestinations(dp: Resource, ctx: MeshContext): ServiceInfo[] {
  if (ctx.meshServicesMode === 'Disabled' || redirectPortOutbound(dp) === undefined) return [];
  const all = [...ctx.services.values()].filter((i) => i.destination);
  if (ctx.meshServicesMode !== 'ReachableBackends') return all;
  const refs = (dp.spec as DataplaneSpec).networking?.transparentProxying?.reachableBackends?.refs ?? [];
  return all.filter((i) => {
    const d = i.destination!;
    const res = d.kind === 'MeshService' ? ctx.meshServices.get(d.resource) : ctx.multiZoneServices.get(d.resource);
    return refs.some((r) => r.kind === d.kind && (r.port === undefined || r.port === d.port) && (r.name ? r.name === d.resource || res?.labels['kuma.io/display-name'] === r.name : Object.entries(r.labels ?? {}).every(([k, v]) => res?.labels[k] === v)));
  });
}

export function generateSidecar(dp: Resource, ctx: MeshContext, identity?: ProxyIdentity, meta?: ProxyMetadata): NamedResource[] {
  const { resources, endpointServices } = generateSidecarConfig(dp, ctx, identity, meta);
  return [...resources, ...endpointServices.map((service) => loadAssignment(ctx, service))];
}

/**
 * Everything generateSidecarConfig reads, as a string: same key, same resources, so they can be
 * reused and only endpoints can differ. Keep it in step with the generator: the Dataplane
 * (networking, labels for policy matching), the mesh (its hash covers the spec; passthrough is
 * listed as well since the generator reads it), its policies of every kind (MeshTrafficPermission,
 * MeshTimeout, MeshRateLimit, MeshFaultInjection read here: ctx.policiesHash), the identity, and per outbound service
 * the fields its listener and cluster use (protocol, SNI port).
 */
export function sidecarKey(dp: Resource, ctx: MeshContext, identityVersion: string, meta?: ProxyMetadata): string {
  const outbound = (networkingOf(dp).outbound ?? []).map((o) => targetKey(ctx, dp, resolveOutbound(ctx, o)));
  const implicit = implicitDestinations(dp, ctx).map((i) => [i.name, i.protocol, i.destination!.sni, i.destination!.sans, i.destination!.vip]);
  return JSON.stringify([dataplaneHash(dp), ctx.meshHash, meshPassthrough(ctx.mesh), ctx.policiesHash, identityVersion, outbound, implicit, meta ?? {}]);
}

function targetKey(ctx: MeshContext, dp: Resource, target: OutboundTarget | undefined): unknown {
  if (!target) return null;
  if (target.type === 'external') return ['extsvc', target.external.hash, externalServiceAllowed(ctx.mesh, ctx.trafficPermissions, dp, target.external.name, target.external.sni)];
  if (target.type === 'destination') return [target.key, target.info.protocol, target.info.destination!.sni, target.info.destination!.sans];
  return target.info ? [target.info.protocol, target.info.lowestPort] : null;
}

const dataplaneHashes = new WeakMap<Resource, string>();

/** Hash of a Dataplane's content, once per object (context rebuilds keep unchanged Dataplanes' objects). */
export function dataplaneHash(dp: Resource): string {
  let hash = dataplaneHashes.get(dp);
  if (!hash) dataplaneHashes.set(dp, (hash = hashOf([dp.mesh, dp.name, dp.labels, dp.spec])));
  return hash;
}

/** The service's endpoints as a packed ClusterLoadAssignment, encoded once per MeshContext. */
export function loadAssignment(ctx: MeshContext, service: string): CachedResource {
  let cla = ctx.loadAssignments.get(service);
  if (!cla) {
    cla = cachedResource(clusterLoadAssignmentResource(clusterLoadAssignment(service, localitiesOf(ctx, service))));
    ctx.loadAssignments.set(service, cla);
  }
  return cla;
}

/**
 * A resource that many proxies have in common, encoded once per MeshContext. `key` must determine
 * its content completely (the context's mesh is implied).
 */
export function shared(ctx: MeshContext, key: unknown[], build: () => NamedResource): CachedResource {
  const id = JSON.stringify(key);
  let resource = ctx.sharedResources.get(id);
  if (!resource) ctx.sharedResources.set(id, (resource = cachedResource(build())));
  return resource;
}

/** Everything but the endpoints; reads only what sidecarKey covers. */
export function generateSidecarConfig(dp: Resource, ctx: MeshContext, identity?: ProxyIdentity, meta?: ProxyMetadata): SidecarConfig {
  const out: CachedResource[] = [];
  const accessLogs = new AccessLogPlan(ctx.policies, dp, meta);
  const net = networkingOf(dp);
  const localClusters = new Set<string>();
  const mesh = dp.mesh;
  const trace = proxyTracing(ctx.policies, dp, ctx.zone);
  if (trace) out.push(shared(ctx, [trace.key], () => clusterResource(trace.cluster())));
  const tracing = trace ? { tracing: trace.tracing } : {};
  if (identity) {
    out.push(cachedResource(certificateSecret(identitySecretName(mesh), identity.certPem, identity.keyPem)));
    out.push(shared(ctx, ['ca', mesh, identity.caPem], () => validationSecret(caSecretName(mesh), identity.caPem)));
  }

  for (const inbound of net.inbound ?? []) {
    const service = inbound.tags?.['kuma.io/service'] ?? dp.name;
    const protocol = inbound.tags?.['kuma.io/protocol'] ?? 'tcp';
    const servicePort = inbound.servicePort ?? inbound.port;
    const cluster = `localhost:${servicePort}`;
    const view = inboundView(inbound);
    const timeouts = inboundTimeouts(ctx.policies, dp, view);
    if (!localClusters.has(cluster)) {
      localClusters.add(cluster);
      const endpoints = [{ address: inbound.serviceAddress ?? '127.0.0.1', port: servicePort }];
      const http2 = isHttp2(protocol);
      const connectTimeoutMs = timeouts?.connectTimeoutMs ?? 10_000;
      const breaker = inboundCircuitBreaker(ctx.policies, dp, view);
      out.push(shared(ctx, ['local', cluster, endpoints, http2, connectTimeoutMs, breaker], () =>
        clusterResource(applyClusterPatches(staticCluster({ name: cluster, connectTimeoutMs, http2, localities: [{ endpoints }] }), breaker)),
      ));
    }
    const rateLimit = inboundRateLimit(ctx.policies, dp, view);
    const httpFilters = [...(rateLimit.http ? [rateLimit.http] : []), ...inboundFaults(ctx.policies, dp, view)];
    const policies: ChainPolicies = { ...(timeouts ? { timeouts } : {}), httpFilters, networkFilters: rateLimit.tcp ? [rateLimit.tcp] : [], accessLogs: accessLogs.inbound(view, service, protocol) };
    const address = inbound.address ?? net.address;
    const name = `inbound:${address}:${inbound.port}`;
    const permissions = identity ? inboundPermissions(mesh, ctx.trafficPermissions, dp, view) : undefined;
    if (trace) policies.tracing = trace.tracing;
    out.push(cachedResource(inboundListener(name, address, inbound.port, service, cluster, protocol, mesh, identity, permissions, policies)));
  }

  const services = new Set<string>();
  const externals = new Set<string>();
  const timeoutsTo = outboundTimeouts(ctx.policies, dp);
  const accessLogsTo = accessLogs.outbound();
  const healthChecksTo = outboundHealthChecks(ctx.policies, dp);
  const breakersTo = outboundCircuitBreakers(ctx.policies, dp);
  const addTarget = (target: OutboundTarget, protocol: string, timeouts: Timeouts): void => {
    const connectTimeoutMs = timeouts.connectTimeoutMs;
    const seen = target.type === 'external' ? externals : services;
    if (seen.has(target.key)) return;
    seen.add(target.key);
    // MeshHealthCheck (order 1200) before MeshCircuitBreaker (1300), as Kuma applies them.
    const destination = destinationView(ctx, target);
    const patches = [healthChecksTo(destination, protocol), breakersTo(destination)];
    if (target.type === 'external') {
      out.push(externalCluster(ctx, mesh, target.external, protocol, identity, connectTimeoutMs, patches));
      return;
    }
    out.push(target.type === 'destination' ? destinationCluster(ctx, mesh, target.info, identity, connectTimeoutMs, patches) : legacyCluster(ctx, mesh, target.key, target.info, protocol, identity, connectTimeoutMs, patches));
  };
  for (const outbound of net.outbound ?? []) {
    const target = resolveOutbound(ctx, outbound);
    if (!target) continue;
    if (target.type === 'external' && !externalServiceAllowed(ctx.mesh, ctx.trafficPermissions, dp, target.external.name, target.external.sni)) continue;
    const protocol = outbound.tags?.['kuma.io/protocol'] ?? (target.type === 'external' ? target.external.protocol : target.info?.protocol) ?? 'tcp';
    const address = outbound.address ?? '127.0.0.1';
    const name = `outbound:${address}:${outbound.port}`;
    const cluster = target.type === 'external' ? target.external.name : target.key;
    const timeouts = timeoutsTo(destinationView(ctx, target));
    const logs = accessLogsTo(destinationView(ctx, target), cluster, protocol);
    // As Kuma: no tracing on MeshExternalService outbounds.
    const outboundTracing = target.type === 'external' ? {} : tracing;
    out.push(shared(ctx, ['outbound', name, cluster, protocol, timeouts, logs, target.type === 'external' ? null : trace?.key], () =>
      listenerResource(listener({ name, address, port: outbound.port, trafficDirection: 'OUTBOUND', filterChains: [filterChain({ filters: proxyFilters(name, 'OUTBOUND', cluster, cluster, protocol, undefined, { timeouts, accessLogs: logs, ...outboundTracing }) })] })),
    ));
    addTarget(target, protocol, timeouts);
  }
  // Transparent proxy: MeshService destinations on their VIPs (reached through the redirect only).
  for (const info of implicitDestinations(dp, ctx)) {
    const name = `outbound:${info.destination!.vip}:${info.destination!.port}`;
    const target: OutboundTarget = { type: 'destination', key: info.name, info };
    const timeouts = timeoutsTo(destinationView(ctx, target));
    const logs = accessLogsTo(destinationView(ctx, target), info.name, info.protocol);
    out.push(shared(ctx, ['outbound-vip', name, info.name, info.protocol, timeouts, logs, trace?.key], () =>
      listenerResource(listener({ name, address: info.destination!.vip, port: info.destination!.port, bindToPort: false, trafficDirection: 'OUTBOUND', filterChains: [filterChain({ filters: proxyFilters(name, 'OUTBOUND', info.name, info.name, info.protocol, undefined, { timeouts, accessLogs: logs, ...tracing }) })] })),
    ));
    addTarget(target, info.protocol, timeouts);
  }

  const redirectPort = redirectPortOutbound(dp);
  if (redirectPort !== undefined) {
    out.push(shared(ctx, ['passthrough-listener', redirectPort], () => outboundPassthroughListener(redirectPort)));
    if (meshPassthrough(ctx.mesh)) out.push(shared(ctx, ['passthrough-cluster'], () => outboundPassthroughCluster()));
  }
  out.push(...accessLogs.clusters().map((c) => cachedResource(c)));
  out.push(...proxyWideResources(dp, ctx, identity, meta));
  return { resources: out, endpointServices: [...services], externalServices: [...externals] };
}

/** A legacy `kuma.io/service` cluster (EDS); with mTLS the SNI names the service's lowest endpoint port. */
function legacyCluster(ctx: MeshContext, mesh: string, service: string, info: ServiceInfo | undefined, protocol: string, identity: ProxyIdentity | undefined, connectTimeoutMs?: number, patches: (ClusterPatch | undefined)[] = []): CachedResource {
  const sniPort = identity ? (info?.lowestPort ?? 0) : undefined;
  return shared(ctx, ['cluster', mesh, service, protocol, sniPort, connectTimeoutMs, patches], () => {
    const cluster = edsCluster({ name: service, http2: isHttp2(protocol), connectTimeoutMs });
    if (sniPort !== undefined) {
      cluster.transport_socket = upstreamMtls({
        identitySecret: identitySecretName(mesh),
        caSecret: caSecretName(mesh),
        peerUriSans: [{ exact: `spiffe://${mesh}/${service}` }],
        sni: serviceSni(mesh, service, sniPort),
      });
    }
    return clusterResource(applyClusterPatches(cluster, ...patches));
  });
}

/** A MeshService / MeshMultiZoneService port's cluster (EDS): its KRI SNI, its identities as SANs. */
function destinationCluster(ctx: MeshContext, mesh: string, info: ServiceInfo, identity: ProxyIdentity | undefined, connectTimeoutMs?: number, patches: (ClusterPatch | undefined)[] = []): CachedResource {
  const d = info.destination!;
  return shared(ctx, ['destination-cluster', mesh, info.name, info.protocol, Boolean(identity), d.sni, d.sans, connectTimeoutMs, patches], () => {
    const cluster = edsCluster({ name: info.name, http2: isHttp2(info.protocol), connectTimeoutMs });
    if (identity) {
      cluster.transport_socket = upstreamMtls({
        identitySecret: identitySecretName(mesh),
        caSecret: caSecretName(mesh),
        peerUriSans: d.sans.map((exact) => ({ exact })),
        sni: d.sni,
      });
    }
    return clusterResource(applyClusterPatches(cluster, ...patches));
  });
}

/**
 * A MeshExternalService's cluster. With `routing.zoneEgress` (and mTLS): through the local zone
 * egresses, with mTLS and the service's SNI, which the egress routes on (no egress, no endpoints).
 * Otherwise straight to its endpoints, the sidecar originating TLS itself when `tls.enabled`.
 */
function externalCluster(ctx: MeshContext, mesh: string, external: ExternalServiceInfo, protocol: string, identity: ProxyIdentity | undefined, connectTimeoutMs?: number, patches: (ClusterPatch | undefined)[] = []): CachedResource {
  if (!zoneEgressRouting(ctx)) {
    return shared(ctx, ['extsvc-direct', mesh, external.name, protocol, external.hash, connectTimeoutMs, patches], () => {
      const cluster = staticCluster({ name: external.name, http2: isHttp2(protocol), connectTimeoutMs, localities: [{ endpoints: external.endpoints.map((e) => ({ address: e.address, port: e.port, weight: 1 })) }] });
      if (external.tls) cluster.transport_socket = externalServiceTls({ sni: external.tlsServerName, ...external.tlsOptions });
      return clusterResource(applyClusterPatches(cluster, ...patches));
    });
  }
  const endpoints = identity ? ctx.egresses : [];
  return shared(ctx, ['extsvc-cluster', mesh, external.name, protocol, external.sni, endpoints, connectTimeoutMs, patches], () => {
    const localities = endpoints.length ? [{ endpoints: endpoints.map((e) => ({ address: e.address, port: e.port, health: e.healthy ? ('HEALTHY' as const) : ('UNHEALTHY' as const), weight: 1 })) }] : [];
    const cluster = staticCluster({ name: external.name, http2: isHttp2(protocol), connectTimeoutMs, localities });
    if (identity) {
      cluster.transport_socket = upstreamMtls({
        identitySecret: identitySecretName(mesh),
        caSecret: caSecretName(mesh),
        peerUriSans: egressSpiffeIds(mesh).map((exact) => ({ exact })),
        sni: external.sni,
      });
    }
    return clusterResource(applyClusterPatches(cluster, ...patches));
  });
}

/** `routing.zoneEgress`: external (and, later, cross-zone) traffic leaves through the zone egress. */
export function zoneEgressRouting(ctx: MeshContext): boolean {
  return (ctx.mesh.spec['routing'] as { zoneEgress?: boolean } | undefined)?.zoneEgress === true;
}

/** An outbound target as the policy engine names destinations (for `to[]` targetRefs). */
function destinationView(ctx: MeshContext, target: OutboundTarget): DestinationView {
  if (target.type === 'external') return { kind: 'MeshExternalService', name: target.external.name };
  if (target.type === 'service') return { kind: 'MeshService', name: target.key };
  const d = target.info.destination!;
  const res = d.kind === 'MeshService' ? ctx.meshServices.get(d.resource) : ctx.multiZoneServices.get(d.resource);
  return { kind: d.kind, name: d.resource, port: d.port, ...(res ? { labels: res.labels } : {}) };
}

function inboundView(inbound: Inbound): { name?: string; port: number; tags: Record<string, string> } {
  return { name: (inbound as { name?: string }).name, port: inbound.port, tags: inbound.tags ?? {} };
}

function isHttp2(protocol: string): boolean {
  return protocol === 'http2' || protocol === 'grpc';
}

function statPrefixOf(name: string): string {
  return name.replace(/[:.]/g, '_');
}

function inboundListener(
  name: string,
  address: string,
  port: number,
  service: string,
  cluster: string,
  protocol: string,
  mesh: string,
  identity: ProxyIdentity | undefined,
  permissions: InboundPermissions | undefined,
  policies: ChainPolicies,
): NamedResource {
  if (!identity) {
    const chains = [filterChain({ filters: proxyFilters(name, 'INBOUND', service, cluster, protocol, undefined, policies) })];
    return listenerResource(listener({ name, address, port, trafficDirection: 'INBOUND', filterChains: chains }));
  }
  const mtls: FilterChain = {
    ...filterChain({ name: `${name}:mtls`, filters: proxyFilters(name, 'INBOUND', service, cluster, protocol, permissions, policies) }),
    transport_socket: downstreamMtls({ identitySecret: identitySecretName(mesh), caSecret: caSecretName(mesh) }),
  };
  if (identity.mode === 'STRICT') {
    return listenerResource(listener({ name, address, port, trafficDirection: 'INBOUND', filterChains: [mtls] }));
  }
  // PERMISSIVE: mTLS for mesh clients, plaintext for everyone else (no identity, so no RBAC).
  mtls.filter_chain_match = { transport_protocol: 'tls' };
  const plaintext = filterChain({ name: `${name}:plaintext`, match: { transportProtocol: 'raw_buffer' }, filters: proxyFilters(name, 'INBOUND', service, cluster, protocol, undefined, policies) });
  return listenerResource(listener({ name, address, port, trafficDirection: 'INBOUND', listenerFilters: [tlsInspector()], filterChains: [mtls, plaintext] }));
}

/** The terminal filter (tcp_proxy or HCM), preceded by RBAC when permissions apply. */
function proxyFilters(name: string, direction: TrafficDirection, service: string, cluster: string, protocol: string, permissions?: InboundPermissions, policies: ChainPolicies = {}): Filter[] {
  const statPrefix = statPrefixOf(name);
  const t = policies.timeouts;
  if (HTTP_PROTOCOLS.has(protocol)) {
    const httpFilters: HttpFilter[] = [];
    if (permissions?.deny) httpFilters.push(httpRbacFilter(permissions.deny));
    if (permissions) httpFilters.push(httpRbacFilter(permissions.allow));
    httpFilters.push(...(policies.httpFilters ?? []));
    // Without a MeshTimeout an inbound route has no timeout (0 = off); outbounds always get one.
    const timeoutMs = t?.requestTimeoutMs ?? 0;
    return [
      httpConnectionManagerFilter({
        statPrefix,
        ...(policies.tracing ? { tracing: policies.tracing } : {}),
        codecType: 'AUTO',
        httpFilters,
        ...(t?.streamIdleTimeoutMs !== undefined ? { streamIdleTimeoutMs: t.streamIdleTimeoutMs } : {}),
        ...(t?.idleTimeoutMs !== undefined ? { idleTimeoutMs: t.idleTimeoutMs } : {}),
        accessLogs: accessLogEntries(policies.accessLogs),
        routeConfig: routeConfiguration(name, [virtualHost(service, ['*'], [route({ prefix: '/', cluster, timeoutMs })])]),
      }),
    ];
  }
  const tcp = tcpProxyFilter({ statPrefix, cluster, ...(t?.idleTimeoutMs !== undefined ? { idleTimeoutMs: t.idleTimeoutMs } : {}), accessLogs: accessLogEntries(policies.accessLogs) });
  return [...(policies.networkFilters ?? []), ...networkRbacFilters(statPrefix, permissions), tcp];
}

/** Network RBAC filters to put before a tcp_proxy (HTTP chains get HTTP RBAC instead). */
function networkRbacFilters(statPrefix: string, permissions: InboundPermissions | undefined): Filter[] {
  if (!permissions) return [];
  const filters: Filter[] = [];
  if (permissions.deny) filters.push(networkRbacFilter(`${statPrefix}.`, permissions.deny));
  filters.push(networkRbacFilter(`${statPrefix}.`, permissions.allow));
  return filters;
}

/**
 * Endpoints grouped by zone (locality). With `routing.localityAwareLoadBalancing`, the local zone's
 * endpoints get priority 0 and other zones' (their ingresses) priority 1.
 */
export function localitiesOf(ctx: MeshContext, service: string, endpoints: ServiceEndpoint[] = ctx.services.get(service)?.endpoints ?? []): LocalityOptions[] {
  const byZone = new Map<string, LocalityOptions>();
  for (const e of endpoints) {
    let locality = byZone.get(e.zone);
    if (!locality) {
      const remote = e.zone !== '' && e.zone !== ctx.zone;
      byZone.set(e.zone, (locality = { zone: e.zone, endpoints: [], ...(ctx.localityAware && remote ? { priority: 1 } : {}) }));
    }
    locality.endpoints.push({ address: e.address, port: e.port, health: e.healthy ? 'HEALTHY' : 'UNHEALTHY', weight: 1 });
  }
  return [...byZone.values()];
}
