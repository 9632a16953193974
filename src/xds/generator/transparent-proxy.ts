// Transparent proxying (Kuma's TransparentProxyGenerator, outbound side, IPv4): iptables redirects
// the application's outgoing TCP connections to `networking.transparentProxying.redirectPortOutbound`,
// where the listener `outbound:passthrough:ipv4` (0.0.0.0, use_original_dst) takes them. A connection
// whose original destination is one of the proxy's outbound listeners is handed to that listener (mesh
// services keep working); any other one runs the listener's own chain: tcp_proxy to the ORIGINAL_DST
// cluster `outbound:passthrough:ipv4`, i.e. out of the mesh to where it was going. That cluster exists
// only while the mesh's `networking.outbound.passthrough` is on (the default): with it off, the chain
// points at a missing cluster, so such connections are closed (Envoy counts downstream_cx_no_route).
import type { Resource } from '../../api/resource.js';
import type { DataplaneSpec } from '../../api/kinds/dataplane-spec.js';
import { passthroughEnabled, type MeshSpec } from '../../api/kinds/mesh.js';
import type { NamedResource } from '../cache/snapshot.js';
import { clusterResource, filterChain, listener, listenerResource, originalDstCluster, tcpProxyFilter } from '../envoy/index.js';

export const OUTBOUND_PASSTHROUGH_IPV4 = 'outbound:passthrough:ipv4';
const PASSTHROUGH_STAT_NAME = 'outbound_passthrough_ipv4';
const PASSTHROUGH_CONNECT_TIMEOUT_MS = 10_000;

/** The port iptables redirects outgoing traffic to, when the Dataplane runs in transparent mode. */
export function redirectPortOutbound(dp: Resource): number | undefined {
  const port = (dp.spec as DataplaneSpec).networking?.transparentProxying?.redirectPortOutbound;
  return typeof port === 'number' && port > 0 ? port : undefined;
}

/** The mesh's `networking.outbound.passthrough` (default true). */
export function meshPassthrough(mesh: Resource): boolean {
  return passthroughEnabled(mesh.spec as MeshSpec);
}

export function outboundPassthroughListener(port: number): NamedResource {
  return listenerResource(
    listener({
      name: OUTBOUND_PASSTHROUGH_IPV4,
      address: '0.0.0.0',
      port,
      trafficDirection: 'OUTBOUND',
      useOriginalDst: true,
      filterChains: [filterChain({ filters: [tcpProxyFilter({ statPrefix: PASSTHROUGH_STAT_NAME, cluster: OUTBOUND_PASSTHROUGH_IPV4 })] })],
    }),
  );
}

export function outboundPassthroughCluster(): NamedResource {
  return clusterResource(
    originalDstCluster({ name: OUTBOUND_PASSTHROUGH_IPV4, altStatName: PASSTHROUGH_STAT_NAME, connectTimeoutMs: PASSTHROUGH_CONNECT_TIMEOUT_MS }),
  );
}
