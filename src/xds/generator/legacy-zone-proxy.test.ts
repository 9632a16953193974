/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protos are inspected field by field */
import { describe, expect, it } from 'vitest';
import type { Resource } from '../../api/resource.js';
import { TypeUrl, unpackAny } from '../../envoy/protos.js';
import { makeSnapshot, type Snapshot } from '../cache/snapshot.js';
import { buildMeshContext } from '../context/mesh-context.js';
import { generateLegacyZoneEgress, generateLegacyZoneIngress } from './legacy-zone-proxy.js';
import { generateSidecar, type ProxyIdentity } from './sidecar.js';

function resource(type: string, mesh: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Resource {
  return { type, mesh, name, labels, spec, version: 1, creationTime: '', modificationTime: '' };
}

const mtls = { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] };
const meshOf = (name: string, extra: Record<string, unknown> = {}) => resource('Mesh', '', name, { mtls, ...extra });

function workload(mesh: string, name: string, address: string, service: string, port: number, zone?: string, outbound: { service: string; port: number }[] = []): Resource {
  return resource('Dataplane', mesh, name, {
    networking: { address, inbound: [{ port, servicePort: 80, tags: { 'kuma.io/service': service } }], outbound: outbound.map((o) => ({ port: o.port, tags: { 'kuma.io/service': o.service } })) },
  }, zone ? { 'kuma.io/zone': zone } : {});
}

