// What a mesh's context is built from besides its Dataplanes, read from the store in one place for
// sidecars (DataplaneSync) and legacy zone proxies (LegacyZoneProxies).
import type { Resource } from '../../api/resource.js';
import type { MeshExternalServiceSpec } from '../../api/index.js';
import type { ResourceManager } from '../../core/resource-manager.js';
import { registeredPolicyKinds } from '../../policy-engine/kinds.js';
import '../../policies/kinds.js';
import { buildMeshContext, type MeshContext } from './mesh-context.js';

export interface MeshInputs {
  mesh: Resource;
  permissions: Resource[];
  /** Every policy of the mesh, of every registered kind (permissions included). */
  policies: Resource[];
  externalServices: Resource[];
  meshServices: Resource[];
  multiZoneServices: Resource[];
  /** Legacy global-scoped zone proxies (every mesh's sidecars may use them). */
  zoneIngresses: Resource[];
  zoneEgresses: Resource[];
  /** Text of the Secrets the MeshExternalServices' TLS settings name. */
  secrets: Map<string, string>;
}

export async function readMeshInputs(manager: ResourceManager, meshName: string): Promise<MeshInputs | undefined> {
  const mesh = await manager.get('Mesh', '', meshName);
  if (!mesh) return undefined;
  const policies: Resource[] = [];
  for (const kind of registeredPolicyKinds()) policies.push(...(await manager.list(kind.name, { mesh: meshName })));
  // Not a policy, but what MeshAccessLog (MeshTrace, MeshMetric) backendRefs name; in policiesHash.
  policies.push(...(await manager.list('MeshOpenTelemetryBackend', { mesh: meshName })));
  const permissions = policies.filter((p) => p.type === 'MeshTrafficPermission');
  const externalServices = await manager.list('MeshExternalService', { mesh: meshName });
  const meshServices = await manager.list('MeshService', { mesh: meshName });
  const multiZoneServices = await manager.list('MeshMultiZoneService', { mesh: meshName });
  const zoneIngresses = await manager.list('ZoneIngress');
  const zoneEgresses = await manager.list('ZoneEgress');
  const secretNames = new Set(externalServices.flatMap((r) => {
    const ver = (r.spec as MeshExternalServiceSpec).tls?.verification;
    return [ver?.caCert?.secret, ver?.clientCert?.secret, ver?.clientKey?.secret].filter((n): n is string => Boolean(n));
  }));
  const secrets = new Map<string, string>();
  for (const name of secretNames) {
    const secret = await manager.get('Secret', meshName, name);
    if (secret) secrets.set(name, Buffer.from(String(secret.spec['data'] ?? ''), 'base64').toString('utf8'));
  }
  return { mesh, permissions, policies, externalServices, meshServices, multiZoneServices, zoneIngresses, zoneEgresses, secrets };
}

export function contextFromInputs(inputs: MeshInputs, dataplanes: Iterable<Resource>, zone: string, previous?: MeshContext): MeshContext {
  return buildMeshContext(inputs.mesh, dataplanes, inputs.permissions, previous, {
    zone,
    externalServices: inputs.externalServices,
    meshServices: inputs.meshServices,
    multiZoneServices: inputs.multiZoneServices,
    zoneIngresses: inputs.zoneIngresses,
    zoneEgresses: inputs.zoneEgresses,
    policies: inputs.policies,
    secretText: (name) => inputs.secrets.get(name),
  });
}
