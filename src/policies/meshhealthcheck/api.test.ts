import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}

const mhc = (spec: unknown) => errors('MeshHealthCheck', spec);
const to = (conf: unknown) => ({ to: [{ targetRef: { kind: 'Mesh' }, default: conf }] });

describe('MeshHealthCheck validation', () => {
  it('accepts the documented forms', () => {
    expect(mhc(to({ interval: '10s', timeout: '2s', unhealthyThreshold: 3, healthyThreshold: 1, failTrafficOnPanic: true, noTrafficInterval: '1s', eventLogPath: '/var/log/health-check.log', tcp: { send: 'Zm9v', receive: ['YmFy'] }, http: { path: '/health', expectedStatuses: [200, 201], requestHeadersToAdd: { set: [{ name: 'x', value: 'y' }] } }, grpc: { serviceName: 'svc' } }))).toEqual([]);
    expect(mhc({
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' }, sectionName: '10002' },
      to: [{ targetRef: { kind: 'MeshExternalService', name: 'httpbin' }, default: { interval: '5s', http: { path: '/status/200' } } }],
    })).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['no to', { targetRef: { kind: 'Mesh' } }, ['spec.to: needs at least one item']],
    ['no checker', to({ interval: '1s' }), ['spec.to[0].default: must have at least one defined: http, tcp, grpc']],
    ['interval', to({ interval: '0s', tcp: {} }), ['spec.to[0].default.interval: must be greater than zero when defined']],
    ['threshold', to({ unhealthyThreshold: 0, tcp: {} }), ['spec.to[0].default.unhealthyThreshold: must be greater than zero when defined']],
    ['jitter percent', to({ intervalJitterPercent: 120, tcp: {} }), ['spec.to[0].default.intervalJitterPercent: must be in inclusive range [0, 100]']],
    ['event log path', to({ eventLogPath: '/var/log/', tcp: {} }), ['spec.to[0].default.eventLogPath: must be a valid path when defined']],
    ['http path', to({ http: { path: '' } }), ['spec.to[0].default.http.path: must be defined']],
    ['expected status', to({ http: { expectedStatuses: [99] } }), ['spec.to[0].default.http.expectedStatuses[0]: must be in inclusive range [100, 599]']],
    ['panic threshold', to({ healthyPanicThreshold: -1, tcp: {} }), ['spec.to[0].default.healthyPanicThreshold: must be in inclusive range [0.0, 100.0]']],
    ['to kind', { to: [{ targetRef: { kind: 'Dataplane' }, default: { tcp: {} } }] }, ["spec.to[0].targetRef.kind: value 'Dataplane' is not supported"]],
    ['from is not a field', { from: [] }, ['spec.from: unknown field "from"']],
  ])('%s', (_name, spec, want) => {
    expect(mhc(spec)).toEqual(want);
  });
});