function zoneProxy(mesh: string, name: string, role: string, zone: string | undefined, networking: Record<string, unknown>): Resource {
  return resource('Dataplane', mesh, name, { networking }, { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': role, ...(zone ? { 'kuma.io/zone': zone } : {}) });
}

const zoneIngress = (name: string, zone: string, networking: Record<string, unknown>) => resource('ZoneIngress', '', name, { zone, networking }, { 'kuma.io/zone': zone });
const zoneEgress = (name: string, zone: string, networking: Record<string, unknown>) => resource('ZoneEgress', '', name, { zone, networking }, { 'kuma.io/zone': zone });

const identity = (mesh: string): ProxyIdentity => ({ mode: 'STRICT', certPem: `CERT-${mesh}`, keyPem: `KEY-${mesh}`, caPem: `CA-${mesh}` });

function get(snapshot: Snapshot, typeUrl: string, name: string): any {
  const r = snapshot.resources.get(typeUrl)?.get(name);
  return r && unpackAny(r.any);
}

const names = (snapshot: Snapshot, typeUrl: string) => [...(snapshot.resources.get(typeUrl)?.keys() ?? [])].sort();
const addresses = (cla: any) => (cla?.endpoints ?? []).flatMap((l: any) => l.lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`));
const serverNames = (listener: any) => listener.filter_chains.map((c: any) => c.filter_chain_match.server_names[0]);

describe('legacy ZoneIngress generation (all meshes)', () => {
  const zi = zoneIngress('zi-1', 'zone-2', { address: '10.1.0.9', port: 10001, advertisedAddress: '203.0.113.9', advertisedPort: 30001 });

  it('has one SNI chain per local destination of every mTLS mesh, with mesh-prefixed clusters', () => {
    const def = buildMeshContext(meshOf('default'), [
      workload('default', 'backend-1', '10.1.0.1', 'backend', 7070, 'zone-2'),
      workload('default', 'backend-z1', '10.0.0.1', 'backend', 8080, 'zone-1'),
    ], [], undefined, { zone: 'zone-2' });
    const other = buildMeshContext(meshOf('other'), [workload('other', 'backend-1', '10.1.0.2', 'backend', 7070, 'zone-2')], [], undefined, { zone: 'zone-2' });
    const plain = buildMeshContext(resource('Mesh', '', 'plain', {}), [workload('plain', 'web', '10.1.0.3', 'web', 80, 'zone-2')], [], undefined, { zone: 'zone-2' });
    const snap = makeSnapshot(generateLegacyZoneIngress(zi, [other, plain, def], 'zone-2'));
    const listener = get(snap, TypeUrl.Listener, 'zoneingress:zi-1');
    expect(listener.address.socket_address).toMatchObject({ address: '10.1.0.9', port_value: 10001 });
    expect(listener.listener_filters[0].name).toBe('envoy.filters.listener.tls_inspector');
    // Same service name in two meshes: two chains, two clusters. No chain for the mesh without mTLS.
    expect(serverNames(listener)).toEqual(['sni.msvc.default.backend.7070', 'sni.msvc.other.backend.7070']);
    for (const chain of listener.filter_chains) {
      expect(chain.transport_socket).toBeUndefined(); // passthrough
      expect(chain.filters).toHaveLength(1);
    }
    expect(unpackAny(listener.filter_chains[1].filters[0].typed_config)).toMatchObject({ cluster: 'other:ingress:backend' });
    expect(names(snap, TypeUrl.Cluster)).toEqual(['default:ingress:backend', 'other:ingress:backend']);
    expect(get(snap, TypeUrl.Cluster, 'default:ingress:backend').type).toBe('EDS');
    // Only the endpoints in the ingress's own zone.
    expect(addresses(get(snap, TypeUrl.ClusterLoadAssignment, 'default:ingress:backend'))).toEqual(['10.1.0.1:7070']);
    expect(addresses(get(snap, TypeUrl.ClusterLoadAssignment, 'other:ingress:backend'))).toEqual(['10.1.0.2:7070']);
  });

  it('emits no listener without local destinations', () => {
    const ctx = buildMeshContext(meshOf('default'), [workload('default', 'backend-z1', '10.0.0.1', 'backend', 8080, 'zone-1')], [], undefined, { zone: 'zone-2' });
    expect(names(makeSnapshot(generateLegacyZoneIngress(zi, [ctx], 'zone-2')), TypeUrl.Listener)).toEqual([]);
  });
});

describe('legacy ZoneEgress generation (all meshes)', () => {
  const ze = zoneEgress('ze-1', 'zone-1', { address: '10.0.0.8', port: 10002 });
  const httpbin = (mesh: string) => resource('MeshExternalService', mesh, 'httpbin', { match: { type: 'HostnameGenerator', port: 80, protocol: 'tcp' }, endpoints: [{ address: '192.0.2.1', port: 8080 }] });
  const allowLegacyEgress = resource('MeshTrafficPermission', 'default', 'egress', {
    targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneegress' } },
    rules: [{ default: { allow: [{ sni: { type: 'Exact', value: 'sni.extsvc.default.httpbin.80' } }] } }],
  });
  const ctxOf = (mesh: string, permissions: Resource[] = [], extra: Record<string, unknown> = {}, dataplanes: Resource[] = []) =>
    buildMeshContext(meshOf(mesh, extra), dataplanes, permissions, undefined, { zone: 'zone-1', externalServices: [httpbin(mesh)], zoneEgresses: [ze] });
  const rbac = (chain: any) => (unpackAny(chain.filters[0].typed_config) as any).rules;

  it('terminates mTLS with each mesh\'s own certificate, deny-by-default per mesh', () => {
    const ids = new Map([['default', identity('default')], ['other', identity('other')]]);
    const snap = makeSnapshot(generateLegacyZoneEgress(ze, [ctxOf('default', [allowLegacyEgress]), ctxOf('other')], ids));
    const listener = get(snap, TypeUrl.Listener, 'zoneegress:ze-1');
    expect(listener.address.socket_address).toMatchObject({ address: '10.0.0.8', port_value: 10002 });
    expect(serverNames(listener)).toEqual(['sni.extsvc.default.httpbin.80', 'sni.extsvc.other.httpbin.80']);
    const [defChain, otherChain] = listener.filter_chains;
    const tls = (chain: any) => unpackAny(chain.transport_socket.typed_config) as any;
    expect(tls(defChain).common_tls_context.tls_certificate_sds_secret_configs[0].name).toBe('identity_cert:secret:default');
    expect(tls(otherChain).common_tls_context.tls_certificate_sds_secret_configs[0].name).toBe('identity_cert:secret:other');
    expect(tls(defChain).require_client_certificate).toEqual({ value: true });
    expect(get(snap, TypeUrl.Secret, 'identity_cert:secret:other').tls_certificate.certificate_chain.inline_string).toBe('CERT-other');
    // The MTP of mesh default (selecting kuma.io/proxy-type: zoneegress) opens default only.
    expect(rbac(defChain).policies['MeshTrafficPermission'].principals).toMatchObject([{ any: true }]);
    expect(rbac(otherChain)?.policies ?? {}).toEqual({});
    expect(addresses(get(snap, TypeUrl.Cluster, 'other:egress:httpbin').load_assignment)).toEqual(['192.0.2.1:8080']);
  });

  it('serves no mesh it has no certificate for, and no mesh without mTLS', () => {
    const noMtls = buildMeshContext(resource('Mesh', '', 'plain', {}), [], [], undefined, { externalServices: [httpbin('plain')] });
    const snap = makeSnapshot(generateLegacyZoneEgress(ze, [ctxOf('default'), noMtls], new Map([['plain', identity('plain')]])));
    expect(names(snap, TypeUrl.Listener)).toEqual([]);
    expect(names(snap, TypeUrl.Secret)).toEqual([]);
  });

  it('passes cross-zone traffic on to the remote ingresses with routing.zoneEgress', () => {
    const client = workload('default', 'client', '10.0.0.2', 'client', 8080, 'zone-1', [{ service: 'backend', port: 9000 }]);
    const backend = workload('default', 'backend', '10.1.0.1', 'backend', 7070, 'zone-2');
    const ctx = buildMeshContext(meshOf('default', { routing: { zoneEgress: true } }), [client, backend], [], undefined, {
      zone: 'zone-1',
      zoneIngresses: [zoneIngress('zi-2', 'zone-2', { address: '10.1.0.9', port: 10001, advertisedAddress: '203.0.113.9', advertisedPort: 30001 })],
      zoneEgresses: [ze],
    });
    // The sidecar goes to the legacy egress, which passes the SNI on to zone-2's legacy ingress.
    expect(addresses(get(makeSnapshot(generateSidecar(client, ctx, identity('default'))), TypeUrl.ClusterLoadAssignment, 'backend'))).toEqual(['10.0.0.8:10002']);
    const snap = makeSnapshot(generateLegacyZoneEgress(ze, [ctx], new Map([['default', identity('default')]])));
    const chain = get(snap, TypeUrl.Listener, 'zoneegress:ze-1').filter_chains.find((c: any) => c.filter_chain_match.server_names[0] === 'sni.msvc.default.backend.7070');
    expect(chain.transport_socket).toBeUndefined();
    expect(addresses(get(snap, TypeUrl.Cluster, 'default:egress-zone:backend').load_assignment)).toEqual(['203.0.113.9:30001']);
  });
});

describe('precedence: mesh-scoped zone proxies over legacy ones', () => {
  const client = workload('default', 'client', '10.0.0.2', 'client', 8080, 'zone-1', [{ service: 'backend', port: 9000 }]);
  const backend = workload('default', 'backend', '10.1.0.1', 'backend', 7070, 'zone-2');
  const legacyIngress = zoneIngress('zi-2', 'zone-2', { address: '10.1.0.9', port: 10001, advertisedAddress: '203.0.113.9', advertisedPort: 30001 });
  const meshIngress = zoneProxy('default', 'mesh-ingress-2', 'ingress', 'zone-2', { address: '10.1.0.7', advertisedAddress: '203.0.113.7', advertisedPort: 31001 });
  const backendEndpoints = (dataplanes: Resource[], zoneIngresses: Resource[]) => {
    const ctx = buildMeshContext(meshOf('default'), dataplanes, [], undefined, { zone: 'zone-1', zoneIngresses });
    return addresses(get(makeSnapshot(generateSidecar(client, ctx, identity('default'))), TypeUrl.ClusterLoadAssignment, 'backend'));
  };

  it('reaches a remote zone through its legacy ZoneIngress only when the mesh has no ingress there', () => {
    expect(backendEndpoints([client, backend], [])).toEqual([]);
    expect(backendEndpoints([client, backend], [legacyIngress])).toEqual(['203.0.113.9:30001']);
    expect(backendEndpoints([client, backend, meshIngress], [legacyIngress])).toEqual(['203.0.113.7:31001']);
    // Another zone's mesh-scoped ingress does not hide zone-2's legacy one.
    const zone3Ingress = zoneProxy('default', 'mesh-ingress-3', 'ingress', 'zone-3', { address: '10.3.0.7', advertisedAddress: '203.0.113.3', advertisedPort: 31003 });
    expect(backendEndpoints([client, backend, zone3Ingress], [legacyIngress])).toEqual(['203.0.113.9:30001']);
  });

  it('sends external traffic to the legacy ZoneEgress of the local zone unless the mesh has its own egress', () => {
    const httpbin = resource('MeshExternalService', 'default', 'httpbin', { match: { type: 'HostnameGenerator', port: 80, protocol: 'tcp' }, endpoints: [{ address: '192.0.2.1', port: 8080 }] });
    const caller = workload('default', 'caller', '10.0.0.3', 'caller', 8080, 'zone-1', [{ service: 'httpbin', port: 9001 }]);
    const egressMesh = meshOf('default', { routing: { zoneEgress: true } });
    const legacyLocal = zoneEgress('ze-1', 'zone-1', { address: '10.0.0.8', port: 10002 });
    const legacyRemote = zoneEgress('ze-2', 'zone-2', { address: '10.1.0.8', port: 10002 });
    const meshEgress = zoneProxy('default', 'mesh-egress-1', 'egress', 'zone-1', { address: '10.0.0.6' });
    const cluster = (dataplanes: Resource[]) => {
      const ctx = buildMeshContext(egressMesh, dataplanes, [], undefined, { zone: 'zone-1', externalServices: [httpbin], zoneEgresses: [legacyRemote, legacyLocal] });
      return get(makeSnapshot(generateSidecar(caller, ctx, identity('default'))), TypeUrl.Cluster, 'httpbin');
    };
    const viaLegacy = cluster([caller]);
    expect(addresses(viaLegacy.load_assignment)).toEqual(['10.0.0.8:10002']);
    // The sidecar accepts the legacy egress's per-mesh identity.
    expect(JSON.stringify(unpackAny(viaLegacy.transport_socket.typed_config))).toContain('spiffe://default/legacy/zone-egress');
    expect(addresses(cluster([caller, meshEgress]).load_assignment)).toEqual(['10.0.0.6:10002']);
  });
});
