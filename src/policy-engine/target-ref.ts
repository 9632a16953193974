// targetRef: how a policy names what it applies to (top level) and whom it is about (`from`).
// Only what needs no other resource kinds is here; MeshService resources come with their issue.
import type { Resource, Violation } from '../api/resource.js';
import { Violations } from '../api/resource.js';
import { object, oneOfValues, string, stringMap, type Schema } from '../api/schema.js';

export type TargetRefKind = 'Mesh' | 'MeshSubset' | 'MeshService' | 'MeshServiceSubset' | 'Dataplane' | 'MeshExternalService' | 'MeshMultiZoneService';

export interface TargetRef {
  kind?: TargetRefKind;
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  tags?: Record<string, string>;
  sectionName?: string;
  proxyTypes?: string[];
  mesh?: string;
}

export const targetRefSchema: Schema = object({
  kind: oneOfValues(['Mesh', 'MeshSubset', 'MeshService', 'MeshServiceSubset', 'Dataplane', 'MeshExternalService', 'MeshMultiZoneService']),
  name: string,
  namespace: string,
  labels: stringMap,
  tags: stringMap,
  sectionName: string,
  proxyTypes: { type: 'array', items: oneOfValues(['Sidecar', 'Gateway']) },
  mesh: string,
});

/** Kind-specific rules shared by every policy; `allowed` lists the kinds this position accepts. */
export function validateTargetRef(ref: TargetRef | undefined, path: string, allowed: TargetRefKind[]): Violation[] {
  const v = new Violations();
  if (!ref) {
    v.add(path, 'must be defined');
    return v.list;
  }
  if (!ref.kind) {
    v.add(`${path}.kind`, 'must be set');
    return v.list;
  }
  if (!allowed.includes(ref.kind)) {
    v.add(`${path}.kind`, `value is not supported`);
    return v.list;
  }
  const forbid = (field: keyof TargetRef) => {
    if (ref[field] !== undefined) v.add(`${path}.${field}`, `must not be set with kind ${ref.kind}`);
  };
  switch (ref.kind) {
    case 'Mesh':
      forbid('name');
      forbid('tags');
      forbid('labels');
      forbid('sectionName');
      break;
    case 'MeshSubset':
      forbid('name');
      forbid('labels');
      forbid('sectionName');
      break;
    case 'MeshExternalService':
    case 'MeshMultiZoneService':
      if (!ref.name && !ref.labels) v.add(`${path}.name`, 'must be set with kind ' + ref.kind);
      forbid('tags');
      break;
    case 'MeshService':
    case 'MeshServiceSubset':
      if (!ref.name) v.add(`${path}.name`, 'must be set with kind ' + ref.kind);
      if (ref.kind === 'MeshService') forbid('tags');
      break;
    case 'Dataplane':
      forbid('tags');
      if (ref.name && ref.labels) v.add(`${path}.labels`, 'either labels or name must be specified');
      break;
  }
  return v.list;
}

/** Tags of one inbound (the unit a sidecar policy is applied to). */
export interface InboundView {
  name?: string;
  port: number;
  tags: Record<string, string>;
}

function subset(want: Record<string, string> | undefined, have: Record<string, string>): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => have[k] === v);
}

/** True when a top-level targetRef selects this inbound of this Dataplane. */
export function selectsInbound(ref: TargetRef, dp: Resource, inbound: InboundView): boolean {
  switch (ref.kind) {
    case 'Mesh':
      return true;
    case 'MeshSubset':
      return subset(ref.tags, inbound.tags);
    case 'MeshService':
      return inbound.tags['kuma.io/service'] === ref.name;
    case 'MeshServiceSubset':
      return inbound.tags['kuma.io/service'] === ref.name && subset(ref.tags, inbound.tags);
    case 'Dataplane':
      if (ref.name && ref.name !== dp.name) return false;
      if (!subset(ref.labels, dp.labels)) return false;
      return !ref.sectionName || ref.sectionName === inbound.name || ref.sectionName === String(inbound.port);
    default:
      return false;
  }
}

/** Ordering used when several policies match: less specific first, so later entries override. */
export function specificity(ref: TargetRef): number {
  switch (ref.kind) {
    case 'Mesh':
      return 0;
    case 'MeshSubset':
      return 1 + Object.keys(ref.tags ?? {}).length / 100;
    case 'MeshService':
      return 2;
    case 'MeshServiceSubset':
      return 3 + Object.keys(ref.tags ?? {}).length / 100;
    case 'Dataplane':
      return ref.name ? 5 : 4;
    default:
      return 0;
  }
}
