import { describe, expect, it } from 'vitest';
import { includesGateways, validateTargetRef, type TargetRef, type TargetRefRules } from './target-ref.js';

const ALL: TargetRefRules = {
  allowed: ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshExternalService', 'MeshMultiZoneService', 'MeshServiceSubset', 'MeshHTTPRoute', 'Dataplane'],
  inboundPolicy: true,
};

const msgs = (ref: TargetRef | undefined, rules: TargetRefRules = ALL) => validateTargetRef(ref, 'spec.targetRef', rules).map((v) => `${v.field}: ${v.reason}`);

describe('validateTargetRef (Kuma 2.14 messages)', () => {
  it.each<{ name: string; ref: TargetRef | undefined; rules?: TargetRefRules; want: string[] }>([
    { name: 'missing', ref: undefined, want: ['spec.targetRef: must be defined'] },
    { name: 'empty kind', ref: {}, want: ['spec.targetRef.kind: must be defined'] },
    { name: 'unsupported kind', ref: { kind: 'Dataplane' }, rules: { allowed: ['Mesh'] }, want: ["spec.targetRef.kind: value 'Dataplane' is not supported"] },
    { name: 'unknown kind', ref: { kind: 'Foo' as never }, want: ["spec.targetRef.kind: value 'Foo' is not supported"] },
    { name: 'Mesh ok', ref: { kind: 'Mesh' }, want: [] },
    { name: 'Mesh with proxyTypes', ref: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, want: [] },
    { name: 'Mesh with name', ref: { kind: 'Mesh', name: 'x' }, want: ['spec.targetRef.name: using name with kind Mesh is not yet supported'] },
    {
      name: 'Mesh with forbidden fields',
      ref: { kind: 'Mesh', tags: { a: 'b' }, labels: { a: 'b' }, sectionName: 's', namespace: 'n', mesh: 'm' },
      want: [
        'spec.targetRef.mesh: must not be set with kind Mesh',
        'spec.targetRef.tags: must not be set with kind Mesh',
        'spec.targetRef.labels: must not be set with kind Mesh',
        'spec.targetRef.namespace: must not be set with kind Mesh',
        'spec.targetRef.sectionName: must not be set with kind Mesh',
      ],
    },
    { name: 'Mesh empty proxyTypes', ref: { kind: 'Mesh', proxyTypes: [] }, want: ['spec.targetRef.proxyTypes: must be undefined or have at least one element'] },
    { name: 'Dataplane all', ref: { kind: 'Dataplane' }, want: [] },
    { name: 'Dataplane by name', ref: { kind: 'Dataplane', name: 'dp-1' }, want: [] },
    { name: 'Dataplane by labels + section', ref: { kind: 'Dataplane', labels: { app: 'x' }, sectionName: 'http' }, want: [] },
    { name: 'Dataplane labels and name', ref: { kind: 'Dataplane', labels: { app: 'x' }, name: 'dp' }, want: ['spec.targetRef.labels: either labels or name and namespace must be specified'] },
    { name: 'Dataplane section on outbound policy', ref: { kind: 'Dataplane', sectionName: 'x' }, rules: { allowed: ['Dataplane'] }, want: ['spec.targetRef.sectionName: can only be used with inbound policies'] },
    {
      name: 'Dataplane forbidden',
      ref: { kind: 'Dataplane', tags: { a: 'b' }, proxyTypes: ['Sidecar'] },
      want: ['spec.targetRef.tags: must not be set with kind Dataplane', 'spec.targetRef.proxyTypes: must not be set with kind Dataplane'],
    },
    { name: 'Dataplane bad name', ref: { kind: 'Dataplane', name: 'Bad!' }, want: ["spec.targetRef.name: invalid characters: must consist of lower case alphanumeric characters, '-', '.' and '_'."] },
    { name: 'MeshSubset ok', ref: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'web' } }, want: [] },
    { name: 'MeshSubset with name', ref: { kind: 'MeshSubset', name: 'x' }, want: ['spec.targetRef.name: must not be set with kind MeshSubset'] },
    { name: 'MeshSubset empty tag value', ref: { kind: 'MeshSubset', tags: { team: '' } }, want: ['spec.targetRef.tags["team"]: tag value must be non-empty'] },
    { name: 'MeshService by name', ref: { kind: 'MeshService', name: 'web', sectionName: 'http' }, want: [] },
    { name: 'MeshService by labels', ref: { kind: 'MeshService', labels: { app: 'web' } }, want: [] },
    { name: 'MeshService nothing', ref: { kind: 'MeshService' }, want: ['spec.targetRef: name or labels must be set when kind is MeshService'] },
    { name: 'MeshService labels and name', ref: { kind: 'MeshService', name: 'a', labels: { a: 'b' } }, want: ['spec.targetRef.labels: either labels or name and namespace must be specified'] },
    { name: 'MeshService tags', ref: { kind: 'MeshService', name: 'a', tags: { a: 'b' } }, want: ['spec.targetRef.tags: must not be set with kind MeshService'] },
    { name: 'MES labels and name', ref: { kind: 'MeshExternalService', name: 'a', labels: { a: 'b' } }, want: ['spec.targetRef.labels: either labels or name must be specified'] },
    { name: 'MES sectionName', ref: { kind: 'MeshExternalService', name: 'a', sectionName: 'x' }, want: ['spec.targetRef.sectionName: must not be set with kind MeshExternalService'] },
    { name: 'MeshHTTPRoute nothing', ref: { kind: 'MeshHTTPRoute' }, want: ['spec.targetRef: name or labels must be set when kind is MeshHTTPRoute'] },
    { name: 'MeshServiceSubset no name', ref: { kind: 'MeshServiceSubset', tags: { v: '1' } }, want: ['spec.targetRef.name: must be set when kind is MeshServiceSubset'] },
    { name: 'MeshServiceSubset wildcard tag', ref: { kind: 'MeshServiceSubset', name: 'web', tags: { v: '*' } }, want: [] },
    { name: 'MeshGateway tags not allowed', ref: { kind: 'MeshGateway', name: 'gw', tags: { a: 'b' } }, want: ['spec.targetRef.tags: must not be set with kind MeshGateway'] },
    { name: 'MeshGateway tags allowed', ref: { kind: 'MeshGateway', name: 'gw', tags: { a: 'b' } }, rules: { ...ALL, gatewayListenerTags: true }, want: [] },
    { name: 'MeshMultiZoneService no checks', ref: { kind: 'MeshMultiZoneService' }, want: [] },
  ])('$name', ({ ref, rules, want }) => {
    expect(msgs(ref, rules)).toEqual(want);
  });
});

describe('includesGateways', () => {
  it.each<[TargetRef, boolean]>([
    [{ kind: 'Mesh' }, true],
    [{ kind: 'Mesh', proxyTypes: ['Sidecar'] }, false],
    [{ kind: 'Mesh', proxyTypes: ['Gateway'] }, true],
    [{ kind: 'MeshSubset', tags: {} }, true],
    [{ kind: 'MeshSubset', proxyTypes: ['Sidecar'] }, false],
    [{ kind: 'MeshGateway', name: 'g' }, true],
    [{ kind: 'MeshHTTPRoute', name: 'r' }, true],
    [{ kind: 'Dataplane' }, false],
    [{ kind: 'MeshService', name: 'x' }, false],
  ])('%j → %s', (ref, want) => {
    expect(includesGateways(ref)).toBe(want);
  });
});
