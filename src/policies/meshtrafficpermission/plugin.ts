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

  // `rules` entries: deny wins over allow, whatever the order. A sidecar inbound has no SNI to
  // match on: a match naming one (zone egress only) never applies here.
  const { deny, allow: ruleAllow } = ruleMatches(matched, () => false);
  allow.push(...ruleAllow);
  return toPermissions(deny, allow);
}

/**
 * Which callers a zone egress lets through to the external service behind `sni`, on its listener
 * `listener` (name and port, for `sectionName`). Only `rules[]` count (the legacy `from[]` form
 * names mesh services, not external ones): without a matching allow entry the egress denies, so
 * a mesh's default allow-all policy does not open it.
 */
export function egressPermissions(policies: Resource[], dp: Resource, listener: { name: string; port: number }, sni: string): InboundPermissions {
  const matched = policies
    .filter((p) => selectsInbound(spec(p).targetRef ?? { kind: 'Mesh' }, dp, { name: listener.name, port: listener.port, tags: {} }))
    .sort((a, b) => specificity(spec(a).targetRef ?? { kind: 'Mesh' }) - specificity(spec(b).targetRef ?? { kind: 'Mesh' }) || (a.name < b.name ? -1 : 1));
  const { deny, allow } = ruleMatches(matched, (value) => value === sni);
  return toPermissions(deny, allow);
}

/** Principals of the `rules[]` matches that can apply, given which SNI values hold. */
function ruleMatches(matched: Resource[], sniHolds: (value: string) => boolean): { deny: Principal[]; allow: Principal[] } {
  const deny: Principal[] = [];
  const allow: Principal[] = [];
  const principals = (matches: IdentityMatch[]): Principal[] =>
    matches.filter((m) => !m.sni || sniHolds(m.sni.value ?? '')).map((m) => (m.spiffeID ? identityPrincipal(m) : { any: true }));
  for (const p of matched) {
    for (const rule of spec(p).rules ?? []) {
      const conf = rule.default ?? {};
      deny.push(...principals(conf.deny ?? []));
      allow.push(...principals([...(conf.allow ?? []), ...(conf.allowWithShadowDeny ?? [])]));
    }
  }
  return { deny, allow };
}

function toPermissions(deny: Principal[], allow: Principal[]): InboundPermissions {
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

/**
 * Whether a sidecar may reach a MeshExternalService directly (no zone egress in the path) under the
 * mesh's `routing.defaultForbidMeshExternalServiceAccess`: when it is on, only if a permission
 * allows the sidecar. Counted: `rules[]` of policies targeting the Mesh or this MeshExternalService
 * (a match on the service's SNI and/or the sidecar's SPIFFE IDs; deny wins), and `from[]` of policies
 * targeting this MeshExternalService by name (most specific entry decides). A mesh-wide allow-all
 * `from[]` does not open external services. The control plane enforces it by not generating the
 * outbound, so a forbidden sidecar has no route to the service at all.
 */
export function externalServiceAllowed(mesh: Resource, policies: Resource[], client: Resource, name: string, sni: string): boolean {
  const routing = mesh.spec['routing'] as { defaultForbidMeshExternalServiceAccess?: boolean } | undefined;
  if (routing?.defaultForbidMeshExternalServiceAccess !== true) return true;
  const targetsThis = (p: Resource) => spec(p).targetRef?.kind === 'MeshExternalService' && spec(p).targetRef?.name === name;
  const relevant = policies.filter((p) => targetsThis(p) || (spec(p).targetRef?.kind ?? 'Mesh') === 'Mesh').sort((a, b) => (a.name < b.name ? -1 : 1));
  const ids = clientIdentities(mesh.name, client);
  const holds = (m: IdentityMatch) => {
    if (m.sni && m.sni.value !== sni) return false;
    if (!m.spiffeID) return true;
    const value = m.spiffeID.value ?? '';
    return ids.uris.some((u) => (m.spiffeID!.type === 'Prefix' ? u.startsWith(value) : u === value));
  };
  let allowed = false;
  for (const p of relevant) {
    for (const rule of spec(p).rules ?? []) {
      const conf = rule.default ?? {};
      if ((conf.deny ?? []).some(holds)) return false;
      if ([...(conf.allow ?? []), ...(conf.allowWithShadowDeny ?? [])].some(holds)) allowed = true;
    }
  }
  const entries = relevant
    .filter(targetsThis)
    .flatMap((p) => (spec(p).from ?? []).map((f) => ({ ref: f.targetRef ?? { kind: 'Mesh' as const }, action: f.default?.action })))
    .filter((e) => fromMatchesClient(e.ref, ids))
    .sort((a, b) => specificity(a.ref) - specificity(b.ref));
  const decisive = entries[entries.length - 1];
  if (decisive) allowed = decisive.action !== 'Deny';
  return allowed;
}

function clientIdentities(mesh: string, dp: Resource): { uris: string[]; tagSets: Record<string, string>[] } {
  const inbounds = ((dp.spec['networking'] as { inbound?: { tags?: Record<string, string> }[] } | undefined)?.inbound ?? []).map((i) => i.tags ?? {});
  const uris = new Set<string>();
  for (const tags of inbounds) if (tags['kuma.io/service']) uris.add(`spiffe://${mesh}/${tags['kuma.io/service']}`);
  const workload = dp.labels['kuma.io/workload'];
  if (workload) uris.add(`spiffe://${mesh}/workload/${workload}`);
  return { uris: [...uris], tagSets: inbounds };
}

function fromMatchesClient(ref: TargetRef, ids: { tagSets: Record<string, string>[] }): boolean {
  const has = (want: Record<string, string> | undefined) => ids.tagSets.some((t) => Object.entries(want ?? {}).every(([k, v]) => t[k] === v));
  switch (ref.kind) {
    case 'Mesh':
      return true;
    case 'MeshSubset':
      return has(ref.tags);
    case 'MeshService':
      return has({ 'kuma.io/service': ref.name ?? '' });
    case 'MeshServiceSubset':
      return has({ ...ref.tags, 'kuma.io/service': ref.name ?? '' });
    default:
      return false;
  }
}
