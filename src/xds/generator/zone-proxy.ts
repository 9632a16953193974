// Envoy v3 resources for a mesh-scoped zone proxy (SKEIN-SPEC §2): a Dataplane labelled
// `kuma.io/proxy-type: zoneproxy` whose `kuma.io/zone-proxy-role` decides its listeners.
//
// Zone ingress (role ingress|all), one listener per effective ZoneIngress listener:
//   TLS inspector + one filter chain per service of the mesh that has endpoints in the local zone,
//   matching `transport_protocol: tls` and `server_names: [sni.msvc.<mesh>.<service>.<port>]`, with a
//   tcp_proxy to the EDS cluster `ingress:<service>` whose endpoints are that service's LOCAL-zone
//   inbounds only. The SNI is exactly what sidecars already send (serviceSni: the zone is not a
//   segment; the service's lowest inbound port across zones is), so a client in another zone dials
//   this ingress with the same SNI it would use for a local endpoint. TLS passthrough: no
//   termination, no RBAC; the real endpoint terminates mTLS and enforces MeshTrafficPermission.
//   A listener with no destination is not emitted (as in Kuma).
//
// Zone egress (role egress|all, mesh mTLS on), one listener per effective ZoneEgress listener:
//   TLS inspector + one filter chain per MeshExternalService of the mesh, matching
//   `server_names: [sni.extsvc.<mesh>.<name>.<port>]` (what sidecars send, see sidecar.ts), which
//   terminates mTLS with the proxy's identity (`spiffe://<mesh>/workload/zone-proxy-<mesh>-<role>`,
//   client certificate required from the mesh CA), then network RBAC from the
//   MeshTrafficPermissions selecting this proxy (`rules[]` matches by SNI and/or SPIFFE ID; nothing
//   allowed = deny-all, see egressPermissions) and a tcp_proxy to the STATIC cluster
//   `egress:<name>` of the service's endpoints (plaintext, or TLS with `tls.enabled`).
//   One chain per SNI because the DP's RBAC has no `requested_server_name` permission.
//   With a MeshTrace selecting the proxy, HTTP external services get an HCM with tracing instead of
//   the tcp_proxy (see policies/meshtrace/plugin.ts).
// Policies per listener and SNI chain (docs/policies.md): MeshTimeout (cluster connect timeout,
//   tcp_proxy idle timeout), MeshRateLimit (TCP connection rate first on the chain), and on egress
//   chains of an HTTP external service with an HTTP policy (fault, request rate) an HCM instead of
//   the tcp_proxy, with MeshFaultInjection's faults and MeshTimeout's HTTP timeouts.
// With `routing.zoneEgress: true`, sidecars send cross-zone traffic to the local egress instead of
//   the remote ingress, and the egress passes it on (TLS passthrough by SNI) to the remote ingresses.
import type { Resource } from '../../api/resource.js';
import type { ListenerType } from '../../api/well-known.js';
import { effectiveListeners, zoneProxyRole } from '../../api/zone-proxy.js';
import { cachedResource, type CachedResource, type NamedResource } from '../cache/snapshot.js';
import { endpointsInZone, zoneOfDataplane, type MeshContext, type ServiceEndpoint } from '../context/mesh-context.js';
import {
  certificateSecret,
  clusterLoadAssignment,
  clusterLoadAssignmentResource,
  applyClusterPatches,
  clusterResource,
  edsCluster,
  filterChain,
  listener,
  listenerResource,
  downstreamMtls,
  networkRbacFilter,
  staticCluster,
  externalServiceTls,
  httpConnectionManagerFilter,
  route,
  routeConfiguration,
  tcpProxyFilter,
  virtualHost,
  tlsInspector,
  validationSecret,
} from '../envoy/index.js';
import { egressPermissions } from '../../policies/index.js';
import { AccessLogPlan, accessLogEntries } from '../../policies/meshaccesslog/plugin.js';
import { zoneProxyCircuitBreakers } from '../../policies/meshcircuitbreaker/plugin.js';
import { zoneProxyHealthChecks } from '../../policies/meshhealthcheck/plugin.js';
import type { AccessLog, ClusterPatch, Filter, FilterChain, HttpFilter } from '../envoy/index.js';
import type { DestinationView } from '../../policy-engine/index.js';
import { caSecretName, dataplaneHash, identitySecretName, localitiesOf, proxyWideResources, serviceSni, shared, type ProxyIdentity } from './sidecar.js';
import { proxyTracing, tracedEgressProtocol, type ProxyTracing } from '../../policies/meshtrace/plugin.js';
import type { ProxyMetadata } from '../../policies/common/proxy-metadata.js';
import { zoneProxyTimeouts, type Timeouts } from '../../policies/meshtimeout/plugin.js';
import { zoneProxyRateLimit, type InboundRateLimit } from '../../policies/meshratelimit/plugin.js';
import { zoneProxyFaults } from '../../policies/meshfaultinjection/plugin.js';

