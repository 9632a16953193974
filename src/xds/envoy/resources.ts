// Packs top-level Envoy messages into named resources for a snapshot.
import { packAny, TypeUrl } from '../../envoy/protos.js';
import type { NamedResource } from '../cache/snapshot.js';
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from './types.js';

function pack(typeUrl: string, name: string, message: object): NamedResource {
  return { name, any: packAny(typeUrl, message as Record<string, unknown>) };
}

export function listenerResource(listener: Listener): NamedResource {
  return pack(TypeUrl.Listener, listener.name, listener);
}

export function routeConfigurationResource(routeConfiguration: RouteConfiguration): NamedResource {
  return pack(TypeUrl.RouteConfiguration, routeConfiguration.name, routeConfiguration);
}

export function clusterResource(cluster: Cluster): NamedResource {
  return pack(TypeUrl.Cluster, cluster.name, cluster);
}

export function clusterLoadAssignmentResource(assignment: ClusterLoadAssignment): NamedResource {
  return pack(TypeUrl.ClusterLoadAssignment, assignment.cluster_name, assignment);
}
