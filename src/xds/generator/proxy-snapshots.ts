// Builds each connected proxy's snapshot with reuse across regenerations. A proxy's own resources
// (secrets, listeners, clusters) are regenerated and re-encoded only when sidecarKey changes; its
// endpoints are the MeshContext's load assignments, encoded once per service for every proxy. So a
// change of one service's endpoints costs each consumer a snapshot assembly, not a regeneration.
import type { Resource } from '../../api/resource.js';
import { makeSnapshot, type CachedResource, type Snapshot } from '../cache/snapshot.js';
import type { MeshContext } from '../context/mesh-context.js';
import { generateSidecarConfig, loadAssignment, sidecarKey, type ProxyIdentity, type SidecarConfig } from './sidecar.js';

interface ProxyEntry extends SidecarConfig {
  key: string;
  /** The load assignments of the last snapshot, to tell whether any changed. */
  loadAssignments: CachedResource[];
  snapshot: Snapshot;
}

export class ProxySnapshots {
  private readonly entries = new Map<string, ProxyEntry>();

  /**
   * The proxy's snapshot for this context, or undefined when nothing it is made of changed since
   * the last call for the node (its current snapshot stays right).
   */
  build(nodeId: string, dp: Resource, ctx: MeshContext, identity: { identity?: ProxyIdentity; version: string }): Snapshot | undefined {
    const key = sidecarKey(dp, ctx, identity.version);
    const previous = this.entries.get(nodeId);
    const config: SidecarConfig = previous?.key === key ? previous : generateSidecarConfig(dp, ctx, identity.identity);
    const loadAssignments = config.endpointServices.map((service) => loadAssignment(ctx, service));
    if (config === previous && loadAssignments.every((cla, i) => cla === previous.loadAssignments[i])) return undefined;
    const snapshot = makeSnapshot([...config.resources, ...loadAssignments], previous?.snapshot);
    this.entries.set(nodeId, { key, resources: config.resources, endpointServices: config.endpointServices, loadAssignments, snapshot });
    return snapshot;
  }

  /** Whether the node's config uses any of the services (it does if it has none yet). */
  usesAny(nodeId: string, services: Set<string>): boolean {
    const entry = this.entries.get(nodeId);
    return !entry || entry.endpointServices.some((service) => services.has(service));
  }

  /** Drops what is kept for a node (it disconnected): the next build starts from scratch. */
  forget(nodeId: string): void {
    this.entries.delete(nodeId);
  }
}
