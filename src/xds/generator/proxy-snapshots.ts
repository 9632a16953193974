// Builds each connected proxy's snapshot with reuse across regenerations. A proxy's own resources
// (secrets, listeners, clusters) are regenerated and re-encoded only when sidecarKey changes; its
// endpoints are the MeshContext's load assignments, encoded once per service for every proxy. So a
// change of one service's endpoints costs each consumer a snapshot assembly, not a regeneration.
import type { Resource } from '../../api/resource.js';
import { makeSnapshot, type CachedResource, type Snapshot } from '../cache/snapshot.js';
import type { MeshContext } from '../context/mesh-context.js';
import { isZoneProxy } from '../../api/zone-proxy.js';
import type { ProxyMetadata } from '../../policies/common/proxy-metadata.js';
import { generateSidecarConfig, loadAssignment, sidecarKey, type ProxyIdentity, type SidecarConfig } from './sidecar.js';
import { generateZoneProxyConfig, ingressLoadAssignment, zoneProxyKey, zoneProxyZone } from './zone-proxy.js';
import { withProxyPatches } from '../../policies/meshproxypatch/plugin.js';

interface ProxyEntry extends SidecarConfig {
  key: string;
  /** The load assignments of the last snapshot, to tell whether any changed. */
  loadAssignments: CachedResource[];
  snapshot: Snapshot;
  /** A zone proxy: its destinations are every local service of the mesh, present or to come. */
  zoneProxy: boolean;
}

export class ProxySnapshots {
  private readonly entries = new Map<string, ProxyEntry>();

  /**
   * The proxy's snapshot for this context, or undefined when nothing it is made of changed since
   * the last call for the node (its current snapshot stays right).
   */
  build(nodeId: string, dp: Resource, ctx: MeshContext, identity: { identity?: ProxyIdentity; version: string }, meta?: ProxyMetadata): Snapshot | undefined {
    // Zone proxies (SKEIN-SPEC §2) get zone-proxy.ts's config; their keys never equal a sidecar's.
    const zoneProxy = isZoneProxy(dp);
    const key = zoneProxy ? zoneProxyKey(dp, ctx, identity.version, meta) : sidecarKey(dp, ctx, identity.version, meta);
    const previous = this.entries.get(nodeId);
    const generate = zoneProxy ? generateZoneProxyConfig : generateSidecarConfig;
    // MeshProxyPatch runs last, on everything generated (its policies are part of the key).
    const config: SidecarConfig = previous?.key === key ? previous : withProxyPatches(dp, ctx.policies, generate(dp, ctx, identity.identity, meta));
    const zone = zoneProxy ? zoneProxyZone(dp, ctx) : '';
    const loadAssignments = config.endpointServices.map((service) => (zoneProxy ? ingressLoadAssignment(ctx, zone, service) : loadAssignment(ctx, service)));
    if (config === previous && loadAssignments.every((cla, i) => cla === previous.loadAssignments[i])) return undefined;
    const snapshot = makeSnapshot([...config.resources, ...loadAssignments], previous?.snapshot);
    this.entries.set(nodeId, { key, resources: config.resources, endpointServices: config.endpointServices, externalServices: config.externalServices, loadAssignments, snapshot, zoneProxy });
    return snapshot;
  }

  /** Whether the node's config uses any of the services (it does if it has none yet). */
  usesAny(nodeId: string, services: Set<string>): boolean {
    const entry = this.entries.get(nodeId);
    return !entry || entry.zoneProxy || [...entry.endpointServices, ...(entry.externalServices ?? [])].some((service) => services.has(service));
  }

  /** Drops what is kept for a node (it disconnected): the next build starts from scratch. */
  forget(nodeId: string): void {
    this.entries.delete(nodeId);
  }
}
