// targetRef: how a policy names what it applies to (top level), whom it is about (`from`) and
// where traffic goes (`to`). One type for every position, as Kuma 2.14: the validators narrow the
// kinds per position. Messages are Kuma's (`pkg/core/resources/apis/mesh/validators.go`).
import type { Labels, Violation } from '../api/resource.js';
import { Violations } from '../api/resource.js';
import { checkDataplaneTags, checkSelectorTags } from '../api/rules.js';
import { arrayOf, object, oneOfValues, string, stringMap, type Schema } from '../api/schema.js';

export const TARGET_REF_KINDS = [
  'Mesh',
  'MeshSubset',
  'MeshGateway',
  'MeshService',
  'MeshExternalService',
  'MeshMultiZoneService',
  'MeshServiceSubset',
  'MeshHTTPRoute',
  'Dataplane',
] as const;
export type TargetRefKind = (typeof TARGET_REF_KINDS)[number];

export interface TargetRef {
  kind?: TargetRefKind;
  name?: string;
  namespace?: string;
  labels?: Labels;
  tags?: Labels;
  sectionName?: string;
  proxyTypes?: ProxyType[];
  /** Reserved: always rejected. */
  mesh?: string;
}

export type ProxyType = 'Sidecar' | 'Gateway';

// `kind` is a plain string in the schema so an unknown kind gets Kuma's validator message
// (`value 'X' is not supported`) rather than a generic enum error.
export const targetRefSchema: Schema = object({
  kind: string,
  name: string,
  namespace: string,
  labels: stringMap,
  tags: stringMap,
  sectionName: string,
  proxyTypes: arrayOf(oneOfValues(['Sidecar', 'Gateway'])),
  mesh: string,
});

const NAME = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/;
const NAME_REASON = "invalid characters: must consist of lower case alphanumeric characters, '-', '.' and '_'.";

export interface TargetRefRules {
  /** Kinds this position accepts. */
  allowed: readonly TargetRefKind[];
  /** The policy affects inbounds (non-empty `rules` or `from`): Dataplane `sectionName` allowed. */
  inboundPolicy?: boolean;
  /** MeshGateway `tags` (listener tags) allowed. */
  gatewayListenerTags?: boolean;
}

/** Kuma's targetRef rules; violations are reported under `path` (e.g. `spec.targetRef`). */
export function validateTargetRef(ref: TargetRef | undefined, path: string, rules: TargetRefRules): Violation[] {
  const v = new Violations();
  if (!ref) {
    v.add(path, 'must be defined');
    return v.list;
  }
  const at = (field: string) => `${path}.${field}`;
  if (!ref.kind) {
    v.add(at('kind'), 'must be defined');
    return v.list;
  }
  if (!rules.allowed.includes(ref.kind)) {
    v.add(at('kind'), `value '${ref.kind}' is not supported`);
    return v.list;
  }
  const kind = ref.kind;
  const forbid = (...fields: (keyof TargetRef)[]) => {
    for (const f of fields) if (ref[f] !== undefined) v.add(at(f), `must not be set with kind ${kind}`);
  };
  const checkName = () => {
    if (ref.name !== undefined && ref.name !== '' && !NAME.test(ref.name)) v.add(at('name'), NAME_REASON);
  };
  const checkProxyTypes = () => {
    if (ref.proxyTypes !== undefined && ref.proxyTypes.length === 0) v.add(at('proxyTypes'), 'must be undefined or have at least one element');
  };
  switch (kind) {
    case 'Mesh':
      if (ref.name !== undefined) v.add(at('name'), 'using name with kind Mesh is not yet supported');
      forbid('mesh', 'tags', 'labels', 'namespace', 'sectionName');
      checkProxyTypes();
      break;
    case 'Dataplane':
      forbid('tags', 'mesh', 'proxyTypes');
      checkName();
      if (ref.labels !== undefined && (ref.name !== undefined || ref.namespace !== undefined)) {
        v.add(at('labels'), 'either labels or name and namespace must be specified');
      }
      if (ref.sectionName !== undefined && !rules.inboundPolicy) v.add(at('sectionName'), 'can only be used with inbound policies');
      break;
    case 'MeshSubset':
      forbid('name', 'mesh', 'labels', 'namespace', 'sectionName');
      if (ref.tags) checkDataplaneTags(v, at('tags'), ref.tags);
      checkProxyTypes();
      break;
    case 'MeshService':
    case 'MeshHTTPRoute':
    case 'MeshExternalService':
      checkName();
      forbid('mesh', 'tags', 'proxyTypes');
      if (kind !== 'MeshService') forbid('sectionName');
      if (!ref.name && !ref.labels) v.add(path, `name or labels must be set when kind is ${kind}`);
      if (ref.labels !== undefined && (ref.name !== undefined || ref.namespace !== undefined)) {
        v.add(at('labels'), kind === 'MeshExternalService' ? 'either labels or name must be specified' : 'either labels or name and namespace must be specified');
      }
      break;
    case 'MeshServiceSubset':
    case 'MeshGateway':
      if (!ref.name) v.add(at('name'), `must be set when kind is ${kind}`);
      checkName();
      forbid('mesh', 'proxyTypes', 'labels', 'namespace', 'sectionName');
      if (kind === 'MeshGateway' && !rules.gatewayListenerTags) forbid('tags');
      else if (ref.tags && Object.keys(ref.tags).length > 0) checkSelectorTags(v, at('tags'), ref.tags);
      break;
    case 'MeshMultiZoneService':
      break;
  }
  return v.list;
}

/**
 * True when the top-level targetRef includes gateways (Kuma `IncludesGateways`): MeshGateway,
 * MeshHTTPRoute, and Mesh/MeshSubset whose `proxyTypes` is empty or lists `Gateway`.
 */
export function includesGateways(ref: TargetRef): boolean {
  if (ref.kind === 'MeshGateway' || ref.kind === 'MeshHTTPRoute') return true;
  if (ref.kind === 'Mesh' || ref.kind === 'MeshSubset') return !ref.proxyTypes?.length || ref.proxyTypes.includes('Gateway');
  return false;
}

/**
 * Specificity of a legacy `from` targetRef, a tag subset of the caller: Mesh < MeshSubset <
 * MeshService < MeshServiceSubset, more tags more specific.
 */
export function specificity(ref: TargetRef): number {
  switch (ref.kind) {
    case 'MeshSubset':
      return 1 + Object.keys(ref.tags ?? {}).length / 100;
    case 'MeshService':
      return 2;
    case 'MeshServiceSubset':
      return 3 + Object.keys(ref.tags ?? {}).length / 100;
    default:
      return 0;
  }
}