/** A zone proxy's config minus its endpoints (same shape as a sidecar's). */
export interface ZoneProxyConfig {
  resources: CachedResource[];
  /** Services whose local-zone ClusterLoadAssignment (ingressLoadAssignment) the proxy gets. */
  endpointServices: string[];
}

/** Name of the ingress cluster (and its load assignment) of a service. */
export function ingressClusterName(service: string): string {
  return `ingress:${service}`;
}

/** Name of a zone ingress listener, after Kuma's `self_zoneingress_dp_<section>`. */
export function zoneIngressListenerName(section: string): string {
  return `self_zoneingress_dp_${section}`;
}

/** Name of a zone egress listener, after Kuma's `self_zoneegress_dp_<section>`. */
export function zoneEgressListenerName(section: string): string {
  return `self_zoneegress_dp_${section}`;
}

/** Name of the egress cluster of an external service. */
export function egressClusterName(name: string): string {
  return `egress:${name}`;
}

/**
 * The zone a zone proxy serves: its `kuma.io/zone` label, else the CP's zone. (With one CP per zone
 * they agree; a single CP can also stand in for several zones by labels, as the e2e test does.)
 */
export function zoneProxyZone(dp: Resource, ctx: MeshContext): string {
  return zoneOfDataplane(dp) || ctx.zone;
}

/** The services an ingress in `zone` serves: those with endpoints in that zone and a known port. */
export function ingressDestinations(ctx: MeshContext, zone: string): { service: string; sni: string }[] {
  const seen = new Set<string>();
  return [...ctx.services.values()]
    .filter((info) => (info.destination || info.lowestPort > 0) && endpointsInZone(ctx, info.name, zone).length > 0)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((info) => ({ service: info.name, sni: info.destination?.sni ?? serviceSni(ctx.mesh.name, info.name, info.lowestPort) }))
    // A standalone MeshService generated from a `kuma.io/service` has that service's SNI: one chain.
    .filter((d) => !seen.has(d.sni) && Boolean(seen.add(d.sni)));
}

/**
 * Everything generateZoneProxyConfig reads: the Dataplane, the mesh, its policies, the identity and
 * the ingress destinations (service + SNI). Local endpoints themselves are load assignments.
 */
export function zoneProxyKey(dp: Resource, ctx: MeshContext, identityVersion: string, meta?: ProxyMetadata): string {
  return JSON.stringify(['zoneproxy', meta ?? {}, dataplaneHash(dp), ctx.meshHash, ctx.policiesHash, identityVersion, ctx.zone, ingressDestinations(ctx, zoneProxyZone(dp, ctx)), [...ctx.externalServices.values()].map((e) => e.hash), crossZoneDestinations(ctx)]);
}

export function generateZoneProxy(dp: Resource, ctx: MeshContext, identity?: ProxyIdentity, meta?: ProxyMetadata): NamedResource[] {
  const { resources, endpointServices } = generateZoneProxyConfig(dp, ctx, identity, meta);
  return [...resources, ...endpointServices.map((service) => ingressLoadAssignment(ctx, zoneProxyZone(dp, ctx), service))];
}

export function generateZoneProxyConfig(dp: Resource, ctx: MeshContext, identity?: ProxyIdentity, meta?: ProxyMetadata): ZoneProxyConfig {
  if (!zoneProxyRole(dp)) return { resources: [], endpointServices: [] };
  const accessLogs = new AccessLogPlan(ctx.policies, dp, meta);
  const config = zoneProxyResources(dp, ctx, accessLogs, identity);
  // MeshAccessLog's OpenTelemetry collectors, for the chains generated above.
  config.resources.push(...accessLogs.clusters().map((c) => cachedResource(c)));
  // Whole-proxy policies (MeshMetric) apply to zone proxies too (SKEIN-SPEC §3).
  config.resources.push(...proxyWideResources(dp, ctx, identity, meta));
  return config;
}

