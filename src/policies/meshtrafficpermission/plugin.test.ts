import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { golden, placeholderIdentity, policyResource, sidecarDump } from '../common/golden.js';
import { goldenBackend, goldenWeb } from '../common/golden-fixtures.js';
import type { Resource } from '../../api/resource.js';
import { validateResource } from '../../api/index.js';
import '../index.js';
import { egressPermissions, inboundPermissions } from './plugin.js';
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
      { field: 'spec.from[0].targetRef', reason: 'name or labels must be set when kind is MeshService' },
      { field: 'spec.from[0].default.action', reason: 'must be defined' },
    ]));
  });
});

describe('MeshTrafficPermission on a zone egress (sni matches)', () => {
  const egress: Resource = { ...dp, name: 'egress', labels: { 'kuma.io/zone-proxy-role': 'egress' } };
  const listener = { name: '10002', port: 10002 };
  const sni = 'sni.extsvc.default.httpbin.80';

  it('denies by default, and the legacy from[] allow-all does not open it', () => {
    const allowAll = mtp('allow-all', { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] });
    expect(egressPermissions([allowAll], egress, listener, sni).allow.policies).toEqual({});
  });

  it('allows by SNI, by SNI and SPIFFE ID, and ignores other SNIs', () => {
    const p = mtp('egress', {
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } },
      rules: [{ default: { allow: [{ sni: { type: 'Exact', value: sni } }, { sni: { type: 'Exact', value: sni }, spiffeID: { type: 'Exact', value: 'spiffe://default/client' } }, { sni: { type: 'Exact', value: 'other' } }] } }],
    });
    expect(egressPermissions([p], egress, listener, sni).allow.policies['MeshTrafficPermission']!.principals).toEqual([{ or_ids: { ids: [{ any: true }, client] } }]);
    expect(egressPermissions([p], egress, listener, 'sni.extsvc.default.other.80').allow.policies).toEqual({});
    // Not selected: another Dataplane, another section.
    expect(egressPermissions([p], { ...egress, labels: {} }, listener, sni).allow.policies).toEqual({});
    const section = mtp('s', { targetRef: { kind: 'Dataplane', name: 'egress', sectionName: '9999' }, rules: [{ default: { allow: [{ sni: { type: 'Exact', value: sni } }] } }] });
    expect(egressPermissions([section], egress, listener, sni).allow.policies).toEqual({});
  });

  it('never applies sni matches on a sidecar inbound', () => {
    const p = mtp('sni', { targetRef: { kind: 'Mesh' }, rules: [{ default: { allow: [{ sni: { type: 'Exact', value: sni } }] } }] });
    expect(inboundPermissions('default', [p], dp, web).allow.policies).toEqual({});
  });

  it('validates sni matches', () => {
    const res = mtp('bad', { targetRef: { kind: 'Mesh' }, rules: [{ default: { allow: [{ sni: { type: 'Prefix' as 'Exact', value: 'x' } }, { sni: {} }, {}] } }] });
    const messages = validateResource(res, { mode: 'standalone', environment: 'universal', zone: '' } as never).map((v) => `${v.field}: ${v.reason}`);
    expect(messages).toContain('spec.rules[0].default.allow[0].sni.type: unrecognized type "Prefix", supported values are: Exact');
    expect(messages).toContain('spec.rules[0].default.allow[1].sni.type: must be set');
    expect(messages).toContain('spec.rules[0].default.allow[1].sni.value: must be set');
    expect(messages).toContain("spec.rules[0].default.allow[2]: must specify at least one of 'spiffeID', 'sni'");
  });
});

describe('MeshTrafficPermission on the policy engine', () => {
  const allow = (name: string, ref: MeshTrafficPermissionSpec['targetRef'], action: 'Allow' | 'Deny', labels: Record<string, string> = {}) =>
    ({ ...mtp(name, { targetRef: ref, from: [{ targetRef: { kind: 'Mesh' }, default: { action } }] }), labels });

  it('among equally specific policies, the name sorting first decides (Kuma order)', () => {
    // b-allow first, then a-deny overrides it: allowed by any caller that is not denied by anyone.
    const perms = inboundPermissions('default', [allow('b-allow', { kind: 'Mesh' }, 'Allow'), allow('a-deny', { kind: 'Mesh' }, 'Deny')], dp, web);
    expect(perms.allow.policies['MeshTrafficPermission']!.principals).toEqual([{ and_ids: { ids: [{ any: true }, { not_id: { any: true } }] } }]);
    const flipped = inboundPermissions('default', [allow('a-allow', { kind: 'Mesh' }, 'Allow'), allow('b-deny', { kind: 'Mesh' }, 'Deny')], dp, web);
    expect(flipped.allow.policies['MeshTrafficPermission']!.principals).toEqual([{ any: true }]);
  });

  it('lets a policy naming the Dataplane override a mesh-wide one, and a zone policy override a global one', () => {
    const byName = inboundPermissions('default', [allow('a', { kind: 'Mesh' }, 'Deny'), allow('z', { kind: 'Dataplane', name: 'backend-1' }, 'Allow')], dp, web);
    expect(byName.allow.policies['MeshTrafficPermission']!.principals).toEqual([{ any: true }]);
    const byOrigin = inboundPermissions('default', [allow('a', { kind: 'Mesh' }, 'Deny', { 'kuma.io/origin': 'global' }), allow('z', { kind: 'Mesh' }, 'Allow', { 'kuma.io/origin': 'zone' })], dp, web);
    expect(byOrigin.allow.policies['MeshTrafficPermission']!.principals).toEqual([{ any: true }]);
  });

  it('ignores shadow policies and policies of other meshes', () => {
    const shadow = allow('s', { kind: 'Mesh' }, 'Allow', { 'kuma.io/effect': 'shadow' });
    const other = { ...allow('o', { kind: 'Mesh' }, 'Allow'), mesh: 'other' };
    expect(inboundPermissions('default', [shadow, other], dp, web).allow.policies).toEqual({});
  });
});

describe('MeshTrafficPermission plugin: golden Envoy output', () => {
  const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);
  const mtlsMesh = policyResource('Mesh', 'default', { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } });

  it('rules and from[] become network RBAC on the TCP inbound and HTTP RBAC on the HTTP inbound of an mTLS sidecar', () => {
    const policies = [
      policyResource('MeshTrafficPermission', 'web-to-backend', {
        targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'backend' } },
        from: [{ targetRef: { kind: 'MeshService', name: 'web' }, default: { action: 'Allow' } }],
      }),
      policyResource('MeshTrafficPermission', 'by-identity', {
        targetRef: { kind: 'Mesh' },
        rules: [{ default: { deny: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default/ns/untrusted/' } }], allow: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/web' } }] } }],
      }),
    ];
    const dump = sidecarDump(mtlsMesh, [goldenBackend, goldenWeb], goldenBackend, policies, placeholderIdentity);
    expect(dump).toEqual(golden(testdata('inbound-rbac.golden.json'), dump));
    const text = JSON.stringify(dump);
    expect(text).toContain('envoy.filters.network.rbac');
    expect(text).toContain('spiffe://default/web');
  });
});
