// The policies a new mesh starts with (Kuma's "initial policies"): today the `allow-all`
// MeshTrafficPermission, so enabling mTLS does not cut traffic until the user writes their own.
// `skipCreatingInitialPolicies: ['*']` (or a list of kinds) opts out.
import type { Resource } from '../api/resource.js';
import type { ResourceManager } from '../core/resource-manager.js';
import type { Logger } from '../observability/logger.js';
import { allowAllPolicy } from '../policies/index.js';

export async function createInitialPolicies(manager: ResourceManager, mesh: Resource, logger: Logger): Promise<void> {
  const skip = (mesh.spec['skipCreatingInitialPolicies'] as string[] | undefined) ?? [];
  for (const policy of [allowAllPolicy(mesh.name)]) {
    if (skip.includes('*') || skip.includes(policy.type)) continue;
    if (await manager.get(policy.type, mesh.name, policy.name)) continue;
    try {
      await manager.create({ ...policy, spec: { ...policy.spec } });
      logger.info({ mesh: mesh.name, type: policy.type, name: policy.name }, 'created initial policy');
    } catch (err) {
      // Another replica may have created it first.
      if (!(await manager.get(policy.type, mesh.name, policy.name))) throw err;
    }
  }
}
