// MeshTrafficPermission → RBAC on the mTLS filter chain of each inbound listener.
// The result is two rule sets: DENY (who is refused outright) and ALLOW (who else may call).
// No matching permission means nobody is allowed (fail closed), as in Kuma.
import type { Resource } from '../../api/resource.js';
import { matchPolicies, proxyViewOf, specificity, type InboundView, type ListenerView, type ProxyView, type Rule, type TargetRef } from '../../policy-engine/index.js';
import { allOf, anyOf, principalName, rbacRules, type Principal, type RbacRules } from '../../xds/envoy/rbac.js';
import type { IdentityMatch, MeshTrafficPermissionSpec } from './api.js';

export interface InboundPermissions {
  deny: RbacRules | undefined;
  allow: RbacRules;
}

type RuleConf = NonNullable<NonNullable<MeshTrafficPermissionSpec['rules']>[number]['default']>;
type FromConf = { action?: string };

/** The proxy as the engine sees it, reduced to the one inbound or listener being generated. */
function viewOf(dp: Resource, part: { inbounds?: InboundView[]; listeners?: ListenerView[] }): ProxyView {
  return { ...proxyViewOf(dp), inbounds: part.inbounds ?? [], listeners: part.listeners ?? [], outbounds: [] };
}

/** Which callers one inbound accepts, from every MeshTrafficPermission of its mesh. */
export function inboundPermissions(mesh: string, policies: Resource[], dp: Resource, inbound: InboundView): InboundPermissions {
  const rules = matchPolicies<RuleConf & FromConf>(viewOf(dp, { inbounds: [inbound] }), policies, 'MeshTrafficPermission').inbounds[0];
  const from = rules?.from ?? [];
  const ruleList = (rules?.rules ?? []) as Rule<RuleConf>[];

  // `from` entries: the most specific matching entry decides, so an Allow is overridden by any Deny
  // that comes later in this order (the engine's policy order, then the caller's specificity).
  // Encoded as: allowed by E and not denied by anything after E.
  const entries = from
    .map((e, i) => ({ ref: e.targetRef, action: (e.conf as FromConf).action, i, principal: fromPrincipal(mesh, e.targetRef) }))
    .sort((a, b) => specificity(a.ref) - specificity(b.ref) || a.i - b.i);
  const allow: Principal[] = [];
  entries.forEach((entry, i) => {
    if (entry.action === 'Deny') return;
    const overriding = entries.slice(i + 1).filter((later) => later.action === 'Deny').map((later) => later.principal);
    allow.push(overriding.length ? allOf([entry.principal, { not_id: anyOf(overriding) }]) : entry.principal);
  });

  // `rules` entries: deny wins over allow, whatever the order. A sidecar inbound has no SNI to
  // match on: a match naming one (zone egress only) never applies here.
  const { deny, allow: ruleAllow } = ruleMatches(ruleList, () => false);
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
  const view = viewOf(dp, { listeners: [{ type: 'ZoneEgress', name: listener.name, port: listener.port }] });
  const rules = matchPolicies<RuleConf>(view, policies, 'MeshTrafficPermission').listeners[0];
  const { deny, allow } = ruleMatches(rules?.rules ?? [], (value) => value === sni);
  return toPermissions(deny, allow);
}

/** Principals of the `rules[]` matches that can apply, given which SNI values hold. */
function ruleMatches(rules: Rule<RuleConf>[], sniHolds: (value: string) => boolean): { deny: Principal[]; allow: Principal[] } {
  const deny: Principal[] = [];
  const allow: Principal[] = [];
  const principals = (matches: IdentityMatch[]): Principal[] =>
    matches.filter((m) => !m.sni || sniHolds(m.sni.value ?? '')).map((m) => (m.spiffeID ? identityPrincipal(m) : { any: true }));
  for (const { conf } of rules) {
    deny.push(...principals(conf.deny ?? []));
    allow.push(...principals([...(conf.allow ?? []), ...(conf.allowWithShadowDeny ?? [])]));
  }
  return { deny, allow };
}

function toPermissions(deny: Principal[], allow: Principal[]): InboundPermissions {
  return {
    deny: deny.length ? rbacRules('DENY', 'MeshTrafficPermission', [anyOf(deny)]) : undefined,
    allow: rbacRules('ALLOW', 'MeshTrafficPermission', allow.length ? [anyOf(allow)] : []),
  };
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
  const targetsThis = (p: Resource) => specOf(p).targetRef?.kind === 'MeshExternalService' && specOf(p).targetRef?.name === name;
  const relevant = policies.filter((p) => targetsThis(p) || (specOf(p).targetRef?.kind ?? 'Mesh') === 'Mesh').sort((a, b) => (a.name < b.name ? -1 : 1));
  const ids = clientIdentities(mesh.name, client);
  const holds = (m: IdentityMatch) => {
    if (m.sni && m.sni.value !== sni) return false;
    if (!m.spiffeID) return true;
    const value = m.spiffeID.value ?? '';
    return ids.uris.some((u) => (m.spiffeID!.type === 'Prefix' ? u.startsWith(value) : u === value));
  };
  let allowed = false;
  for (const p of relevant) {
    for (const rule of specOf(p).rules ?? []) {
      const conf = rule.default ?? {};
      if ((conf.deny ?? []).some(holds)) return false;
      if ([...(conf.allow ?? []), ...(conf.allowWithShadowDeny ?? [])].some(holds)) allowed = true;
    }
  }
  const entries = relevant
    .filter(targetsThis)
    .flatMap((p) => (specOf(p).from ?? []).map((f) => ({ ref: f.targetRef ?? { kind: 'Mesh' as const }, action: f.default?.action })))
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

function specOf(p: Resource): MeshTrafficPermissionSpec {
  return p.spec as MeshTrafficPermissionSpec;
}
