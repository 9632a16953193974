import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}

const mfi = (spec: unknown) => errors('MeshFaultInjection', spec);

describe('MeshFaultInjection validation', () => {
  it('accepts the documented forms', () => {
    expect(mfi({
      targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] },
      from: [{ targetRef: { kind: 'MeshService', name: 'frontend' }, default: { http: [{ abort: { httpStatus: 500, percentage: '2.5' } }, { delay: { value: '5s', percentage: 5 } }, { responseBandwidth: { limit: '10kbps', percentage: 50 } }] } }],
    })).toEqual([]);
    expect(mfi({ targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' } }, rules: [{ matches: [{ sni: { type: 'Exact', value: 'sni.extsvc.default.httpbin.80' } }], default: { http: [{ abort: { httpStatus: 503, percentage: 100 } }] } }] })).toEqual([]);
    expect(mfi({ targetRef: { kind: 'Mesh' }, rules: [{ default: { http: [] } }] })).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['rules with from', { targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, rules: [{ default: { http: [] } }], from: [{ targetRef: { kind: 'Mesh' }, default: { http: [] } }] }, ["spec: field 'from' must be empty when 'rules' is defined"]],
    ['to on sidecars', { targetRef: { kind: 'Dataplane' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: [] } }] }, ['spec.to: must not be defined']],
    ['from with gateways', { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { http: [] } }] }, ['spec.from: must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to']],
    ['abort status', { rules: [{ default: { http: [{ abort: { httpStatus: 99, percentage: 1 } }] } }] }, ['spec.rules[0].default.http[0].abort.httpStatus: must be in inclusive range [100, 599]']],
    ['abort percentage', { rules: [{ default: { http: [{ abort: { httpStatus: 500, percentage: 101 } }] } }] }, ['spec.rules[0].default.http[0].abort.percentage: must be in inclusive range [0.0, 100.0]']],
    ['percentage not a number', { rules: [{ default: { http: [{ delay: { value: '1s', percentage: 'lots' } }] } }] }, ['spec.rules[0].default.http[0].delay.percentage: string must be a valid number']],
    ['negative delay', { rules: [{ default: { http: [{ delay: { value: '-1s', percentage: 1 } }] } }] }, ['spec.rules[0].default.http[0].delay.value: must not be negative when defined']],
    ['bandwidth units', { rules: [{ default: { http: [{ responseBandwidth: { limit: '10 bytes', percentage: 1 } }] } }] }, ['spec.rules[0].default.http[0].responseBandwidth.limit: must be in kbps/Mbps/Gbps units']],
    ['bandwidth missing', { rules: [{ default: { http: [{ responseBandwidth: { percentage: 1 } }] } }] }, ['spec.rules[0].default.http[0].responseBandwidth.limit: must be defined']],
    ['match', { rules: [{ matches: [{ spiffeID: { type: 'Exact' } }], default: { http: [] } }] }, ['spec.rules[0].matches[0].spiffeID.value: must be set']],
    ['from kind', { targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, from: [{ targetRef: { kind: 'Dataplane' }, default: { http: [] } }] }, ["spec.from[0].targetRef.kind: value 'Dataplane' is not supported"]],
  ])('%s', (_name, spec, want) => {
    expect(mfi(spec)).toEqual(want);
  });
});
