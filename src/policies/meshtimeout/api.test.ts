import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}
import { defaultGatewayTimeoutPolicy, defaultTimeoutPolicy } from './api.js';

const mt = (spec: unknown) => errors('MeshTimeout', spec);

describe('MeshTimeout validation', () => {
  it('accepts the default policies and the documented forms', () => {
    expect(mt(defaultTimeoutPolicy('default').spec)).toEqual([]);
    expect(mt(defaultGatewayTimeoutPolicy('default').spec)).toEqual([]);
    expect(mt({ targetRef: { kind: 'Mesh' }, rules: [{ default: { connectionTimeout: '10s', idleTimeout: '2h', http: { requestTimeout: '0s', streamIdleTimeout: '1h', maxStreamDuration: '0s' } } }] })).toEqual([]);
    expect(mt({ targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '5s', idleTimeout: '1h', http: { requestTimeout: '15s', streamIdleTimeout: '30m' } } }] })).toEqual([]);
    // Zone egress: one listener, one external service by SNI.
    expect(mt({
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' }, sectionName: '10002' },
      rules: [{ matches: [{ sni: { type: 'Exact', value: 'sni.extsvc.default.httpbin.80' } }], default: { idleTimeout: '30s' } }],
    })).toEqual([]);
    expect(mt({ targetRef: { kind: 'Mesh' }, rules: [{ matches: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default/' } }], default: { http: { requestTimeout: '1s' } } }] })).toEqual([]);
    expect(mt({ to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: { http: { requestTimeout: '2s' } } }] })).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['nothing', { targetRef: { kind: 'Mesh' } }, ["spec: at least one of 'from', 'to' or 'rules' has to be defined"]],
    ['rules with to', { rules: [{ default: { idleTimeout: '1s' } }], to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1s' } }] }, ["spec: fields 'to' and 'from' must be empty when 'rules' is defined"]],
    ['empty conf', { rules: [{ default: {} }] }, ['spec.rules[0].default: at least one timeout should be configured']],
    ['zero connect', { rules: [{ default: { connectionTimeout: '0s' } }] }, ['spec.rules[0].default.connectionTimeout: must be greater than zero when defined']],
    ['negative idle', { to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '-1s' } }] }, ['spec.to[0].default.idleTimeout: must not be negative when defined']],
    ['bad duration', { to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: 'soon' } }] }, ['spec.to[0].default.idleTimeout: invalid duration "soon"']],
    ['empty http', { from: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestHeadersTimeout: '1s' } } }] }, ['spec.from[0].default.http: at least one timeout in this section should be configured']],
    ['negative http', { rules: [{ default: { http: { requestTimeout: '-2s' } } }] }, ['spec.rules[0].default.http.requestTimeout: must not be negative when defined']],
    ['from kind', { from: [{ targetRef: { kind: 'MeshService', name: 'x' }, default: { idleTimeout: '1s' } }] }, ["spec.from[0].targetRef.kind: value 'MeshService' is not supported"]],
    ['to kind', { to: [{ targetRef: { kind: 'MeshSubset', tags: {} }, default: { idleTimeout: '1s' } }] }, ["spec.to[0].targetRef.kind: value 'MeshSubset' is not supported"]],
    ['match without fields', { rules: [{ matches: [{}], default: { idleTimeout: '1s' } }] }, ["spec.rules[0].matches[0]: must specify at least one of 'spiffeID' or 'sni'"]],
    ['spiffe type', { rules: [{ matches: [{ spiffeID: { type: 'Regex', value: 'spiffe://a/b' } }], default: { http: { requestTimeout: '1s' } } }] }, ['spec.rules[0].matches[0].spiffeID.type: unrecognized type "Regex", supported values are: Exact, Prefix']],
    ['spiffe value', { rules: [{ matches: [{ spiffeID: { type: 'Exact', value: 'http://x' } }], default: { http: { requestTimeout: '1s' } } }] }, ['spec.rules[0].matches[0].spiffeID: must be a valid Spiffe ID: scheme is missing or invalid']],
    ['sni type', { rules: [{ matches: [{ sni: { type: 'Prefix', value: 'x' } }], default: { idleTimeout: '1s' } }] }, ['spec.rules[0].matches[0].sni.type: unrecognized type "Prefix", supported values are: Exact']],
    ['sni value', { rules: [{ matches: [{ sni: { type: 'Exact' } }], default: { idleTimeout: '1s' } }] }, ['spec.rules[0].matches[0].sni.value: must be set']],
    [
      'spiffe-conditioned fields',
      { rules: [{ matches: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/a' } }], default: { connectionTimeout: '1s', http: { requestTimeout: '1s', maxStreamDuration: '1s' } } }] },
      [
        "spec.rules[0].default.connectionTimeout: can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity",
        "spec.rules[0].default.http.maxStreamDuration: can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity",
      ],
    ],
    ['sectionName on outbound policy', { targetRef: { kind: 'Dataplane', sectionName: 'x' }, to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1s' } }] }, ['spec.targetRef.sectionName: can only be used with inbound policies']],
    ['top-level kind', { targetRef: { kind: 'MeshExternalService', name: 'x' }, rules: [{ default: { idleTimeout: '1s' } }] }, ["spec.targetRef.kind: value 'MeshExternalService' is not supported"]],
    ['from under gateway', { targetRef: { kind: 'MeshGateway', name: 'gw' }, from: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1s' } }] }, ['spec.from: must not be defined']],
    ['unknown field', { rules: [{ default: { idleTimeout: '1s', bogus: 1 } }] }, ['spec.rules[0].default.bogus: unknown field "bogus"']],
  ])('%s', (_name, spec, want) => {
    expect(mt(spec)).toEqual(want);
  });
});
