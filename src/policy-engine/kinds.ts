// What the engine needs to know about a policy kind beyond its spec: how `from` is read and which
// lists merge by concatenation. Policies register themselves (src/policies/kinds.ts).

export interface PolicyKindInfo {
  name: string;
  /**
   * `from[]` items act as catch-all inbound rules (Kuma `IsFromAsRules`): MeshTimeout,
   * MeshRateLimit, MeshCircuitBreaker, MeshAccessLog. Otherwise `from` is the legacy per-caller form
   * (MeshTrafficPermission, MeshFaultInjection), returned as is in `from`.
   */
  fromAsRules?: boolean;
  /** A single proxy-wide `spec.default` (MeshTrace, MeshMetric, MeshProxyPatch). */
  singleItem?: boolean;
  /** Lists concatenated across policies instead of replaced (paths inside `default`). */
  appendPaths?: string[][];
}

const kinds = new Map<string, PolicyKindInfo>();

export function registerPolicyKind(info: PolicyKindInfo): void {
  kinds.set(info.name, info);
}

export function policyKindInfo(name: string): PolicyKindInfo {
  return kinds.get(name) ?? { name };
}

export function registeredPolicyKinds(): PolicyKindInfo[] {
  return [...kinds.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}
