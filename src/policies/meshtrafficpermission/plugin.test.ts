import { describe, expect, it } from 'vitest';
import type { Resource } from '../../api/resource.js';
import { validateResource } from '../../api/index.js';
import '../index.js';
import { inboundPermissions } from './plugin.js';
import type { MeshTrafficPermissionSpec } from './api.js';

const dp: Resource = {
  type: 'Dataplane', mesh: 'default', name: 'backend-1', labels: { team: 'a' }, spec: {}, version: 1,
  creationTime: '', modificationTime: '',
};
const web = { port: 8080, tags: { 'kuma.io/service': 'web', version: 'v1' } };
const db = { port: 5432, tags: { 'kuma.io/service': 'db' } };

function mtp(name: string, spec: MeshTrafficPermissionSpec): Resource {
  return { type: 'MeshTrafficPermission', mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
}

const client = { authenticated: { principal_name: { exact: 'spiffe://default/client' } } };

describe('MeshTrafficPermission → RBAC', () => {
  it('denies everyone when no policy matches (fail closed)', () => {
    const perms = inboundPermissions('default', [], dp, web);
    expect(perms.allow).toEqual({ action: 'ALLOW', policies: {} });
    expect(perms.deny).toBeUndefined();
  });

  it('allows any mesh peer with from Mesh / Allow', () => {
    const perms = inboundPermissions('default', [mtp('allow-all', { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] })], dp, web);
    expect(perms.allow.policies['MeshTrafficPermission']!.principals).toEqual([{ any: true }]);
  });

  it('applies only policies whose targetRef selects the inbound', () => {
    const onlyDb = mtp('db', { targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'db' } }, from: [{ targetRef: { kind: 'MeshService', name: 'client' }, default: { action: 'Allow' } }] });
    expect(inboundPermissions('default', [onlyDb], dp, web).allow.policies).toEqual({});
    expect(inboundPermissions('default', [onlyDb], dp, db).allow.policies['MeshTrafficPermission']!.principals).toEqual([client]);
    const byLabel = mtp('dp', { targetRef: { kind: 'Dataplane', labels: { team: 'b' } }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] });
    expect(inboundPermissions('default', [byLabel], dp, web).allow.policies).toEqual({});
  });

  it('lets a more specific Deny override a Mesh-wide Allow', () => {
    const perms = inboundPermissions('default', [
      mtp('allow-all', { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] }),
      mtp('no-client', { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'MeshService', name: 'client' }, default: { action: 'Deny' } }] }),
    ], dp, web);
    expect(perms.allow.policies['MeshTrafficPermission']!.principals).toEqual([{ and_ids: { ids: [{ any: true }, { not_id: client }] } }]);
  });

  it('maps rules to DENY and ALLOW sets; deny wins', () => {
    const perms = inboundPermissions('default', [
      mtp('rules', {
        targetRef: { kind: 'Mesh' },
        rules: [{ default: { allow: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default/' } }], deny: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/client' } }] } }],
      }),
    ], dp, web);
    expect(perms.deny?.policies['MeshTrafficPermission']!.principals).toEqual([client]);
    expect(perms.allow.policies['MeshTrafficPermission']!.principals).toEqual([{ authenticated: { principal_name: { prefix: 'spiffe://default/' } } }]);
  });

  it('validates with the field named', () => {
    const errors = validateResource(
      mtp('bad', { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'MeshService' }, default: {} }] }),
      { mode: 'standalone', environment: 'universal', zone: '' } as never,
    );
    expect(errors).toEqual(expect.arrayContaining([
      { field: 'spec.from[0].targetRef.name', reason: 'must be set with kind MeshService' },
      { field: 'spec.from[0].default.action', reason: 'must be defined' },
    ]));
  });
});