function zoneProxyResources(dp: Resource, ctx: MeshContext, accessLogs: AccessLogPlan, identity?: ProxyIdentity): ZoneProxyConfig {
  const out: CachedResource[] = [];
  const mesh = dp.mesh;
  // The identity (workload SPIFFE ID) is what the egress listener terminates mTLS with; the ingress
  // does not use it.
  if (identity) {
    out.push(cachedResource(certificateSecret(identitySecretName(mesh), identity.certPem, identity.keyPem)));
    out.push(shared(ctx, ['ca', mesh, identity.caPem], () => validationSecret(caSecretName(mesh), identity.caPem)));
  }
  if (identity) out.push(...zoneEgressResources(dp, ctx, accessLogs));
  const ingresses = effectiveListeners(dp).filter((l) => l.type === 'ZoneIngress');
  const destinations = ingresses.length ? ingressDestinations(ctx, zoneProxyZone(dp, ctx)) : [];
  if (destinations.length === 0) return { resources: out, endpointServices: [] };

  const patchesOf = clusterPolicies(dp, ctx);
  const policies = new Map(ingresses.map((l) => [l, destinations.map(({ sni }) => chainPolicies(ctx, dp, l, sni))]));
  destinations.forEach(({ service }, i) => {
    const name = ingressClusterName(service);
    const patches = patchesOf(serviceDestination(ctx, service), 'tcp');
    const connectTimeoutMs = clusterConnectTimeout([...policies.values()].map((list) => list[i]!));
    // Passthrough: no transport socket toward the endpoint (the client's TLS goes through as is).
    out.push(shared(ctx, ['ingress-cluster', name, patches, connectTimeoutMs ?? null], () => clusterResource(applyClusterPatches(edsCluster({ name, ...(connectTimeoutMs ? { connectTimeoutMs } : {}) }), ...patches))));
  });
  for (const l of ingresses) {
    const name = zoneIngressListenerName(l.name);
    const chainPolicy = policies.get(l)!;
    const logs = destinations.map(({ service, sni }) => accessLogs.zoneProxyChain({ type: 'ZoneIngress', name: l.name, port: l.port }, sni, service));
    const chains = destinations.map(({ service, sni }, i) =>
      filterChain({
        name: sni,
        match: { transportProtocol: 'tls', serverNames: [sni] },
        filters: tcpFilters(`${name}_${ingressClusterName(service)}`.replace(/[:.]/g, '_'), ingressClusterName(service), chainPolicy[i]!, [], accessLogEntries(logs[i])),
      }),
    );
    out.push(shared(ctx, ['ingress-listener', name, l.address, l.port, chains.map((c) => c.name), chainPolicy.map(policyKey), logs], () =>
      listenerResource(listener({ name, address: l.address, port: l.port, trafficDirection: 'INBOUND', listenerFilters: [tlsInspector()], filterChains: chains })),
    ));
  }
  return { resources: out, endpointServices: destinations.map((d) => d.service) };
}

/**
 * The destinations a zone egress passes on to other zones (`routing.zoneEgress`): each with the SNI
 * sidecars send and the remote ingresses behind it.
 */
export function crossZoneDestinations(ctx: MeshContext): { service: string; sni: string; remote: ServiceEndpoint[] }[] {
  const seen = new Set<string>();
  return [...ctx.services.values()]
    .filter((info) => info.remote?.length)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((info) => ({ service: info.name, sni: info.destination?.sni ?? serviceSni(ctx.mesh.name, info.name, info.lowestPort), remote: info.remote! }))
    .filter((d) => !seen.has(d.sni) && Boolean(seen.add(d.sni)));
}

/** Name of the egress cluster toward other zones' ingresses for one destination. */
export function egressZoneClusterName(service: string): string {
  return `egress-zone:${service}`;
}

/**
 * The egress listeners of a zone proxy (with mTLS only): one mTLS-terminating, RBAC-guarded chain
 * per external service, and (`routing.zoneEgress`) one TLS passthrough chain per destination in
 * other zones, toward their ingresses. Passthrough keeps mTLS end to end: the remote sidecar still
 * sees, and authorizes, the caller's own identity.
 */
