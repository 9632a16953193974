// Envoy v3 resources for a sidecar in Universal, non-transparent mode:
//   inbound listener per networking.inbound[]   → local service (cluster localhost:<servicePort>)
//   outbound listener per networking.outbound[] → service cluster (EDS, endpoints from the mesh)
// TCP services get tcp_proxy; http/http2/grpc get an http_connection_manager with one route.
import type { Resource } from '../../api/resource.js';
import type { NamedResource } from '../cache/snapshot.js';
import { networkingOf, type MeshContext } from '../context/mesh-context.js';
import {
  clusterLoadAssignment,
  clusterLoadAssignmentResource,
  clusterResource,
  edsCluster,
  filterChain,
  httpConnectionManagerFilter,
  listener,
  listenerResource,
  route,
  routeConfiguration,
  staticCluster,
  tcpProxyFilter,
  virtualHost,
  type Filter,
  type LocalityOptions,
  type TrafficDirection,
} from '../envoy/index.js';

const HTTP_PROTOCOLS = new Set(['http', 'http2', 'grpc']);
const OUTBOUND_ROUTE_TIMEOUT_MS = 15_000;

export function generateSidecar(dp: Resource, ctx: MeshContext): NamedResource[] {
  const out: NamedResource[] = [];
  const net = networkingOf(dp);
  const localClusters = new Set<string>();

  for (const inbound of net.inbound ?? []) {
    const service = inbound.tags?.['kuma.io/service'] ?? dp.name;
    const protocol = inbound.tags?.['kuma.io/protocol'] ?? 'tcp';
    const servicePort = inbound.servicePort ?? inbound.port;
    const cluster = `localhost:${servicePort}`;
    if (!localClusters.has(cluster)) {
      localClusters.add(cluster);
      const endpoints = [{ address: inbound.serviceAddress ?? '127.0.0.1', port: servicePort }];
      out.push(clusterResource(staticCluster({ name: cluster, connectTimeoutMs: 10_000, http2: isHttp2(protocol), localities: [{ endpoints }] })));
    }
    const address = inbound.address ?? net.address;
    out.push(proxyListener(`inbound:${address}:${inbound.port}`, address, inbound.port, 'INBOUND', service, cluster, protocol));
  }

  const services = new Set<string>();
  for (const outbound of net.outbound ?? []) {
    const service = outbound.tags?.['kuma.io/service'];
    if (!service) continue;
    const info = ctx.services.get(service);
    const protocol = outbound.tags?.['kuma.io/protocol'] ?? info?.protocol ?? 'tcp';
    const address = outbound.address ?? '127.0.0.1';
    out.push(proxyListener(`outbound:${address}:${outbound.port}`, address, outbound.port, 'OUTBOUND', service, service, protocol));
    if (services.has(service)) continue;
    services.add(service);
    out.push(clusterResource(edsCluster({ name: service, http2: isHttp2(protocol) })));
    out.push(clusterLoadAssignmentResource(clusterLoadAssignment(service, localitiesOf(ctx, service))));
  }
  return out;
}

function isHttp2(protocol: string): boolean {
  return protocol === 'http2' || protocol === 'grpc';
}

function proxyListener(name: string, address: string, port: number, direction: TrafficDirection, service: string, cluster: string, protocol: string): NamedResource {
  const statPrefix = name.replace(/[:.]/g, '_');
  let filter: Filter;
  if (HTTP_PROTOCOLS.has(protocol)) {
    const timeoutMs = direction === 'OUTBOUND' ? OUTBOUND_ROUTE_TIMEOUT_MS : 0;
    filter = httpConnectionManagerFilter({
      statPrefix,
      codecType: 'AUTO',
      routeConfig: routeConfiguration(name, [virtualHost(service, ['*'], [route({ prefix: '/', cluster, timeoutMs })])]),
    });
  } else {
    filter = tcpProxyFilter({ statPrefix, cluster });
  }
  return listenerResource(listener({ name, address, port, trafficDirection: direction, filterChains: [filterChain({ filters: [filter] })] }));
}

/** Endpoints of a service grouped by zone (locality). */
function localitiesOf(ctx: MeshContext, service: string): LocalityOptions[] {
  const byZone = new Map<string, LocalityOptions>();
  for (const e of ctx.services.get(service)?.endpoints ?? []) {
    let locality = byZone.get(e.zone);
    if (!locality) byZone.set(e.zone, (locality = { zone: e.zone, endpoints: [] }));
    locality.endpoints.push({ address: e.address, port: e.port, health: e.healthy ? 'HEALTHY' : 'UNHEALTHY', weight: 1 });
  }
  return [...byZone.values()];
}
