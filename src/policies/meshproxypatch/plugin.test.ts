/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protos are inspected field by field */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import type { Resource } from '../../api/resource.js';
import { TypeUrl, unpackAny } from '../../envoy/protos.js';
import { makeSnapshot } from '../../xds/cache/snapshot.js';
import { configDump } from '../../xds/config-dump.js';
import { buildMeshContext } from '../../xds/context/mesh-context.js';
import { ProxySnapshots } from '../../xds/generator/proxy-snapshots.js';
import { generateSidecarConfig } from '../../xds/generator/sidecar.js';
import { golden, policyResource } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb } from '../common/golden-fixtures.js';
import { anyToJson, canonicalJson } from './envoy-json.js';
import { applyProxyPatches, ProxyPatchError, withProxyPatches } from './plugin.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);

function mpp(name: string, mods: Record<string, unknown>[], targetRef: Record<string, unknown> = { kind: 'Mesh' }): Resource {
  return policyResource('MeshProxyPatch', name, { targetRef, default: { appendModifications: mods } });
}

/** Listeners and clusters of `dp` after generation and its MeshProxyPatches. */
function patchedDump(dp: Resource, policies: Resource[]): { listeners: unknown[]; clusters: unknown[] } {
  const ctx = buildMeshContext(goldenMesh, [goldenBackend, goldenWeb], [], undefined, { policies });
  const config = withProxyPatches(dp, ctx.policies, generateSidecarConfig(dp, ctx));
  const dump = configDump(makeSnapshot(config.resources)).resources as Record<string, { resource: unknown }[]>;
  const pick = (type: string) => (dump[type] ?? []).map((r) => r.resource).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return { listeners: pick('Listener'), clusters: pick('Cluster') };
}

function generated(dp: Resource, policies: Resource[]) {
  const ctx = buildMeshContext(goldenMesh, [goldenBackend, goldenWeb], [], undefined, { policies });
  return generateSidecarConfig(dp, ctx).resources;
}

const byName = (dump: { listeners: unknown[]; clusters: unknown[] }, kind: 'listeners' | 'clusters', name: string): any => (dump[kind] as { name: string }[]).find((r) => r.name === name);

