import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}

const mm = (spec: unknown) => errors('MeshMetric', spec);
const def = (conf: unknown) => ({ targetRef: { kind: 'Mesh' }, default: conf });
const otel = { kind: 'MeshOpenTelemetryBackend', labels: { 'kuma.io/display-name': 'otel' } };

describe('MeshMetric validation', () => {
  it('accepts the documented forms', () => {
    expect(mm(def({
      sidecar: { profiles: { appendProfiles: [{ name: 'Basic' }], exclude: [{ type: 'Regex', match: 'envoy_cluster_.*' }], include: [{ type: 'Prefix', match: 'envoy_cluster_upstream_rq' }] }, includeUnused: false },
      applications: [{ name: 'app', path: '/metrics', port: 8888 }],
      backends: [{ type: 'Prometheus', prometheus: { clientId: 'main', port: 5670, path: '/metrics', tls: { mode: 'Disabled' } } }, { type: 'OpenTelemetry', openTelemetry: { backendRef: otel, refreshInterval: '30s' } }],
    }))).toEqual([]);
    expect(mm(def({ backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel-collector:4317' } }] }))).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['no default', { targetRef: { kind: 'Mesh' } }, ['spec.default: must be defined']],
    ['profile name', def({ sidecar: { profiles: { appendProfiles: [{ name: 'Most' }] } } }), ["spec.default.sidecar.profiles.appendProfiles[0].name: unrecognized profile name 'Most' - 'All', 'None', 'Basic' are supported"]],
    ['selector type', def({ sidecar: { profiles: { include: [{ type: 'Glob', match: 'a' }] } } }), ["spec.default.sidecar.profiles.include[0].type: unrecognized type 'Glob' - 'Regex', 'Prefix', 'Exact' are supported"]],
    ['bad regex', def({ sidecar: { profiles: { exclude: [{ type: 'Regex', match: '(' }] } } }), ['spec.default.sidecar.profiles.exclude[0].match: invalid regex']],
    ['application port', def({ applications: [{ port: 70000 }] }), ['spec.default.applications[0].port: port must be a valid (1-65535)']],
    ['prometheus missing', def({ backends: [{ type: 'Prometheus' }] }), ['spec.default.backends[0].prometheus: must be defined']],
    ['prometheus port', def({ backends: [{ type: 'Prometheus', prometheus: { port: 0 } }] }), ['spec.default.backends[0].prometheus.port: port must be a valid (1-65535)']],
    ['otel missing', def({ backends: [{ type: 'OpenTelemetry' }] }), ['spec.default.backends[0].openTelemetry: must be defined']],
    ['otel both', def({ backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'a:1', backendRef: otel } }] }), ['spec.default.backends[0].openTelemetry: openTelemetry must have only one type defined: endpoint, backendRef']],
    ['otel neither', def({ backends: [{ type: 'OpenTelemetry', openTelemetry: {} }] }), ['spec.default.backends[0].openTelemetry: openTelemetry must have exactly one defined: endpoint, backendRef']],
    ['otel url', def({ backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'http://a:4317' } }] }), ['spec.default.backends[0].openTelemetry.endpoint: must be in host:port format, not a URL']],
    ['otel no port', def({ backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'collector' } }] }), ['spec.default.backends[0].openTelemetry.endpoint: must be in host:port format']],
    ['backendRef kind', def({ backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'Secret', labels: { a: 'b' } } } }] }), ['spec.default.backends[0].openTelemetry.backendRef.kind: "kind" must be one of ["MeshOpenTelemetryBackend"]']],
    ['backendRef labels', def({ backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend' } } }] }), ['spec.default.backends[0].openTelemetry.backendRef: backendRef must have exactly one defined: labels']],
    ['unknown type', def({ backends: [{ type: 'Statsd' }] }), ['spec.default.backends[0]: unrecognized type']],
  ])('%s', (_name, spec, want) => {
    expect(mm(spec)).toEqual(want);
  });
});
