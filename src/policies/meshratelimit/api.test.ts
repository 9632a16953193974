import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}

const mrl = (spec: unknown) => errors('MeshRateLimit', spec);
const sidecars = { kind: 'Mesh', proxyTypes: ['Sidecar'] };

describe('MeshRateLimit validation', () => {
  it('accepts the documented forms', () => {
    expect(mrl({ targetRef: sidecars, from: [{ targetRef: { kind: 'Mesh' }, default: { local: { http: { requestRate: { num: 5, interval: '10s' }, onRateLimit: { status: 423, headers: { set: [{ name: 'x-kuma-rate-limited', value: 'true' }] } } } } } }] })).toEqual([]);
    expect(mrl({
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' } },
      rules: [{ matches: [{ sni: { type: 'Exact', value: 'sni.extsvc.default.httpbin.80' } }], default: { local: { tcp: { connectionRate: { num: 100, interval: '1s' } } } } }],
    })).toEqual([]);
    expect(mrl({ targetRef: { kind: 'Mesh', proxyTypes: ['Gateway'] }, to: [{ targetRef: { kind: 'Mesh' }, default: { local: { http: { disabled: true } } } }] })).toEqual([]);
    expect(mrl({ targetRef: { kind: 'MeshService', name: 'web' }, rules: [{ default: { local: { http: { disabled: true } } } }] })).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['rules with from', { targetRef: sidecars, rules: [{ default: { local: { http: { disabled: true } } } }], from: [{ targetRef: { kind: 'Mesh' }, default: { local: { http: { disabled: true } } } }] }, ["spec: fields 'to' and 'from' must be empty when 'rules' is defined"]],
    ['to on sidecars', { targetRef: sidecars, to: [{ targetRef: { kind: 'Mesh' }, default: { local: { http: { disabled: true } } } }] }, ['spec.to: must not be defined']],
    ['from with gateways', { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { local: { http: { disabled: true } } } }] }, ['spec.from: must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to']],
    ['rules with gateways', { targetRef: { kind: 'Mesh' }, rules: [{ default: { local: { http: { disabled: true } } } }] }, ['spec.rules: must not be defined']],
    ['no local', { targetRef: sidecars, rules: [{ default: {} }] }, ['spec.rules[0].default.local: must be defined']],
    ['empty local', { targetRef: sidecars, rules: [{ default: { local: {} } }] }, ['spec.rules[0].default.local: must have at least one defined: tcp, http']],
    ['empty http', { targetRef: sidecars, rules: [{ default: { local: { http: {} } } }] }, ['spec.rules[0].default.local.http: must have at least one defined: disabled, requestRate, onRateLimit']],
    ['empty tcp', { targetRef: sidecars, rules: [{ default: { local: { tcp: {} } } }] }, ['spec.rules[0].default.local.tcp: must have at least one defined: disabled, connectionRate']],
    ['zero num', { targetRef: sidecars, rules: [{ default: { local: { http: { requestRate: { num: 0, interval: '1s' } } } } }] }, ['spec.rules[0].default.local.http.requestRate.num: must be greater than 0']],
    ['short interval', { targetRef: sidecars, rules: [{ default: { local: { tcp: { connectionRate: { num: 1, interval: '50ms' } } } } }] }, ['spec.rules[0].default.local.tcp.connectionRate.interval: must be greater than: 50ms']],
    ['zero status', { targetRef: sidecars, rules: [{ default: { local: { http: { onRateLimit: { status: 0 } } } } }] }, ['spec.rules[0].default.local.http.onRateLimit.status: must be greater than 0']],
    [
      'tcp with spiffe match',
      { targetRef: sidecars, rules: [{ matches: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/a' } }], default: { local: { tcp: { disabled: true } } } }] },
      ["spec.rules[0].default.local.tcp: can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity"],
    ],
    ['to kind', { targetRef: { kind: 'Mesh', proxyTypes: ['Gateway'] }, to: [{ targetRef: { kind: 'MeshService', name: 'x' }, default: { local: { http: { disabled: true } } } }] }, ["spec.to[0].targetRef.kind: value 'MeshService' is not supported"]],
    ['too many headers', { targetRef: sidecars, rules: [{ default: { local: { http: { onRateLimit: { headers: { add: Array.from({ length: 17 }, () => ({ name: 'a', value: 'b' })) } } } } } }] }, ['spec.rules[0].default.local.http.onRateLimit.headers.add: in body should have at most 16 items']],
  ])('%s', (_name, spec, want) => {
    expect(mrl(spec)).toEqual(want);
  });
});
