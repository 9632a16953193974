import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}
import { defaultCircuitBreakerPolicy } from './api.js';

const mcb = (spec: unknown) => errors('MeshCircuitBreaker', spec);
const od = (outlierDetection: unknown) => ({ to: [{ targetRef: { kind: 'Mesh' }, default: { outlierDetection } }] });

describe('MeshCircuitBreaker validation', () => {
  it('accepts the default policy and the documented forms', () => {
    expect(mcb(defaultCircuitBreakerPolicy('default').spec)).toEqual([]);
    expect(mcb(od({ disabled: false, interval: '5s', baseEjectionTime: '30s', maxEjectionPercent: 20, splitExternalAndLocalErrors: true, detectors: { totalFailures: { consecutive: 10 }, successRate: { minimumHosts: 5, requestVolume: 10, standardDeviationFactor: '1.9' }, failurePercentage: { threshold: 85 } } }))).toEqual([]);
    // SKEIN-SPEC §3: one zone-egress listener, one external service.
    expect(mcb({
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' }, sectionName: '10002' },
      to: [{ targetRef: { kind: 'MeshExternalService', name: 'httpbin' }, default: { connectionLimits: { maxConnections: 2 } } }],
    })).toEqual([]);
    expect(mcb({ targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: { maxConnections: 10 } } }] })).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['nothing', { targetRef: { kind: 'Mesh' } }, ["spec: at least one of 'from', 'to' or 'rules' has to be defined"]],
    ['rules with to', { rules: [{ default: { connectionLimits: { maxConnections: 1 } } }], to: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: { maxConnections: 1 } } }] }, ["spec: fields 'to' and 'from' must be empty when 'rules' is defined"]],
    ['empty conf', { rules: [{ default: {} }] }, ["spec.rules[0].default: at least one of: 'connectionLimits' or 'outlierDetection' should be configured"]],
    ['zero limit', { to: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: { maxRetries: 0 } } }] }, ['spec.to[0].default.connectionLimits.maxRetries: must be greater than 0']],
    ['interval', od({ interval: '0s', detectors: { totalFailures: { consecutive: 1 } } }), ['spec.to[0].default.outlierDetection.interval: must be greater than zero when defined']],
    ['max ejection', od({ maxEjectionPercent: 101, detectors: { totalFailures: { consecutive: 1 } } }), ['spec.to[0].default.outlierDetection.maxEjectionPercent: must be in inclusive range [0, 100]']],
    ['panic threshold', od({ healthyPanicThreshold: '101', detectors: { totalFailures: { consecutive: 1 } } }), ['spec.to[0].default.outlierDetection.healthyPanicThreshold: must be in inclusive range [0.0, 100.0]']],
    ['no detectors', od({ interval: '1s' }), ['spec.to[0].default.outlierDetection.detectors: must be defined']],
    ['empty detectors', od({ detectors: {} }), ['spec.to[0].default.outlierDetection.detectors: must have at least one defined: totalFailures, gatewayFailures, localOriginFailures, successRate, failurePercentage']],
    ['zero consecutive', od({ detectors: { gatewayFailures: { consecutive: 0 } } }), ['spec.to[0].default.outlierDetection.detectors.gatewayFailures.consecutive: must be greater than 0']],
    ['stdev factor', od({ detectors: { successRate: { standardDeviationFactor: 'x' } } }), ['spec.to[0].default.outlierDetection.detectors.successRate.standardDeviationFactor: invalid number']],
    ['stdev factor zero', od({ detectors: { successRate: { standardDeviationFactor: 0 } } }), ['spec.to[0].default.outlierDetection.detectors.successRate.standardDeviationFactor: must be greater than 0']],
    ['threshold', od({ detectors: { failurePercentage: { threshold: 150 } } }), ['spec.to[0].default.outlierDetection.detectors.failurePercentage.threshold: must be in inclusive range [0, 100]']],
    ['to kind', { to: [{ targetRef: { kind: 'MeshHTTPRoute', name: 'r' }, default: { connectionLimits: { maxConnections: 1 } } }] }, ["spec.to[0].targetRef.kind: value 'MeshHTTPRoute' is not supported"]],
    ['from kind', { from: [{ targetRef: { kind: 'MeshSubset', tags: {} }, default: { connectionLimits: { maxConnections: 1 } } }] }, ["spec.from[0].targetRef.kind: value 'MeshSubset' is not supported"]],
  ])('%s', (_name, spec, want) => {
    expect(mcb(spec)).toEqual(want);
  });
});
