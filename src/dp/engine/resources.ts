// The five kinds of resources the engine runs, keyed the way xDS names them.
import { TypeUrl } from '../../envoy/protos.js';
import type { Obj } from './proto-values.js';

export type ResourceKind = 'listeners' | 'clusters' | 'routes' | 'endpoints' | 'secrets';

export const RESOURCE_KINDS: readonly ResourceKind[] = ['listeners', 'clusters', 'routes', 'endpoints', 'secrets'];

export const KIND_BY_TYPE_URL: Record<string, ResourceKind> = {
  [TypeUrl.Listener]: 'listeners',
  [TypeUrl.Cluster]: 'clusters',
  [TypeUrl.RouteConfiguration]: 'routes',
  [TypeUrl.ClusterLoadAssignment]: 'endpoints',
  [TypeUrl.Secret]: 'secrets',
};

export const TYPE_URL_BY_KIND: Record<ResourceKind, string> = {
  listeners: TypeUrl.Listener,
  clusters: TypeUrl.Cluster,
  routes: TypeUrl.RouteConfiguration,
  endpoints: TypeUrl.ClusterLoadAssignment,
  secrets: TypeUrl.Secret,
};

/**
 * Decoded Envoy resources (unpackAny output). For each kind given, the list replaces the whole set
 * of that kind; kinds left out stay as they are.
 */
export type ResourceUpdate = Partial<Record<ResourceKind, Obj[]>>;

/** The xDS name of a resource (ClusterLoadAssignment is named by cluster_name). */
export function resourceName(kind: ResourceKind, resource: Obj): string {
  const name = kind === 'endpoints' ? resource.cluster_name : resource.name;
  return typeof name === 'string' ? name : '';
}
