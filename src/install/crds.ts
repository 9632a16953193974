// CustomResourceDefinitions for every registered resource kind (src/api kinds and policy kinds),
// derived from their descriptors, so a new kind gets its CRD without touching this folder.
// The spec's JSON schema becomes the CRD's structural OpenAPI v3 schema.
import '../api/index.js'; // registers every resource kind
import '../policies/kinds.js'; // and every policy kind
import { allDescriptors, type ResourceDescriptor } from '../api/descriptor.js';

export const CRD_GROUP = 'kuma.io';
export const CRD_VERSION = 'v1alpha1';

type Schema = Record<string, unknown>;

/**
 * ajv schema → structural schema: Kubernetes forbids `additionalProperties` beside `properties`
 * (and `false` anywhere), and a node without a type must say it keeps unknown fields.
 */
export function toStructural(s: Schema): Schema {
  const out: Schema = {};
  if (s['description']) out['description'] = s['description'];
  if (s['enum']) out['enum'] = s['enum'];
  const type = s['type'];
  if (typeof type !== 'string') return { ...out, 'x-kubernetes-preserve-unknown-fields': true };
  out['type'] = type;
  if (type === 'array') {
    out['items'] = s['items'] ? toStructural(s['items'] as Schema) : { 'x-kubernetes-preserve-unknown-fields': true };
  } else if (type === 'object') {
    const props = s['properties'] as Record<string, Schema> | undefined;
    const extra = s['additionalProperties'];
    if (props) {
      out['properties'] = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, toStructural(v)]));
      if (Array.isArray(s['required'])) out['required'] = s['required'];
    } else if (extra && typeof extra === 'object') {
      out['additionalProperties'] = toStructural(extra as Schema);
    } else {
      out['x-kubernetes-preserve-unknown-fields'] = true;
    }
  }
  return out;
}

function plural(d: ResourceDescriptor): string {
  return d.path.replace(/-/g, '');
}

export function crdFor(d: ResourceDescriptor): Schema {
  const properties: Record<string, Schema> = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: toStructural(d.schema),
  };
  // Legacy kinds carry their mesh beside the spec on Kubernetes (Kuma's `mesh:` field).
  if (d.flat && d.scope === 'Mesh') properties['mesh'] = { type: 'string' };
  if (d.hasStatus) properties['status'] = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const version: Schema = {
    name: CRD_VERSION,
    served: true,
    storage: true,
    schema: { openAPIV3Schema: { type: 'object', properties } },
  };
  if (d.hasStatus) version['subresources'] = { status: {} };
  const names: Schema = { kind: d.name, listKind: `${d.name}List`, plural: plural(d), singular: d.name.toLowerCase(), categories: ['kuma'] };
  if (d.isPolicy && d.shortName) names['shortNames'] = [d.shortName];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural(d)}.${CRD_GROUP}`, labels: { 'app.kubernetes.io/part-of': 'skein' } },
    spec: {
      group: CRD_GROUP,
      names,
      // Mesh-scoped kinds live in namespaces (Dataplanes beside their pods), global ones cluster-wide.
      scope: d.scope === 'Mesh' ? 'Namespaced' : 'Cluster',
      versions: [version],
    },
  };
}

/** One CRD per registered kind, ordered by kind name. */
export function allCrds(): Schema[] {
  return allDescriptors().map(crdFor);
}
