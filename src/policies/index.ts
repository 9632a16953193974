// The policies' entry point for the control plane: registers the kinds and exposes the plugins.
import './kinds.js';
import { defaultCircuitBreakerPolicy } from './meshcircuitbreaker/api.js';
import { defaultRetryPolicy } from './meshretry/api.js';
import { defaultGatewayTimeoutPolicy, defaultTimeoutPolicy } from './meshtimeout/api.js';

export { allowAllPolicy } from './meshtrafficpermission/api.js';
export { egressPermissions, externalServiceAllowed, inboundPermissions, type InboundPermissions } from './meshtrafficpermission/plugin.js';
export { resolveBackendRef, type ResolvedOtelBackend } from './meshopentelemetrybackend/api.js';

/** Kuma 2.14's default policies of a new mesh, in creation order. */
export function initialPolicies(mesh: string): { type: string; mesh: string; name: string; labels: Record<string, string>; spec: object }[] {
  return [defaultTimeoutPolicy(mesh), defaultGatewayTimeoutPolicy(mesh), defaultCircuitBreakerPolicy(mesh), defaultRetryPolicy(mesh)];
}