describe('Envoy proto3 JSON', () => {
  it('reads snake_case and camelCase, durations as text, nested Any by @type', () => {
    const json = canonicalJson(TypeUrl.Cluster, { name: 'c', connect_timeout: '2.5s', perConnectionBufferLimitBytes: 1024, typedExtensionProtocolOptions: { x: { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } });
    expect(json).toEqual({
      name: 'c',
      connectTimeout: '2.5s',
      perConnectionBufferLimitBytes: 1024,
      typedExtensionProtocolOptions: { x: { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } },
    });
  });

  it('refuses fields and types the protos do not have', () => {
    expect(() => canonicalJson(TypeUrl.Cluster, { name: 'c', connectTimout: '1s' })).toThrow(/connectTimout: unknown field "connectTimout" in envoy.config.cluster.v3.Cluster/);
    expect(() => canonicalJson(TypeUrl.Cluster, { name: 'c', connectTimeout: 'soon' })).toThrow(/connectTimeout: must be a duration/);
    expect(() => canonicalJson(TypeUrl.Cluster, { name: 'c', type: 'NOPE' })).toThrow(/"NOPE" is not a value of/);
    expect(() => canonicalJson(TypeUrl.Listener, { name: 'l', filterChains: [{ filters: [{ name: 'f', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.nope.v3.Nope' } }] }] })).toThrow(/not known to the control plane/);
  });
});

describe('MeshProxyPatch plugin', () => {
  it('patches clusters, listeners, network and HTTP filters and virtual hosts (golden)', () => {
    const policy = mpp('patch-all', [
      { cluster: { match: { name: 'backend' }, operation: 'Patch', value: 'connect_timeout: 7s\nper_connection_buffer_limit_bytes: 32768' } },
      { cluster: { match: { origin: 'inbound' }, operation: 'Patch', jsonPatches: [{ op: 'replace', path: '/connectTimeout', value: '3s' }] } },
      { cluster: { operation: 'Add', value: 'name: extra\ntype: STATIC\nconnectTimeout: 1s\nloadAssignment:\n  clusterName: extra\n  endpoints:\n  - lbEndpoints:\n    - endpoint:\n        address:\n          socketAddress: {address: 127.0.0.1, portValue: 9999}' } },
      { listener: { match: { name: 'outbound:127.0.0.1:20002' }, operation: 'Remove' } },
      { networkFilter: { match: { name: 'envoy.filters.network.http_connection_manager', origin: 'inbound' }, operation: 'Patch', jsonPatches: [{ op: 'replace', path: '/stat_prefix', value: 'patched_inbound' }] } },
      {
        httpFilter: {
          match: { name: 'envoy.filters.http.router', listenerTags: { 'kuma.io/service': 'web' } },
          operation: 'AddBefore',
          value: "name: envoy.filters.http.fault\ntypedConfig:\n  '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault\n  abort: {httpStatus: 418, percentage: {numerator: 100}}",
        },
      },
      { virtualHost: { match: { origin: 'inbound', routeConfigurationName: 'inbound:10.0.0.2:8080' }, operation: 'Add', value: 'name: teapot\ndomains: [teapot.example]\nroutes:\n- match: {prefix: /}\n  directResponse: {status: 418, body: {inlineString: short and stout}}' } },
    ]);
    const dump = patchedDump(goldenWeb, [policy]);
    expect(dump).toEqual(golden(testdata('patch-all.golden.json'), dump));

    expect(byName(dump, 'clusters', 'backend')).toMatchObject({ connect_timeout: { seconds: '7' }, per_connection_buffer_limit_bytes: { value: 32768 } });
    expect(byName(dump, 'clusters', 'localhost:18080').connect_timeout).toEqual({ seconds: '3' });
    expect(byName(dump, 'clusters', 'backend-tcp').connect_timeout).toEqual({ seconds: '5' }); // not matched
    expect(byName(dump, 'clusters', 'extra')).toBeDefined();
    expect(byName(dump, 'listeners', 'outbound:127.0.0.1:20002')).toBeUndefined();
    const inboundHcm = byName(dump, 'listeners', 'inbound:10.0.0.2:8080').filter_chains[0].filters[0].typed_config;
    expect(inboundHcm.stat_prefix).toBe('patched_inbound');
    expect(inboundHcm.http_filters.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.http.fault', 'envoy.filters.http.router']);
    expect(inboundHcm.route_config.virtual_hosts.map((v: { name: string }) => v.name)).toEqual(['web', 'teapot']);
    const outboundHcm = byName(dump, 'listeners', 'outbound:127.0.0.1:20001').filter_chains[0].filters[0].typed_config;
    expect(outboundHcm.stat_prefix).toBe('outbound_127_0_0_1_20001');
    // The outbound's tags are `kuma.io/service: backend`, not web: no fault filter there.
    expect(outboundHcm.http_filters.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.http.router']);
  });

  it('filter operations: AddFirst, AddLast, AddAfter, Remove by name, value Patch merging typed_config', () => {
    const fault = (status: number) => `name: envoy.filters.http.fault\ntypedConfig:\n  '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault\n  abort: {httpStatus: ${status}, percentage: {numerator: 100}}`;
    const policy = mpp('filters', [
      { httpFilter: { match: { listenerName: 'inbound:10.0.0.1:8080' }, operation: 'AddFirst', value: fault(500) } },
      { httpFilter: { match: { listenerName: 'inbound:10.0.0.1:8080', name: 'envoy.filters.http.fault' }, operation: 'Patch', value: "typedConfig:\n  '@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault\n  abort: {httpStatus: 503}\n  maxActiveFaults: 3" } },
      { httpFilter: { match: { listenerName: 'inbound:10.0.0.1:8080', name: 'nothing-of-that-name' }, operation: 'AddAfter', value: fault(400) } },
      { networkFilter: { match: { listenerName: 'inbound:10.0.0.1:9090' }, operation: 'AddLast', value: 'name: last' } },
      { networkFilter: { match: { listenerName: 'inbound:10.0.0.1:9090', name: 'envoy.filters.network.tcp_proxy' }, operation: 'AddAfter', value: 'name: after-tcp' } },
      { networkFilter: { match: { listenerName: 'inbound:10.0.0.1:9090', name: 'last' }, operation: 'Remove' } },
    ]);
    const dump = patchedDump(goldenBackend, [policy]);
    const http = byName(dump, 'listeners', 'inbound:10.0.0.1:8080').filter_chains[0].filters[0].typed_config.http_filters;
    expect(http.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.http.fault', 'envoy.filters.http.router']);
    expect(http[0].typed_config).toMatchObject({ abort: { http_status: 503, percentage: { numerator: 100 } }, max_active_faults: { value: 3 } });
    const tcp = byName(dump, 'listeners', 'inbound:10.0.0.1:9090').filter_chains[0].filters;
    expect(tcp.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.network.tcp_proxy', 'after-tcp']);
  });

  it("matches the passthrough listener and cluster by Kuma's unified names too", () => {
    const tp = policyResource('Dataplane', 'web-1', { ...(goldenWeb.spec as object), networking: { ...(goldenWeb.spec as { networking: object }).networking, transparentProxying: { redirectPortOutbound: 15001 } } });
    const policy = mpp('passthrough', [
      { cluster: { match: { name: 'self_transparentproxy_passthrough_outbound_ipv4' }, operation: 'Patch', value: 'connectTimeout: 2s' } },
      { listener: { match: { name: 'self_transparentproxy_passthrough_outbound_ipv4', origin: 'transparent' }, operation: 'Patch', value: 'perConnectionBufferLimitBytes: 1024' } },
    ]);
    const dump = patchedDump(tp, [policy]);
    expect(byName(dump, 'clusters', 'outbound:passthrough:ipv4').connect_timeout).toEqual({ seconds: '2' });
    expect(byName(dump, 'listeners', 'outbound:passthrough:ipv4').per_connection_buffer_limit_bytes).toEqual({ value: 1024 });
  });

  it('leaves the generated resources as they are without a policy, and unchanged ones keep their encoding', () => {
    const resources = generated(goldenWeb, []);
    expect(applyProxyPatches(goldenWeb, [], resources)).toBe(resources);
    const policy = mpp('one', [{ cluster: { match: { name: 'backend' }, operation: 'Patch', value: 'connectTimeout: 7s' } }]);
    const before = generated(goldenWeb, [policy]);
    const after = applyProxyPatches(goldenWeb, [policy], before);
    const changed = after.filter((r, i) => r !== before[i]).map((r) => r.name);
    expect(changed).toEqual(['backend']);
    expect(unpackAny(after.find((r) => r.name === 'backend')!.any)).toMatchObject({ connect_timeout: { seconds: '7' } });
  });

  it('applies the least specific policy first, each modification on the result of the previous', () => {
    const mesh = mpp('mesh-wide', [{ cluster: { match: { name: 'backend' }, operation: 'Patch', value: 'connectTimeout: 7s' } }]);
    const own = mpp('web-only', [{ cluster: { match: { name: 'backend' }, operation: 'Patch', jsonPatches: [{ op: 'copy', from: '/connectTimeout', path: '/dnsRefreshRate' }] } }], { kind: 'Dataplane', name: 'web-1' });
    const dump = patchedDump(goldenWeb, [own, mesh]);
    expect(byName(dump, 'clusters', 'backend')).toMatchObject({ connect_timeout: { seconds: '7' }, dns_refresh_rate: { seconds: '7' } });
    // The Dataplane-targeted one does not reach backend-1.
    expect(byName(patchedDump(goldenBackend, [own]), 'clusters', 'localhost:18080').dns_refresh_rate).toBeUndefined();
  });

  it('reports a modification it cannot apply, naming the policy and the modification', () => {
    const badPath = mpp('bad-path', [{ cluster: { match: { name: 'backend' }, operation: 'Patch', jsonPatches: [{ op: 'replace', path: '/outlierDetection/interval', value: '1s' }] } }]);
    expect(() => patchedDump(goldenWeb, [badPath])).toThrow(ProxyPatchError);
    expect(() => patchedDump(goldenWeb, [badPath])).toThrow(/MeshProxyPatch "bad-path": spec.default.appendModifications\[0\].cluster: jsonPatches\[0\] \(replace \/outlierDetection\/interval\): Cannot perform the operation at a path that does not exist/);
    const badField = mpp('bad-field', [{ listener: { match: { origin: 'inbound' }, operation: 'Patch', jsonPatches: [{ op: 'add', path: '/noSuchField', value: 1 }] } }]);
    expect(() => patchedDump(goldenWeb, [badField])).toThrow(/appendModifications\[0\].listener: noSuchField: unknown field "noSuchField" in envoy.config.listener.v3.Listener/);
    const badValue = mpp('bad-value', [{ cluster: { operation: 'Add', value: 'name: x\nconnectTimeout: 1s\nbogus: true' } }]);
    expect(() => patchedDump(goldenWeb, [badValue])).toThrow(/bogus: unknown field/);
  });

  it('patches mesh-scoped zone proxies too (through ProxySnapshots, as the xDS server builds them)', () => {
    const zp = policyResource('Dataplane', 'ingress-1', { networking: { address: '10.0.0.9' } });
    zp.labels = { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress' };
    const policy = mpp('zone', [
      { cluster: { match: { origin: 'ingress' }, operation: 'Patch', value: 'connectTimeout: 9s' } },
      { networkFilter: { match: { origin: 'ingress', name: 'envoy.filters.network.tcp_proxy' }, operation: 'Patch', jsonPatches: [{ op: 'replace', path: '/statPrefix', value: 'zone_patched' }] } },
    ]);
    const ctx = buildMeshContext(goldenMesh, [goldenBackend, zp], [], undefined, { policies: [policy] });
    const snapshot = new ProxySnapshots().build('default.ingress-1', zp, ctx, { version: '' })!;
    const cluster = anyToJson(snapshot.resources.get(TypeUrl.Cluster)!.get('ingress:backend')!.any);
    expect(cluster['connectTimeout']).toBe('9s');
    const listener = anyToJson(snapshot.resources.get(TypeUrl.Listener)!.get('self_zoneingress_dp_10001')!.any) as any;
    expect(listener.filterChains.map((c: any) => c.filters[0].typedConfig.statPrefix)).toEqual(['zone_patched', 'zone_patched']);
  });
});
