// One CRD per registered resource kind (policies included), structural, and valid for Kubernetes.
import { describe, expect, it } from 'vitest';
import { allDescriptors, registerDescriptor, type ResourceDescriptor } from '../api/descriptor.js';
import { allCrds, crdFor } from './crds.js';
import { validateObject } from './testdata/k8s-schema.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Kubernetes' structural schema rules that kubernetes-models does not check. */
function structuralProblems(s: Obj, at = 'openAPIV3Schema'): string[] {
  const problems: string[] = [];
  if (s['type'] === undefined && !s['x-kubernetes-preserve-unknown-fields']) problems.push(`${at}: no type`);
  if (s['properties'] && s['additionalProperties'] !== undefined) problems.push(`${at}: properties and additionalProperties`);
  if (s['additionalProperties'] === false) problems.push(`${at}: additionalProperties false`);
  for (const k of ['oneOf', 'anyOf', 'allOf', '$ref']) if (s[k]) problems.push(`${at}: ${k}`);
  for (const [k, v] of Object.entries((s['properties'] ?? {}) as Obj)) problems.push(...structuralProblems(v, `${at}.${k}`));
  if (s['items']) problems.push(...structuralProblems(s['items'], `${at}[]`));
  if (s['additionalProperties'] && typeof s['additionalProperties'] === 'object') problems.push(...structuralProblems(s['additionalProperties'], `${at}{}`));
  return problems;
}

describe('CRDs', () => {
  it('exist for every registered kind, are structural and validate', async () => {
    const crds = allCrds() as Obj[];
    expect(crds.map((c) => c['spec']['names']['kind'])).toEqual(allDescriptors().map((d) => d.name));
    for (const crd of crds) {
      await validateObject(crd);
      expect(structuralProblems(crd['spec']['versions'][0]['schema']['openAPIV3Schema']), crd['metadata']['name']).toEqual([]);
      expect(crd['metadata']['name']).toBe(`${crd['spec']['names']['plural']}.kuma.io`);
    }
    const byKind = new Map(crds.map((c) => [c['spec']['names']['kind'], c]));
    expect(byKind.get('Mesh')!['spec']['scope']).toBe('Cluster');
    expect(byKind.get('Dataplane')!['spec']['scope']).toBe('Namespaced');
    expect(byKind.get('MeshTrafficPermission')!['spec']['names']['plural']).toBe('meshtrafficpermissions');
    expect(byKind.get('DataplaneInsight')!['spec']['names']['plural']).toBe('dataplaneinsights');
  });

  it('a newly registered kind gets a CRD from its descriptor', () => {
    const d: ResourceDescriptor = {
      name: 'MeshTestOnlyPolicy',
      scope: 'Mesh',
      path: 'meshtestonlypolicies',
      cliArg: 'meshtestonlypolicy',
      cliListArg: 'meshtestonlypolicies',
      singularDisplayName: 'Mesh Test Only Policy',
      pluralDisplayName: 'Mesh Test Only Policies',
      shortName: 'mtop',
      isPolicy: true,
      flat: false,
      schema: { type: 'object', additionalProperties: false, properties: { targetRef: { type: 'object', additionalProperties: false, properties: { kind: { type: 'string', enum: ['Mesh'] } } }, labels: { type: 'object', additionalProperties: { type: 'string' } }, free: { type: 'object' } } },
    };
    registerDescriptor(d);
    const crd = allCrds().find((c) => (c['spec'] as Obj)['names']['kind'] === 'MeshTestOnlyPolicy') as Obj;
    expect(crd).toEqual(crdFor(d));
    expect(crd['spec']['names']['shortNames']).toEqual(['mtop']);
    expect(crd['spec']['versions'][0]['schema']['openAPIV3Schema']['properties']['spec']).toEqual({
      type: 'object',
      properties: {
        targetRef: { type: 'object', properties: { kind: { type: 'string', enum: ['Mesh'] } } },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    });
  });
});
