/* eslint-disable @typescript-eslint/no-explicit-any -- dumped Envoy config is inspected field by field */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import { golden, policyResource, sidecarDump, zoneProxyDump } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb, goldenZoneProxy, goldenZpBackend, goldenZpEgressAllow, goldenZpExternals, goldenZpMesh } from '../common/golden-fixtures.js';
import { defaultTimeoutPolicy } from './api.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);

/** The filter chain of a listener serving `sni`, as dumped. */
function chain(dump: Record<string, unknown>, listener: string, sni: string): any {
  const l = (dump['listeners'] as any[]).find((x) => x.name === listener);
  return l.filter_chains.find((c: any) => c.filter_chain_match.server_names.includes(sni));
}

const dataplanes = [goldenBackend, goldenWeb];
const dflt = () => {
  const p = defaultTimeoutPolicy('default');
  return policyResource(p.type, p.name, p.spec as unknown as Record<string, unknown>);
};

describe('MeshTimeout plugin', () => {
  it('the default policy: inbound and outbound timeouts of a sidecar', () => {
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [dflt()]);
    expect(dump).toEqual(golden(testdata('default.golden.json'), dump));
    const text = JSON.stringify(dump);
    expect(text).toContain('"timeout":{"seconds":"15"}');
    expect(text).toContain('"stream_idle_timeout":{"seconds":"1800"}');
  });

  it('a policy naming one destination overrides the mesh-wide one for it only', () => {
    const backendTimeout = policyResource('MeshTimeout', 'backend-timeout', {
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'MeshService', name: 'backend-tcp' }, default: { connectionTimeout: '2s', idleTimeout: '30s' } }],
      from: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: '3s' } } }],
    });
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [dflt(), backendTimeout]);
    expect(dump).toEqual(golden(testdata('override.golden.json'), dump));
  });

  it('a top-level MeshService targetRef selects the proxies backing it: its to[] applies to their outbounds only', () => {
    const fromWeb = policyResource('MeshTimeout', 'web-calls', {
      targetRef: { kind: 'MeshService', name: 'web' },
      to: [{ targetRef: { kind: 'MeshService', name: 'backend-tcp' }, default: { connectionTimeout: '7s' } }],
    });
    const web = JSON.stringify(sidecarDump(goldenMesh, dataplanes, goldenWeb, [fromWeb]));
    expect(web).toContain('"connect_timeout":{"seconds":"7"}');
    const backend = JSON.stringify(sidecarDump(goldenMesh, dataplanes, goldenBackend, [fromWeb]));
    expect(backend).not.toContain('"connect_timeout":{"seconds":"7"}');
  });

  it('without any MeshTimeout an outbound route keeps the 15s default and inbounds get none', () => {
    const dump = JSON.stringify(sidecarDump(goldenMesh, dataplanes, goldenWeb, []));
    expect(dump.match(/"timeout":\{"seconds":"15"\}/g)?.length).toBe(1);
    expect(dump).not.toContain('idle_timeout');
  });

  it('zone proxy: connect and idle timeouts per SNI chain; a policy of another mesh changes nothing', () => {
    const policy = policyResource('MeshTimeout', 'zp-timeouts', {
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } },
      rules: [
        { default: { connectionTimeout: '2s', idleTimeout: '30s' } },
        { matches: [{ sni: { type: 'Exact', value: 'sni.msvc.zp.backend.8080' } }], default: { idleTimeout: '5s' } },
      ],
    }, 'zp');
    const dump = zoneProxyDump(goldenZpMesh, [goldenZpBackend, goldenZoneProxy], goldenZoneProxy, [goldenZpEgressAllow, policy], goldenZpExternals);
    expect(dump).toEqual(golden(testdata('zone-proxy.golden.json'), dump));
    const tcpProxy = (c: any) => c.filters.find((f: any) => f.name === 'envoy.filters.network.tcp_proxy').typed_config;
    expect(tcpProxy(chain(dump, 'self_zoneingress_dp_10001', 'sni.msvc.zp.backend.8080')).idle_timeout).toEqual({ seconds: '5' });
    expect(tcpProxy(chain(dump, 'self_zoneegress_dp_10002', 'sni.extsvc.zp.db.5432')).idle_timeout).toEqual({ seconds: '30' });
    const clusters = dump['clusters'] as any[];
    expect(clusters.find((c) => c.name === 'egress:db').connect_timeout).toEqual({ seconds: '2' });
    expect(clusters.find((c) => c.name === 'ingress:backend').connect_timeout).toEqual({ seconds: '2' });

    const none = zoneProxyDump(goldenZpMesh, [goldenZpBackend, goldenZoneProxy], goldenZoneProxy, [goldenZpEgressAllow], goldenZpExternals);
    const elsewhere = { ...policy, mesh: 'other' };
    expect(zoneProxyDump(goldenZpMesh, [goldenZpBackend, goldenZoneProxy], goldenZoneProxy, [goldenZpEgressAllow, elsewhere], goldenZpExternals)).toEqual(none);
    expect(none).not.toEqual(dump);
  });
});
