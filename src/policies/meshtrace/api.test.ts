import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';
import { UNSUPPORTED_BACKEND } from './api.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}

const mtr = (spec: unknown) => errors('MeshTrace', spec);
const def = (conf: unknown) => ({ targetRef: { kind: 'Mesh' }, default: conf });
const backend = (b: unknown) => def({ backends: [b] });
const unsupported = (type: string) => `spec.default.backends[0].type: ${UNSUPPORTED_BACKEND(type)}`;

describe('MeshTrace validation', () => {
  it('accepts the documented forms', () => {
    expect(mtr(def({
      backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel-collector:4317' } }],
      sampling: { overall: 80, client: '99.5', random: 50 },
      tags: [{ name: 'team', literal: 'core' }, { name: 'env', header: { name: 'x-env', default: 'prod' } }],
    }))).toEqual([]);
    expect(mtr(backend({ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { 'kuma.io/display-name': 'otel' } } } }))).toEqual([]);
    expect(mtr(backend({ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel-collector:4317' } }))).toEqual([]);
    expect(mtr(def({ backends: [] }))).toEqual([]);
  });

  it('refuses Zipkin and Datadog, which the Skein data plane cannot export to', () => {
    const zipkin = unsupported('Zipkin');
    expect(zipkin).toBe('spec.default.backends[0].type: Zipkin is not supported: the Skein data plane exports traces with OpenTelemetry (OTLP/gRPC) only, use type OpenTelemetry');
    expect(mtr(backend({ type: 'Zipkin', zipkin: { url: 'http://jaeger-collector.mesh-observability:9411/api/v2/spans', apiVersion: 'httpJson' } }))).toEqual([zipkin]);
    expect(mtr(backend({ zipkin: { url: 'http://jaeger:9411/api/v2/spans' } }))).toEqual([zipkin]);
    expect(mtr(backend({ type: 'Datadog', datadog: { url: 'http://127.0.0.1:8126', splitService: true } }))).toEqual([zipkin.replace('Zipkin', 'Datadog')]);
  });

  it.each<[string, unknown, string[]]>([
    ['no backends', def({}), ['spec.default.backends: must be defined']],
    ['two backends', def({ backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'a:1' } }, { type: 'OpenTelemetry', openTelemetry: { endpoint: 'b:1' } }] }), ['spec.default.backends: must have zero or one backend defined']],
    ['datadog missing', backend({ type: 'Datadog' }), ['spec.default.backends[0].datadog: must be defined', unsupported('Datadog')]],
    ['datadog url', backend({ type: 'Datadog', datadog: { url: 'not a url' } }), ['spec.default.backends[0].datadog.url: must be a valid url', unsupported('Datadog')]],
    ['datadog scheme', backend({ type: 'Datadog', datadog: { url: 'https://a:8126' } }), ['spec.default.backends[0].datadog.url: scheme must be http', unsupported('Datadog')]],
    ['datadog port', backend({ type: 'Datadog', datadog: { url: 'http://a' } }), ['spec.default.backends[0].datadog.url: port must be defined', unsupported('Datadog')]],
    ['datadog path', backend({ type: 'Datadog', datadog: { url: 'http://a:1/x' } }), ['spec.default.backends[0].datadog.url: path must not be defined', unsupported('Datadog')]],
    ['zipkin empty', backend({ type: 'Zipkin', zipkin: { url: '' } }), ['spec.default.backends[0].zipkin.url: must not be empty', unsupported('Zipkin')]],
    ['zipkin invalid', backend({ type: 'Zipkin', zipkin: { url: 'nope' } }), ['spec.default.backends[0].zipkin.url: must be a valid url', unsupported('Zipkin')]],
    ['otel missing', backend({ type: 'OpenTelemetry' }), ['spec.default.backends[0].openTelemetry: must be defined']],
    ['otel url', backend({ type: 'OpenTelemetry', openTelemetry: { endpoint: 'http://a:4317' } }), ['spec.default.backends[0].openTelemetry.endpoint: must be in host:port format, not a URL']],
    ['sampling number', def({ backends: [], sampling: { overall: 'most' } }), ['spec.default.sampling.overall: string is not a number']],
    ['sampling range', def({ backends: [], sampling: { random: 101 } }), ['spec.default.sampling.random: must be between 0 and 100']],
    ['tag name', def({ backends: [], tags: [{ literal: 'x' }] }), ['spec.default.tags[0].name: must not be empty']],
    ['tag both', def({ backends: [], tags: [{ name: 'a', literal: 'x', header: { name: 'h' } }] }), ['spec.default.tags[0]: tag must have only one type defined: header, literal']],
    ['sectionName', { targetRef: { kind: 'Dataplane', sectionName: 'x' }, default: { backends: [] } }, ['spec.targetRef.sectionName: can only be used with inbound policies']],
  ])('%s', (_name, spec, want) => {
    expect(mtr(spec)).toEqual(want);
  });
});
