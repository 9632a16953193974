import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}
import { resolveBackendRef } from './api.js';

const motb = (spec: unknown) => errors('MeshOpenTelemetryBackend', spec);

describe('MeshOpenTelemetryBackend validation', () => {
  it('accepts the documented forms (an empty spec is a node-local collector)', () => {
    expect(motb({})).toEqual([]);
    expect(motb({ endpoint: { address: 'otel-collector.observability', port: 4317 }, protocol: 'grpc' })).toEqual([]);
    expect(motb({ endpoint: { address: '10.0.0.5', port: 4318, path: '/otlp' }, protocol: 'http', env: { mode: 'Required', precedence: 'ExplicitFirst', allowSignalOverrides: false } })).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['empty address', { endpoint: { address: '' } }, ['spec.endpoint.address: must not be empty']],
    ['bad address', { endpoint: { address: 'not an address!' } }, ['spec.endpoint.address: address has to be a valid IP or hostname']],
    ['port', { endpoint: { address: 'a', port: 70000 } }, ['spec.endpoint.port: port must be a valid (1-65535)']],
    ['path with grpc', { endpoint: { address: 'a', path: '/x' } }, ['spec.endpoint.path: must not be set when protocol is grpc']],
    ['relative path', { endpoint: { address: 'a', path: 'x' }, protocol: 'http' }, ['spec.endpoint.path: must start with /']],
    ['path query', { endpoint: { address: 'a', path: '/x?y' }, protocol: 'http' }, ['spec.endpoint.path: must not contain query or fragment']],
    ['protocol', { protocol: 'udp' }, ['spec.protocol: "protocol" must be one of ["grpc", "http"]']],
    ['env mode', { env: { mode: 'Sometimes' } }, ['spec.env.mode: "mode" must be one of ["Disabled", "Optional", "Required"]']],
    ['env precedence', { env: { precedence: 'Last' } }, ['spec.env.precedence: "precedence" must be one of ["ExplicitFirst", "EnvFirst"]']],
  ])('%s', (_name, spec, want) => {
    expect(motb(spec)).toEqual(want);
  });
});

describe('resolveBackendRef', () => {
  const backend = (name: string, labels: Record<string, string>, spec: Record<string, unknown>, creationTime: string): Resource => ({
    type: 'MeshOpenTelemetryBackend', mesh: 'default', name, labels, spec, version: 1, creationTime, modificationTime: creationTime,
  });
  const backends = [
    backend('newer', { team: 'a' }, { endpoint: { address: 'b', port: 4317 } }, '2026-01-02T00:00:00.000Z'),
    backend('older', { team: 'a' }, { endpoint: { address: 'collector', port: 443 }, protocol: 'http' }, '2026-01-01T00:00:00.000Z'),
  ];

  it('picks the oldest backend whose labels match, with the per-signal HTTP path', () => {
    expect(resolveBackendRef(backends, { kind: 'MeshOpenTelemetryBackend', labels: { team: 'a' } }, 'traces')).toEqual({
      name: 'older', address: 'collector', port: 443, protocol: 'http', path: '/v1/traces', useHttps: true,
    });
  });

  it('returns nothing for a dangling reference', () => {
    expect(resolveBackendRef(backends, { kind: 'MeshOpenTelemetryBackend', labels: { team: 'b' } }, 'logs')).toBeUndefined();
  });
});
