import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}
import { allowAllPolicy } from './api.js';

const mtp = (spec: unknown) => errors('MeshTrafficPermission', spec);

describe('MeshTrafficPermission validation (Kuma 2.14)', () => {
  it('accepts the documented forms', () => {
    expect(mtp(allowAllPolicy('default').spec)).toEqual([]);
    expect(mtp({ targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' } }, rules: [{ default: { allow: [{ sni: { type: 'Exact', value: 'sni.extsvc.default.httpbin.80' } }] } }] })).toEqual([]);
    expect(mtp({ targetRef: { kind: 'Dataplane', name: 'web-1', sectionName: 'http' }, from: [{ targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'client' } }, default: { action: 'Deny' } }] })).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['nothing', { targetRef: { kind: 'Mesh' } }, ["spec: at least one of 'from' or 'rules' has to be defined"]],
    [
      'both',
      { rules: [{ default: { allow: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/a' } }] } }], from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
      ["spec: field 'from' must be empty when 'rules' is defined"],
    ],
    ['action', { from: [{ targetRef: { kind: 'Mesh' }, default: {} }] }, ['spec.from[0].default.action: must be defined']],
    ['from kind', { from: [{ targetRef: { kind: 'Dataplane' }, default: { action: 'Allow' } }] }, ["spec.from[0].targetRef.kind: value 'Dataplane' is not supported"]],
    ['top kind', { targetRef: { kind: 'MeshGateway', name: 'gw' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] }, ["spec.targetRef.kind: value 'MeshGateway' is not supported"]],
    ['empty rule', { rules: [{ default: {} }] }, ["spec.rules[0]: at least one of 'allow', 'allowWithShadowDeny', 'deny' has to be defined"]],
  ])('%s', (_name, spec, want) => {
    expect(mtp(spec)).toEqual(want);
  });
});
