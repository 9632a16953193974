import { describe, expect, it } from 'vitest';
import { requireDescriptor } from '../../api/descriptor.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const warnings = (type: string, spec: unknown): string[] => {
  const res: Resource = { type, mesh: 'default', name: 'p', labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return requireDescriptor(type).warnings?.(res) ?? [];
};

describe('deprecation warnings (Kuma 2.14)', () => {
  it.each<[string, unknown, string[]]>([
    ['MeshTimeout', { targetRef: { kind: 'Mesh' }, rules: [{ default: { idleTimeout: '1s' } }] }, []],
    ['MeshTimeout', { targetRef: { kind: 'MeshService', name: 'web' }, from: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1s' } }] }, [
      "MeshService value for 'targetRef.kind' is deprecated, use Dataplane with labels instead",
      "'from' field is deprecated, use 'rules' instead",
    ]],
    ['MeshFaultInjection', { from: [{ targetRef: { kind: 'Mesh' }, default: { http: [] } }] }, ["'from' field is deprecated, use 'rules' with SPIFFE-based 'matches' instead"]],
    ['MeshTrafficPermission', { from: [{ targetRef: { kind: 'MeshService', name: 'a' }, default: { action: 'Allow' } }] }, [
      "'from' field is deprecated and will be removed in 3.0, use 'rules' with MeshIdentity (spiffeId) instead",
      "MeshService value for 'from[].targetRef.kind' is deprecated, use MeshSubset with 'kuma.io/service' instead",
    ]],
    ['MeshRateLimit', { targetRef: { kind: 'Dataplane' }, rules: [{ default: { local: { http: { onRateLimit: { status: 200 } } } } }] }, [
      "'spec.rules[0].default.local.http.requestRate.status' must be 400 or higher. Please update your configuration.",
    ]],
    ['MeshHealthCheck', { to: [{ targetRef: { kind: 'Mesh' }, default: { healthyPanicThreshold: 50, tcp: {} } }] }, [
      "healthyPanicThreshold for 'to[].default' is deprecated. The setting has been moved to MeshCircuitBreaker policy, please use MeshCircuitBreaker policy instead.",
    ]],
    ['MeshTrace', { default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'c:4317' } }] } }, [
      'openTelemetry.endpoint is deprecated, use openTelemetry.backendRef with a MeshOpenTelemetryBackend resource instead',
    ]],
    ['MeshAccessLog', { targetRef: { kind: 'MeshSubset', tags: {} }, rules: [{ default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'c:4317' } }] } }] }, [
      "MeshSubset value for 'targetRef.kind' is deprecated, use Dataplane with labels instead",
      'openTelemetry.endpoint is deprecated, use openTelemetry.backendRef with a MeshOpenTelemetryBackend resource instead',
    ]],
  ])('%s %j', (type, spec, want) => {
    expect(warnings(type, spec)).toEqual(want);
  });
});
