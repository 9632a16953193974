import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}

const mal = (spec: unknown) => errors('MeshAccessLog', spec);
const rule = (backends: unknown) => ({ targetRef: { kind: 'Mesh' }, rules: [{ default: { backends } }] });
const otel = { kind: 'MeshOpenTelemetryBackend', labels: { 'kuma.io/display-name': 'otel' } };

describe('MeshAccessLog validation', () => {
  it('accepts the documented forms', () => {
    expect(mal({ targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'File', file: { path: '/dev/stdout' } }] } }] })).toEqual([]);
    expect(mal({ targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: { backends: [{ type: 'Tcp', tcp: { address: '127.0.0.1:5000', format: { type: 'Json', json: [{ key: 'start', value: '%START_TIME%' }] } } }] } }] })).toEqual([]);
    expect(mal({
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' } },
      rules: [{ matches: [{ sni: { type: 'Exact', value: 'sni.extsvc.default.httpbin.80' } }], default: { backends: [{ type: 'File', file: { path: '/var/log/egress.log', format: { type: 'Plain', plain: '%START_TIME% %KUMA_MESH%' } } }] } }],
    })).toEqual([]);
    expect(mal(rule([{ type: 'OpenTelemetry', openTelemetry: { backendRef: otel, attributes: [{ key: 'mesh.name', value: '%KUMA_MESH%' }], body: { kvlistValue: { values: [] } } } }]))).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['nothing', { targetRef: { kind: 'Mesh' } }, ["spec: at least one of 'from', 'to' or 'rules' has to be defined"]],
    ['rules with from', { rules: [{ default: { backends: [] } }], from: [{ targetRef: { kind: 'Mesh' }, default: { backends: [] } }] }, ["spec: fields 'to' and 'from' must be empty when 'rules' is defined"]],
    ['no backends', { rules: [{ default: {} }] }, ['spec.rules[0].default.backends: must be defined']],
    ['file missing', rule([{ type: 'File' }]), ['spec.rules[0].default.backends[0].file: must be defined']],
    ['file path', rule([{ type: 'File', file: { path: '' } }]), ['spec.rules[0].default.backends[0].file.path: file backend requires a valid path']],
    ['tcp address', rule([{ type: 'Tcp', tcp: { address: 'no port here' } }]), ['spec.rules[0].default.backends[0].tcp.address: tcp backend requires valid address']],
    ['plain empty', rule([{ type: 'File', file: { path: '/a', format: { type: 'Plain', plain: '' } } }]), ['spec.rules[0].default.backends[0].file.format.plain: must not be empty']],
    ['json empty', rule([{ type: 'File', file: { path: '/a', format: { type: 'Json', json: [] } } }]), ['spec.rules[0].default.backends[0].file.format.json: must not be empty']],
    ['json key', rule([{ type: 'File', file: { path: '/a', format: { type: 'Json', json: [{ key: '', value: 'x' }] } } }]), ['spec.rules[0].default.backends[0].file.format.json[0].key: key cannot be empty']],
    ['otel missing', rule([{ type: 'OpenTelemetry' }]), ['spec.rules[0].default.backends[0].openTelemetry: must be defined']],
    ['otel neither', rule([{ type: 'OpenTelemetry', openTelemetry: {} }]), ['spec.rules[0].default.backends[0].openTelemetry: openTelemetry must have exactly one defined: endpoint, backendRef']],
    ['attribute placeholder', rule([{ type: 'OpenTelemetry', openTelemetry: { backendRef: otel, attributes: [{ key: '%KUMA_MESH%', value: 'x' }] } }]), ['spec.rules[0].default.backends[0].openTelemetry.attributes[0].key: must be a static OpenTelemetry attribute name; placeholders are only supported in values']],
    ['attribute otel prefix', rule([{ type: 'OpenTelemetry', openTelemetry: { backendRef: otel, attributes: [{ key: 'otel.x', value: 'x' }] } }]), ["spec.rules[0].default.backends[0].openTelemetry.attributes[0].key: must not use the reserved OpenTelemetry prefix 'otel.'"]],
    ['attribute shape', rule([{ type: 'OpenTelemetry', openTelemetry: { backendRef: otel, attributes: [{ key: 'Bad..Key', value: 'x' }] } }]), ["spec.rules[0].default.backends[0].openTelemetry.attributes[0].key: must start with a lowercase letter, use only lowercase letters, digits, '.' or '_', avoid consecutive delimiters, and end with a letter or digit"]],
    ['to kind', { to: [{ targetRef: { kind: 'MeshSubset', tags: {} }, default: { backends: [] } }] }, ["spec.to[0].targetRef.kind: value 'MeshSubset' is not supported"]],
    ['gateway to kind', { targetRef: { kind: 'MeshGateway', name: 'gw' }, to: [{ targetRef: { kind: 'MeshService', name: 'x' }, default: { backends: [] } }] }, ["spec.to[0].targetRef.kind: value 'MeshService' is not supported"]],
    ['match', { rules: [{ matches: [{ sni: {} }], default: { backends: [] } }] }, ['spec.rules[0].matches[0].sni.type: must be set', 'spec.rules[0].matches[0].sni.value: must be set']],
  ])('%s', (_name, spec, want) => {
    expect(mal(spec)).toEqual(want);
  });
});
