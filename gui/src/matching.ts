// Which proxies a policy's top-level targetRef selects, computed in the browser from the REST API's
// resources. Used only when the control plane has no `_resources` / `_rules` inspect endpoint.
import type { DataplaneOverview, Labels, PolicyResource } from './api';

interface TargetRef {
  kind?: string;
  name?: string;
  tags?: Labels;
  labels?: Labels;
  sectionName?: string;
}

function subset(want: Labels | undefined, have: Labels | undefined): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);
}

/** Undefined when the kind of targetRef cannot be evaluated here. */
export function selects(policy: PolicyResource, dp: DataplaneOverview): boolean | undefined {
  if (policy.mesh !== dp.mesh) return false;
  const ref = ((policy.spec ?? {})['targetRef'] as TargetRef | undefined) ?? { kind: 'Mesh' };
  const inbounds = dp.dataplane.networking.inbound ?? [];
  switch (ref.kind ?? 'Mesh') {
    case 'Mesh':
      return true;
    case 'MeshSubset':
      return inbounds.some((i) => subset(ref.tags, i.tags)) || (inbounds.length === 0 && Object.keys(ref.tags ?? {}).length === 0);
    case 'MeshService':
      return inbounds.some((i) => i.tags['kuma.io/service'] === ref.name);
    case 'Dataplane':
      if (ref.name) return ref.name === dp.name;
      return subset(ref.labels, dp.labels);
    default:
      return undefined;
  }
}
