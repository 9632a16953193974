import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}
import { defaultRetryPolicy } from './api.js';

const mr = (spec: unknown) => errors('MeshRetry', spec);
const to = (conf: unknown) => ({ to: [{ targetRef: { kind: 'Mesh' }, default: conf }] });

describe('MeshRetry validation', () => {
  it('accepts the default policy and the documented forms', () => {
    expect(mr(defaultRetryPolicy('default').spec)).toEqual([]);
    expect(mr(to({ http: { numRetries: 3, retryOn: ['5xx', 'GatewayError', '503', 'HttpMethodGET'], hostSelection: [{ predicate: 'OmitPreviousHosts' }] }, grpc: { retryOn: ['Unavailable'] } }))).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['no to', { targetRef: { kind: 'Mesh' } }, ['spec.to: needs at least one item']],
    ['empty conf', to({}), ["spec.to[0].default: at least one of the 'tcp', 'http', 'grpc' must be specified"]],
    ['empty section', to({ http: {} }), ['spec.to[0].default.http: must not be empty']],
    ['zero attempts', to({ tcp: { maxConnectAttempt: 0 } }), ['spec.to[0].default.tcp.maxConnectAttempt: must be greater than 0']],
    ['unknown retryOn', to({ http: { retryOn: ['Sometimes'] } }), ["spec.to[0].default.http.retryOn[0]: unknown item 'Sometimes'"]],
    ['grpc retryOn', to({ grpc: { retryOn: ['5xx'] } }), ["spec.to[0].default.grpc.retryOn[0]: unknown item '5xx'"]],
    ['backoff', to({ http: { backOff: { baseInterval: '0s' } } }), ['spec.to[0].default.http.backOff.baseInterval: must be greater than zero when defined']],
  ])('%s', (_name, spec, want) => {
    expect(mr(spec)).toEqual(want);
  });
});
