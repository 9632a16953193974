// The policies a new mesh starts with (Kuma 2.14 `pkg/defaults/mesh`): MeshTimeout
// `mesh-timeout-all-<mesh>` (sidecars) and `mesh-gateways-timeout-all-<mesh>` (gateways),
// MeshCircuitBreaker `mesh-circuit-breaker-all-<mesh>`, MeshRetry `mesh-retry-all-<mesh>`; plus
// Skein's `allow-all` MeshTrafficPermission, so enabling mTLS does not cut traffic until the user
// writes their own. The mesh's `skipCreatingInitialPolicies` opts out: `*` skips all, a kind name
// (`MeshTimeout`) skips that kind's policies, a policy name skips that one.
import type { Resource } from '../api/resource.js';
import type { ResourceManager } from '../core/resource-manager.js';
import type { Logger } from '../observability/logger.js';
import { allowAllPolicy, initialPolicies as policiesOf } from '../policies/index.js';

export function initialPolicies(mesh: Resource): ReturnType<typeof policiesOf> {
  const skip = (mesh.spec['skipCreatingInitialPolicies'] as string[] | undefined) ?? [];
  if (skip.includes('*')) return [];
  return [allowAllPolicy(mesh.name), ...policiesOf(mesh.name)].filter((p) => !skip.includes(p.type) && !skip.includes(p.name));
}

export async function createInitialPolicies(manager: ResourceManager, mesh: Resource, logger: Logger): Promise<void> {
  for (const policy of initialPolicies(mesh)) {
    if (await manager.get(policy.type, mesh.name, policy.name)) continue;
    try {
      await manager.create({ ...policy, spec: structuredClone(policy.spec) as Record<string, unknown> });
      logger.info({ mesh: mesh.name, type: policy.type, name: policy.name }, 'created initial policy');
    } catch (err) {
      // Another replica may have created it first.
      if (!(await manager.get(policy.type, mesh.name, policy.name))) throw err;
    }
  }
}
