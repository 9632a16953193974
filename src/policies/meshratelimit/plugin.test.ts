import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import { golden, policyResource, sidecarDump } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb } from '../common/golden-fixtures.js';
import { buildMeshContext } from '../../xds/context/mesh-context.js';
import { sidecarKey } from '../../xds/generator/sidecar.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);

describe('MeshRateLimit plugin', () => {
  it('HTTP and TCP local rate limits on the selected inbounds', () => {
    const policy = policyResource('MeshRateLimit', 'backend-rl', {
      targetRef: { kind: 'Dataplane', labels: {} },
      rules: [
        {
          default: {
            local: {
              http: { requestRate: { num: 2, interval: '10s' }, onRateLimit: { status: 429, headers: { add: [{ name: 'x-limited', value: 'yes' }], set: [{ name: 'x-why', value: 'a,b' }] } } },
              tcp: { connectionRate: { num: 5, interval: '1s' } },
            },
          },
        },
      ],
    });
    const dump = sidecarDump(goldenMesh, [goldenBackend, goldenWeb], goldenBackend, [policy]);
    expect(dump).toEqual(golden(testdata('inbound.golden.json'), dump));
    const text = JSON.stringify(dump);
    expect(text).toContain('envoy.filters.http.local_ratelimit');
    expect(text).toContain('envoy.filters.network.local_ratelimit');
  });

  it('a disabled HTTP limit adds no filter', () => {
    const policy = policyResource('MeshRateLimit', 'off', {
      targetRef: { kind: 'Mesh' },
      from: [{ targetRef: { kind: 'Mesh' }, default: { local: { http: { disabled: true, requestRate: { num: 1, interval: '1s' } } } } }],
    });
    expect(JSON.stringify(sidecarDump(goldenMesh, [goldenBackend], goldenBackend, [policy]))).not.toContain('local_ratelimit');
  });

  it('a MeshRateLimit change changes the sidecar cache key (policiesHash covers every kind)', () => {
    const limit = (num: number) => policyResource('MeshRateLimit', 'rl', { targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, from: [{ targetRef: { kind: 'Mesh' }, default: { local: { http: { requestRate: { num, interval: '1s' } } } } }] });
    const key = (policies: ReturnType<typeof limit>[]) => sidecarKey(goldenBackend, buildMeshContext(goldenMesh, [goldenBackend], [], undefined, { policies }), 'v1');
    expect(key([limit(1)])).not.toBe(key([]));
    expect(key([limit(1)])).not.toBe(key([limit(2)]));
    expect(key([limit(1)])).toBe(key([limit(1)]));
  });
});
