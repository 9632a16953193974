/* eslint-disable @typescript-eslint/no-explicit-any -- dumped Envoy config is inspected field by field */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import { golden, policyResource, sidecarDump, zoneProxyDump } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb, goldenZoneProxy, goldenZpBackend, goldenZpEgressAllow, goldenZpExternals, goldenZpMesh } from '../common/golden-fixtures.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);

describe('MeshFaultInjection plugin', () => {
  it('abort, delay and bandwidth faults on the HTTP inbound only', () => {
    const policy = policyResource('MeshFaultInjection', 'backend-faults', {
      targetRef: { kind: 'Mesh' },
      rules: [
        { default: { http: [{ abort: { httpStatus: 503, percentage: 50 } }, { delay: { value: '2s', percentage: '12.5' }, responseBandwidth: { limit: '5Mbps', percentage: 100 } }] } },
        { matches: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/web' } }], default: { http: [{ abort: { httpStatus: 500, percentage: 100 } }] } },
      ],
    });
    const dump = sidecarDump(goldenMesh, [goldenBackend, goldenWeb], goldenBackend, [policy]);
    expect(dump).toEqual(golden(testdata('inbound.golden.json'), dump));
    const text = JSON.stringify(dump);
    expect(text.match(/envoy\.filters\.http\.fault/g)?.length).toBe(2);
    expect(text).not.toContain('"http_status":500');
  });

  it('zone proxy: an abort on the egress chain of the HTTP external service it names (an HCM there), nothing on TCP chains', () => {
    const policy = policyResource('MeshFaultInjection', 'zp-faults', {
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } },
      rules: [{ matches: [{ sni: { type: 'Exact', value: 'sni.extsvc.zp.httpbin.80' } }], default: { http: [{ abort: { httpStatus: 418, percentage: 100 } }] } }],
    }, 'zp');
    const everywhere = policyResource('MeshFaultInjection', 'zp-faults-all', {
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } },
      rules: [{ default: { http: [{ delay: { value: '1s', percentage: 100 } }] } }],
    }, 'zp');
    const dump = zoneProxyDump(goldenZpMesh, [goldenZpBackend, goldenZoneProxy], goldenZoneProxy, [goldenZpEgressAllow, policy], goldenZpExternals);
    expect(dump).toEqual(golden(testdata('zone-proxy.golden.json'), dump));
    const listeners = dump['listeners'] as any[];
    const chains = listeners.flatMap((l) => l.filter_chains.map((c: any) => [c.filter_chain_match.server_names[0], c.filters.map((f: any) => f.name).at(-1)]));
    expect(Object.fromEntries(chains)).toEqual({
      'sni.msvc.zp.backend.8080': 'envoy.filters.network.tcp_proxy',
      'sni.extsvc.zp.db.5432': 'envoy.filters.network.tcp_proxy',
      'sni.extsvc.zp.httpbin.80': 'envoy.filters.network.http_connection_manager',
    });
    expect(JSON.stringify(dump)).toContain('"http_status":418');
    // Without matches: the HTTP external service only (the other chains carry no HTTP).
    const all = zoneProxyDump(goldenZpMesh, [goldenZpBackend, goldenZoneProxy], goldenZoneProxy, [goldenZpEgressAllow, everywhere], goldenZpExternals);
    expect(JSON.stringify(all).match(/envoy\.filters\.http\.fault/g)?.length).toBe(1);
  });
});
