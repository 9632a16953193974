// Cluster load assignments (EDS): endpoints grouped by locality, with health and weights.
import { socketAddress } from './common.js';
import type { ClusterLoadAssignment, HealthStatus, LbEndpoint, LocalityLbEndpoints } from './types.js';

export interface EndpointOptions {
  address: string;
  port: number;
  health?: HealthStatus;
  weight?: number;
}

export interface LocalityOptions {
  zone?: string;
  region?: string;
  subZone?: string;
  /** Locality weight; gRPC clients need it set (non-zero). Defaults to 1. */
  weight?: number;
  priority?: number;
  endpoints: EndpointOptions[];
}

export function clusterLoadAssignment(clusterName: string, localities: LocalityOptions[]): ClusterLoadAssignment {
  return { cluster_name: clusterName, endpoints: localities.map(localityLbEndpoints) };
}

function localityLbEndpoints(options: LocalityOptions): LocalityLbEndpoints {
  const group: LocalityLbEndpoints = {
    locality: { region: options.region ?? '', zone: options.zone ?? '', sub_zone: options.subZone ?? '' },
    lb_endpoints: options.endpoints.map(lbEndpoint),
    load_balancing_weight: { value: options.weight ?? 1 },
  };
  if (options.priority) group.priority = options.priority;
  return group;
}

function lbEndpoint(options: EndpointOptions): LbEndpoint {
  const endpoint: LbEndpoint = { endpoint: { address: socketAddress(options.address, options.port) } };
  if (options.health) endpoint.health_status = options.health;
  if (options.weight !== undefined) endpoint.load_balancing_weight = { value: options.weight };
  return endpoint;
}
