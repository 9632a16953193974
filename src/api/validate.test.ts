import { describe, expect, it } from 'vitest';
import { registerDescriptor, type ResourceDescriptor } from './descriptor.js';
import { validateResource, validateSpecSchema, type ApiContext } from './index.js';
import type { Resource } from './resource.js';
import { arrayOf, integer, mapOf, object, oneOfValues, stringMap } from './schema.js';
import { fieldPath } from './validate.js';

const ctx: ApiContext = { mode: 'standalone', environment: 'universal' };

// A plugin-style kind (spec nested under `spec`) to check paths, required fields and semantic gating.
let semanticCalls = 0;
const pluginKind: ResourceDescriptor = {
  name: 'TestPolicy',
  scope: 'Mesh',
  path: 'testpolicies',
  cliArg: 'testpolicy',
  cliListArg: 'testpolicies',
  singularDisplayName: 'Test Policy',
  pluralDisplayName: 'Test Policies',
  flat: false,
  isPolicy: true,
  schema: object(
    {
      targetRef: object({ kind: oneOfValues(['Mesh', 'Dataplane']), name: { type: 'string', minLength: 1 } }, ['kind']),
      rules: arrayOf(object({ default: object({ action: oneOfValues(['Allow', 'Deny']) }), weights: mapOf(integer) })),
      count: { type: 'integer', minimum: 1, maximum: 10 },
    },
    ['targetRef'],
  ),
  validate: () => {
    semanticCalls++;
    return [{ field: 'spec.targetRef', reason: 'semantic' }];
  },
};
registerDescriptor(pluginKind);

function policy(spec: Record<string, unknown>, meta: Partial<Resource> = {}): Resource {
  return { type: 'TestPolicy', mesh: 'default', name: 'p-1', labels: {}, spec, creationTime: '', modificationTime: '', version: 0, ...meta };
}

describe('schema violations', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['required field', {}, ['spec.targetRef: cannot be empty']],
    ['unknown field', { targetRef: { kind: 'Mesh', nmae: 'x' } }, ['spec.targetRef.nmae: unknown field "nmae"']],
    ['enum', { targetRef: { kind: 'Pod' } }, ['spec.targetRef.kind: in body should be one of [Mesh Dataplane]']],
    ['minLength 1', { targetRef: { kind: 'Mesh', name: '' } }, ['spec.targetRef.name: cannot be empty']],
    [
      'array items and enum',
      { targetRef: { kind: 'Mesh' }, rules: [{}, { default: { action: 'Maybe' } }] },
      ['spec.rules[1].default.action: in body should be one of [Allow Deny]'],
    ],
    ['map value type', { targetRef: { kind: 'Mesh' }, rules: [{ weights: { 'a/b': 'x' } }] }, ['spec.rules[0].weights["a/b"]: must be an integer']],
    ['minimum', { targetRef: { kind: 'Mesh' }, count: 0 }, ['spec.count: in body should be greater than or equal to 1']],
    ['maximum', { targetRef: { kind: 'Mesh' }, count: 11 }, ['spec.count: in body should be less than or equal to 10']],
    ['wrong types', { targetRef: 'Mesh', rules: {} }, ['spec.targetRef: must be an object', 'spec.rules: must be an array']],
  ])('%s', (_name, spec, expected) => {
    expect(validateSpecSchema(pluginKind, spec).map((v) => `${v.field}: ${v.reason}`)).toEqual(expected);
  });

  it('names map keys with brackets and struct fields with dots', () => {
    const schema = object({ networking: object({ inbound: arrayOf(object({ tags: stringMap })) }) });
    expect(fieldPath(schema, '/networking/inbound/0/tags/kuma.io~1service')).toBe('networking.inbound[0].tags["kuma.io/service"]');
    expect(fieldPath(schema, '/networking/inbound/2/tags/version')).toBe('networking.inbound[2].tags["version"]');
    expect(fieldPath(object({ conf: { type: 'object' } }), '/conf/a/0')).toBe('conf.a[0]');
  });

  it('reports unknown fields of flat kinds at the resource root', () => {
    const dp = { ...policy({}), type: 'Dataplane', spec: { networking: { address: '10.0.0.1', inbound: [{ port: '80' }] }, foo: 1 } };
    expect(validateResource(dp, ctx).map((v) => `${v.field}: ${v.reason}`)).toEqual([
      'foo: unknown field "foo"',
      'networking.inbound[0].port: must be an integer',
    ]);
  });
});

describe('validateResource', () => {
  it('orders schema, meta, labels, and skips semantic rules when the schema fails', () => {
    semanticCalls = 0;
    const r = policy({}, { name: 'Bad', mesh: '', labels: { 'kuma.io/origin': 'moon' } });
    expect(validateResource(r, ctx).map((v) => v.field)).toEqual(['spec.targetRef', 'name', 'mesh', 'labels["kuma.io/origin"]']);
    expect(semanticCalls).toBe(0);
  });

  it('runs semantic rules on a schema-valid spec', () => {
    semanticCalls = 0;
    expect(validateResource(policy({ targetRef: { kind: 'Mesh' } }), ctx)).toEqual([{ field: 'spec.targetRef', reason: 'semantic' }]);
    expect(semanticCalls).toBe(1);
  });

  it('names an unknown type', () => {
    expect(validateResource({ ...policy({}), type: 'Nope' }, ctx)).toEqual([{ field: 'type', reason: 'invalid resource type "Nope"' }]);
  });

  it('requires origin zone for plugin kinds on a federated zone', () => {
    const fed: ApiContext = { mode: 'zone', zone: 'z1', environment: 'universal', federated: true };
    const fields = validateResource(policy({ targetRef: { kind: 'Mesh' } }), fed).map((v) => `${v.field}: ${v.reason}`);
    expect(fields).toContain("labels[\"kuma.io/origin\"]: the origin label must be set to 'zone'");
  });
});
