// RBAC filters (network and HTTP) in Envoy's `rules` form: principals are matched against the
// peer certificate's URI SANs (`authenticated.principal_name`).
import { typedExtension } from './common.js';
import type { Filter, HttpFilter, StringMatcher } from './types.js';

const NETWORK_RBAC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
const HTTP_RBAC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';

export type Principal =
  | { any: true }
  | { authenticated: { principal_name: StringMatcher } }
  | { and_ids: { ids: Principal[] } }
  | { or_ids: { ids: Principal[] } }
  | { not_id: Principal };

export interface RbacRules {
  action: 'ALLOW' | 'DENY';
  /** Policy name → who matches it. ALLOW with no policies denies everyone. */
  policies: Record<string, { permissions: { any: true }[]; principals: Principal[] }>;
}

export function principalName(matcher: StringMatcher): Principal {
  return { authenticated: { principal_name: matcher } };
}

export function allOf(ids: Principal[]): Principal {
  return ids.length === 1 ? ids[0]! : { and_ids: { ids } };
}

export function anyOf(ids: Principal[]): Principal {
  return ids.length === 1 ? ids[0]! : { or_ids: { ids } };
}

export function rbacRules(action: RbacRules['action'], policyName: string, principals: Principal[]): RbacRules {
  return { action, policies: principals.length ? { [policyName]: { permissions: [{ any: true }], principals } } : {} };
}

export function networkRbacFilter(statPrefix: string, rules: RbacRules): Filter {
  return typedExtension('envoy.filters.network.rbac', NETWORK_RBAC_TYPE_URL, { stat_prefix: statPrefix, rules });
}

export function httpRbacFilter(rules: RbacRules): HttpFilter {
  return typedExtension('envoy.filters.http.rbac', HTTP_RBAC_TYPE_URL, { rules });
}
