// MeshTrafficPermission → RBAC on the mTLS filter chain of each inbound listener.
// The result is two rule sets: DENY (who is refused outright) and ALLOW (who else may call).
// No matching permission means nobody is allowed (fail closed), as in Kuma.
import type { Resource } from '../../api/resource.js';
import { selectsInbound, specificity, type InboundView, type TargetRef } from '../../policy-engine/target-ref.js';
import { allOf, anyOf, principalName, rbacRules, type Principal, type RbacRules } from '../../xds/envoy/rbac.js';
import type { IdentityMatch, MeshTrafficPermissionSpec } from './api.js';

export interface InboundPermissions {
  deny: RbacRules | undefined;
  allow: RbacRules;
}

/** Which callers one inbound accepts, from every MeshTrafficPermission of its mesh. */
export function inboundPermissions(mesh: string, policies: Resource[], dp: Resource, inbound: InboundView): InboundPermissions {
  const matched = policies
    .filter((p) => selectsInbound((p.spec as MeshTrafficPermissionSpec).targetRef ?? { kind: 'Mesh' }, dp, inbound))
    .sort((a, b) => specificity(spec(a).targetRef ?? { kind: 'Mesh' }) - specificity(spec(b).targetRef ?? { kind: 'Mesh' }) || (a.name < b.name ? -1 : 1));

  // `from` entries: the most specific matching entry decides, so an Allow is overridden by any Deny
  // that comes later in this order. Encoded as: allowed by E and not denied by anything after E.
  const entries = matched
    .flatMap((p, policyIndex) => (spec(p).from ?? []).map((f) => ({ ref: f.targetRef ?? { kind: 'Mesh' as const }, action: f.default?.action, policyIndex })))
    .map((e) => ({ ...e, principal: fromPrincipal(mesh, e.ref) }))
    .sort((a, b) => specificity(a.ref) - specificity(b.ref) || a.policyIndex - b.policyIndex);
  const allow: Principal[] = [];
  entries.forEach((entry, i) => {
    if (entry.action === 'Deny') return;
    const overriding = entries.slice(i + 1).filter((later) => later.action === 'Deny').map((later) => later.principal);
    allow.push(overriding.length ? allOf([entry.principal, { not_id: anyOf(overriding) }]) : entry.principal);
  });

  // `rules` entries: deny wins over allow, whatever the order.
  const deny: Principal[] = [];
  for (const p of matched) {
    for (const rule of spec(p).rules ?? []) {
      const conf = rule.default ?? {};
      deny.push(...(conf.deny ?? []).map(identityPrincipal));
      allow.push(...[...(conf.allow ?? []), ...(conf.allowWithShadowDeny ?? [])].map(identityPrincipal));
    }
  }
  return {
    deny: deny.length ? rbacRules('DENY', 'MeshTrafficPermission', [anyOf(deny)]) : undefined,
    allow: rbacRules('ALLOW', 'MeshTrafficPermission', allow.length ? [anyOf(allow)] : []),
  };
}

function spec(p: Resource): MeshTrafficPermissionSpec {
  return p.spec as MeshTrafficPermissionSpec;
}

/** A `from` targetRef as a principal: the URI SANs every mesh certificate carries. */
function fromPrincipal(mesh: string, ref: TargetRef): Principal {
  const ids: Principal[] = [];
  if (ref.kind === 'MeshService' || ref.kind === 'MeshServiceSubset') ids.push(principalName({ exact: `spiffe://${mesh}/${ref.name}` }));
  if (ref.kind === 'MeshSubset' || ref.kind === 'MeshServiceSubset') {
    for (const [key, value] of Object.entries(ref.tags ?? {})) {
      ids.push(principalName({ exact: key === 'kuma.io/service' ? `spiffe://${mesh}/${value}` : `kuma://${key}/${value}` }));
    }
  }
  return ids.length ? allOf(ids) : { any: true };
}

function identityPrincipal(match: IdentityMatch): Principal {
  const { type, value = '' } = match.spiffeID ?? {};
  return principalName(type === 'Prefix' ? { prefix: value } : { exact: value });
}
