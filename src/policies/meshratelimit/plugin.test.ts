/* eslint-disable @typescript-eslint/no-explicit-any -- dumped Envoy config is inspected field by field */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import { golden, policyResource, sidecarDump, zoneProxyDump } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb, goldenZoneProxy, goldenZpBackend, goldenZpEgressAllow, goldenZpExternals, goldenZpMesh } from '../common/golden-fixtures.js';
import { buildMeshContext } from '../../xds/context/mesh-context.js';
import { sidecarKey } from '../../xds/generator/sidecar.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);

/** The filter chain of a listener serving `sni`, as dumped. */
function chain(dump: Record<string, unknown>, listener: string, sni: string): any {
  const l = (dump['listeners'] as any[]).find((x) => x.name === listener);
  return l.filter_chains.find((c: any) => c.filter_chain_match.server_names.includes(sni));
}


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

  it('zone proxy: the TCP connection rate on the chain of one SNI, the HTTP request rate on the egress HTTP chain', () => {
    const policy = policyResource('MeshRateLimit', 'zp-rl', {
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } },
      rules: [
        { matches: [{ sni: { type: 'Exact', value: 'sni.extsvc.zp.db.5432' } }], default: { local: { tcp: { connectionRate: { num: 1, interval: '10s' } } } } },
        { matches: [{ sni: { type: 'Exact', value: 'sni.extsvc.zp.httpbin.80' } }], default: { local: { http: { requestRate: { num: 2, interval: '10s' } } } } },
      ],
    }, 'zp');
    const dump = zoneProxyDump(goldenZpMesh, [goldenZpBackend, goldenZoneProxy], goldenZoneProxy, [goldenZpEgressAllow, policy], goldenZpExternals);
    expect(dump).toEqual(golden(testdata('zone-proxy.golden.json'), dump));
    const filters = (c: any) => c.filters.map((f: any) => f.name);
    expect(filters(chain(dump, 'self_zoneegress_dp_10002', 'sni.extsvc.zp.db.5432'))[0]).toBe('envoy.filters.network.local_ratelimit');
    const http = chain(dump, 'self_zoneegress_dp_10002', 'sni.extsvc.zp.httpbin.80');
    expect(filters(http)).not.toContain('envoy.filters.network.local_ratelimit');
    expect(JSON.stringify(http)).toContain('envoy.filters.http.local_ratelimit');
    expect(JSON.stringify(chain(dump, 'self_zoneingress_dp_10001', 'sni.msvc.zp.backend.8080'))).not.toContain('local_ratelimit');
  });
});
