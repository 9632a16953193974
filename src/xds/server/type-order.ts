// Envoy's ordering rules for ADS: clusters before their endpoints, listeners before their routes,
// all of those after the secrets they reference (see the xDS protocol's "eventual consistency
// considerations"). Types Skein does not know go last, in a stable order.
import { TypeUrl } from '../../envoy/protos.js';

const PUSH_ORDER: readonly string[] = [
  TypeUrl.Secret,
  TypeUrl.Cluster,
  TypeUrl.ClusterLoadAssignment,
  TypeUrl.Listener,
  TypeUrl.RouteConfiguration,
];

function rank(typeUrl: string): number {
  const i = PUSH_ORDER.indexOf(typeUrl);
  return i === -1 ? PUSH_ORDER.length : i;
}

export function inPushOrder(typeUrls: Iterable<string>): string[] {
  return [...typeUrls].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Types whose empty first request means "everything" (legacy wildcard). */
export function isWildcardType(typeUrl: string): boolean {
  return typeUrl === TypeUrl.Listener || typeUrl === TypeUrl.Cluster;
}