function zoneEgressResources(dp: Resource, ctx: MeshContext, accessLogs: AccessLogPlan): CachedResource[] {
  const out: CachedResource[] = [];
  const mesh = dp.mesh;
  const egresses = effectiveListeners(dp).filter((l) => l.type === 'ZoneEgress');
  const externals = [...ctx.externalServices.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const crossZone = crossZoneDestinations(ctx);
  if (egresses.length === 0 || externals.length + crossZone.length === 0) return out;
  // MeshTrace: HTTP external services get an HCM with tracing instead of a tcp_proxy.
  const trace = proxyTracing(ctx.policies, dp, ctx.zone);
  if (trace && externals.some((e) => tracedEgressProtocol(trace, e.protocol))) out.push(shared(ctx, [trace.key], () => clusterResource(trace.cluster())));
  const patchesOf = clusterPolicies(dp, ctx);
  const policies = new Map(egresses.map((l) => [l, [...externals, ...crossZone].map(({ sni }) => chainPolicies(ctx, dp, l, sni))]));
  const connectTimeout = (i: number) => clusterConnectTimeout([...policies.values()].map((list) => list[i]!));
  externals.forEach((e, i) => {
    const name = egressClusterName(e.name);
    const http2 = tracedEgressProtocol(trace, e.protocol) && e.protocol !== 'http';
    const patches = patchesOf({ kind: 'MeshExternalService', name: e.name }, e.protocol);
    const connectTimeoutMs = connectTimeout(i);
    out.push(shared(ctx, ['egress-cluster', name, e.endpoints, e.tls, e.tlsServerName, e.tlsOptions, http2, patches, connectTimeoutMs ?? null], () => {
      const cluster = staticCluster({ name, http2, ...(connectTimeoutMs ? { connectTimeoutMs } : {}), localities: [{ endpoints: e.endpoints.map((ep) => ({ address: ep.address, port: ep.port, weight: 1 })) }] });
      if (e.tls) cluster.transport_socket = externalServiceTls({ sni: e.tlsServerName, ...e.tlsOptions });
      return clusterResource(applyClusterPatches(cluster, ...patches));
    }));
  });
  crossZone.forEach((d, i) => {
    const name = egressZoneClusterName(d.service);
    const patches = patchesOf(serviceDestination(ctx, d.service), 'tcp');
    const connectTimeoutMs = connectTimeout(externals.length + i);
    out.push(shared(ctx, ['egress-zone-cluster', name, d.remote, patches, connectTimeoutMs ?? null], () => clusterResource(applyClusterPatches(staticCluster({ name, ...(connectTimeoutMs ? { connectTimeoutMs } : {}), localities: localitiesOf(ctx, d.service, d.remote) }), ...patches))));
  });
  for (const l of egresses) {
    const name = zoneEgressListenerName(l.name);
    const chainPolicy = policies.get(l)!;
    const chains = externals.map((e, i): FilterChain => {
      const sni = e.sni;
      const statPrefix = `${name}_${egressClusterName(e.name)}`.replace(/[:.]/g, '_');
      const permissions = egressPermissions(ctx.trafficPermissions, dp, l, sni);
      const rbac = [...(permissions.deny ? [networkRbacFilter(`${statPrefix}.`, permissions.deny)] : []), networkRbacFilter(`${statPrefix}.`, permissions.allow)];
      return {
        ...filterChain({
          name: sni,
          match: { transportProtocol: 'tls', serverNames: [sni] },
          filters: egressFilters(statPrefix, egressClusterName(e.name), e.name, e.protocol, rbac, chainPolicy[i]!, trace, accessLogEntries(accessLogs.zoneProxyChain({ type: 'ZoneEgress', name: l.name, port: l.port }, sni, e.name))),
        }),
        transport_socket: downstreamMtls({ identitySecret: identitySecretName(mesh), caSecret: caSecretName(mesh) }),
      };
    });
    crossZone.forEach((d, i) => {
      chains.push(filterChain({
        name: d.sni,
        match: { transportProtocol: 'tls', serverNames: [d.sni] },
        filters: tcpFilters(`${name}_${egressZoneClusterName(d.service)}`.replace(/[:.]/g, '_'), egressZoneClusterName(d.service), chainPolicy[externals.length + i]!, [], accessLogEntries(accessLogs.zoneProxyChain({ type: 'ZoneEgress', name: l.name, port: l.port }, d.sni, d.service))),
      }));
    });
    out.push(cachedResource(listenerResource(listener({ name, address: l.address, port: l.port, trafficDirection: 'OUTBOUND', listenerFilters: [tlsInspector()], filterChains: chains }))));
  }
  return out;
}

/**
 * SKEIN-SPEC §3: `spec.to[]` of MeshHealthCheck (order 1200) then MeshCircuitBreaker (1300) on a
 * zone proxy's per-destination clusters. Passthrough clusters give protocol `tcp` (TLS bytes only).
 */
function clusterPolicies(dp: Resource, ctx: MeshContext): (destination: DestinationView, protocol: string) => (ClusterPatch | undefined)[] {
  const healthChecks = zoneProxyHealthChecks(ctx.policies, dp);
  const breakers = zoneProxyCircuitBreakers(ctx.policies, dp);
  return (destination, protocol) => [healthChecks(destination, protocol), breakers(destination)];
}

/** A service cluster's destination as `to[]` targetRefs name it: its MeshService, else its `kuma.io/service`. */
function serviceDestination(ctx: MeshContext, service: string): DestinationView {
  const d = ctx.services.get(service)?.destination;
  if (!d) return { kind: 'MeshService', name: service };
  const res = d.kind === 'MeshService' ? ctx.meshServices.get(d.resource) : ctx.multiZoneServices.get(d.resource);
  return { kind: d.kind, name: d.resource, port: d.port, ...(res ? { labels: res.labels } : {}) };
}

/** What MeshTimeout, MeshRateLimit and MeshFaultInjection say about one SNI chain of a zone-proxy listener. */
interface ChainPolicies {
  timeouts?: Timeouts;
  rateLimit: InboundRateLimit;
  faults: HttpFilter[];
}

function chainPolicies(ctx: MeshContext, dp: Resource, l: { type: ListenerType; name: string; port: number }, sni: string): ChainPolicies {
  const timeouts = zoneProxyTimeouts(ctx.policies, dp, l, sni);
  return { ...(timeouts ? { timeouts } : {}), rateLimit: zoneProxyRateLimit(ctx.policies, dp, l, sni), faults: zoneProxyFaults(ctx.policies, dp, l, sni) };
}

/** A cluster serves one SNI on every listener: the first listener with a MeshTimeout decides its connect timeout. */
function clusterConnectTimeout(chains: ChainPolicies[]): number | undefined {
  return chains.find((c) => c.timeouts)?.timeouts?.connectTimeoutMs;
}

function policyKey(c: ChainPolicies): unknown {
  return [c.timeouts ?? null, c.rateLimit.tcp ? Buffer.from(c.rateLimit.tcp.typed_config!.value).toString('base64') : null];
}

/** A TCP chain: the connection rate limit, then the tcp_proxy with the idle timeout. */
function tcpFilters(statPrefix: string, cluster: string, p: ChainPolicies, before: Filter[] = [], accessLogs: AccessLog[] = []): Filter[] {
  const idle = p.timeouts?.idleTimeoutMs;
  return [...(p.rateLimit.tcp ? [p.rateLimit.tcp] : []), ...before, tcpProxyFilter({ statPrefix, cluster, accessLogs, ...(idle !== undefined ? { idleTimeoutMs: idle } : {}) })];
}

/**
 * An egress chain toward an external service (after mTLS termination and RBAC): tcp_proxy, or an
 * HCM routing everything to the service's cluster when the proxy is traced (MeshTrace, HTTP-based
 * services) or an HTTP policy (fault injection, request rate limit) applies to an HTTP service; the
 * HCM carries MeshTimeout's HTTP timeouts too.
 */
function egressFilters(statPrefix: string, cluster: string, service: string, protocol: string, rbac: Filter[], p: ChainPolicies, trace: ProxyTracing | undefined, accessLogs: AccessLog[]): Filter[] {
  const httpFilters = [...(p.rateLimit.http ? [p.rateLimit.http] : []), ...p.faults];
  const traced = trace !== undefined && tracedEgressProtocol(trace, protocol);
  if (!traced && (protocol !== 'http' || httpFilters.length === 0)) return tcpFilters(statPrefix, cluster, p, rbac, accessLogs);
  const t = p.timeouts;
  return [
    ...(p.rateLimit.tcp ? [p.rateLimit.tcp] : []),
    ...rbac,
    httpConnectionManagerFilter({
      statPrefix,
      codecType: 'AUTO',
      httpFilters,
      accessLogs,
      ...(traced ? { tracing: trace.tracing } : {}),
      ...(t?.streamIdleTimeoutMs !== undefined ? { streamIdleTimeoutMs: t.streamIdleTimeoutMs } : {}),
      ...(t?.idleTimeoutMs !== undefined ? { idleTimeoutMs: t.idleTimeoutMs } : {}),
      routeConfig: routeConfiguration(statPrefix, [virtualHost(service, ['*'], [route({ prefix: '/', cluster, timeoutMs: t?.requestTimeoutMs ?? 0 })])]),
    }),
  ];
}

/** The service's endpoints in `zone` as a packed ClusterLoadAssignment, encoded once per MeshContext. */
export function ingressLoadAssignment(ctx: MeshContext, zone: string, service: string): CachedResource {
  let byService = ctx.ingressLoadAssignments.get(zone);
  if (!byService) ctx.ingressLoadAssignments.set(zone, (byService = new Map()));
  let cla = byService.get(service);
  if (!cla) {
    const endpoints = endpointsInZone(ctx, service, zone);
    cla = cachedResource(clusterLoadAssignmentResource(clusterLoadAssignment(ingressClusterName(service), localitiesOf(ctx, service, endpoints))));
    byService.set(service, cla);
  }
  return cla;
}

