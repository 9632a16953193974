/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protos are inspected field by field */
import { describe, expect, it } from 'vitest';
import type { Resource } from '../../api/resource.js';
import { TypeUrl, unpackAny } from '../../envoy/protos.js';
import { makeSnapshot, type Snapshot } from '../cache/snapshot.js';
import { buildMeshContext, changedServices, endpointsInZone, zoneIngressAddresses } from '../context/mesh-context.js';
import { ProxySnapshots } from './proxy-snapshots.js';
import { generateSidecar, type ProxyIdentity } from './sidecar.js';
import { generateZoneProxy } from './zone-proxy.js';

function resource(type: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Resource {
  return { type, mesh: type === 'Mesh' ? '' : 'default', name, labels, spec, version: 1, creationTime: '', modificationTime: '' };
}

const mtls = { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] };
const mesh = resource('Mesh', 'default', { mtls });
const lalbMesh = resource('Mesh', 'default', { mtls, routing: { localityAwareLoadBalancing: true } });

function workload(name: string, address: string, service: string, port: number, zone?: string, outbound: { service: string; port: number }[] = []): Resource {
  return resource(
    'Dataplane',
    name,
    {
      networking: {
        address,
        inbound: [{ port, servicePort: 80, tags: { 'kuma.io/service': service } }],
        outbound: outbound.map((o) => ({ port: o.port, tags: { 'kuma.io/service': o.service } })),
      },
    },
    zone ? { 'kuma.io/zone': zone } : {},
  );
}

function zoneProxy(name: string, role: string, zone: string | undefined, networking: Record<string, unknown>): Resource {
  return resource('Dataplane', name, { networking }, { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': role, ...(zone ? { 'kuma.io/zone': zone } : {}) });
}

const identity: ProxyIdentity = { mode: 'STRICT', certPem: 'CERT', keyPem: 'KEY', caPem: 'CA' };

function get(snapshot: Snapshot, typeUrl: string, name: string): any {
  const r = snapshot.resources.get(typeUrl)?.get(name);
  return r && unpackAny(r.any);
}

const addresses = (cla: any) => (cla.endpoints ?? []).flatMap((l: any) => l.lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`));

describe('zone ingress generation', () => {
  const backendLocal = workload('backend-1', '10.0.0.1', 'backend', 8080);
  const backendRemote = workload('backend-2', '10.1.0.1', 'backend', 7070, 'zone-2');
  const dbRemote = workload('db-1', '10.1.0.2', 'db', 5432, 'zone-2');
  const ingress = zoneProxy('ingress-1', 'ingress', undefined, { address: '10.0.0.9' });

  it('has one SNI filter chain per local service, passthrough to its local endpoints only', () => {
    const ctx = buildMeshContext(mesh, [backendLocal, backendRemote, dbRemote, ingress]);
    const snap = makeSnapshot(generateZoneProxy(ingress, ctx, identity));
    const listener = get(snap, TypeUrl.Listener, 'self_zoneingress_dp_10001');
    expect(listener.address.socket_address).toMatchObject({ address: '10.0.0.9', port_value: 10001 });
    expect(listener.listener_filters[0].name).toBe('envoy.filters.listener.tls_inspector');
    // db has no endpoint in this zone: no chain. backend's SNI port is its lowest inbound port in any zone.
    expect(listener.filter_chains).toHaveLength(1);
    const chain = listener.filter_chains[0];
    expect(chain.filter_chain_match).toMatchObject({ server_names: ['sni.msvc.default.backend.7070'], transport_protocol: 'tls' });
    expect(chain.transport_socket).toBeUndefined(); // no TLS termination
    expect(chain.filters).toHaveLength(1); // no RBAC
    expect(unpackAny(chain.filters[0].typed_config)).toMatchObject({ cluster: 'ingress:backend' });
    const cluster = get(snap, TypeUrl.Cluster, 'ingress:backend');
    expect(cluster.type).toBe('EDS');
    expect(cluster.transport_socket).toBeUndefined();
    expect(addresses(get(snap, TypeUrl.ClusterLoadAssignment, 'ingress:backend'))).toEqual(['10.0.0.1:8080']);
    // The egress listener is not generated yet.
    expect([...snap.resources.get(TypeUrl.Listener)!.keys()]).toEqual(['self_zoneingress_dp_10001']);
  });

  it('serves the endpoints of its own zone (its kuma.io/zone label), not the CP zone', () => {
    const remoteIngress = zoneProxy('ingress-z2', 'ingress', 'zone-2', { address: '10.1.0.9' });
    const ctx = buildMeshContext(mesh, [backendLocal, backendRemote, dbRemote, remoteIngress]);
    const snap = makeSnapshot(generateZoneProxy(remoteIngress, ctx));
    const listener = get(snap, TypeUrl.Listener, 'self_zoneingress_dp_10001');
    expect(listener.filter_chains.map((c: any) => c.filter_chain_match.server_names[0])).toEqual(['sni.msvc.default.backend.7070', 'sni.msvc.default.db.5432']);
    expect(addresses(get(snap, TypeUrl.ClusterLoadAssignment, 'ingress:backend'))).toEqual(['10.1.0.1:7070']);
    expect(addresses(get(snap, TypeUrl.ClusterLoadAssignment, 'ingress:db'))).toEqual(['10.1.0.2:5432']);
  });

  it('honours networking.listeners[] ports and names, and emits nothing without local destinations', () => {
    const custom = zoneProxy('ingress-2', 'all', undefined, { address: '10.0.0.9', listeners: [{ type: 'ZoneIngress', port: 20001, name: 'public' }] });
    const ctx = buildMeshContext(mesh, [backendLocal, custom]);
    const snap = makeSnapshot(generateZoneProxy(custom, ctx));
    expect(get(snap, TypeUrl.Listener, 'self_zoneingress_dp_public').address.socket_address.port_value).toBe(20001);
    const empty = makeSnapshot(generateZoneProxy(custom, buildMeshContext(mesh, [backendRemote, custom])));
    expect(empty.resources.get(TypeUrl.Listener)?.size ?? 0).toBe(0);
    const egressOnly = zoneProxy('egress-1', 'egress', undefined, { address: '10.0.0.9' });
    expect(makeSnapshot(generateZoneProxy(egressOnly, buildMeshContext(mesh, [backendLocal, egressOnly]))).resources.get(TypeUrl.Listener)?.size ?? 0).toBe(0);
  });

  it('is kept up to date incrementally: a new local service gets a chain', () => {
    const snapshots = new ProxySnapshots();
    const ctx1 = buildMeshContext(mesh, [backendLocal, ingress]);
    snapshots.build('default.ingress-1', ingress, ctx1, { version: '' });
    const db = workload('db-2', '10.0.0.2', 'db', 5432);
    const ctx2 = buildMeshContext(mesh, [backendLocal, db, ingress], [], ctx1);
    expect(snapshots.usesAny('default.ingress-1', new Set(['db']))).toBe(true);
    const snap = snapshots.build('default.ingress-1', ingress, ctx2, { version: '' })!;
    expect(snap.version).toBe(makeSnapshot(generateZoneProxy(ingress, ctx2)).version);
    expect(get(snap, TypeUrl.Listener, 'self_zoneingress_dp_10001').filter_chains.map((c: any) => c.filter_chain_match.server_names[0])).toEqual([
      'sni.msvc.default.backend.8080',
      'sni.msvc.default.db.5432',
    ]);
  });
});

describe('cross-zone endpoints for sidecars', () => {
  const client = workload('client-1', '10.0.0.5', 'client', 9000, undefined, [{ service: 'backend', port: 10080 }]);
  const backendLocal = workload('backend-1', '10.0.0.1', 'backend', 8080);
  const backendRemote = workload('backend-2', '10.1.0.1', 'backend', 7070, 'zone-2');
  const remoteIngress = zoneProxy('zone-2-ingress', 'all', 'zone-2', { address: '10.1.0.9', advertisedAddress: '203.0.113.7', advertisedPort: 30001 });
  const remoteIngressNoAdvertised = zoneProxy('zone-2-ingress-b', 'ingress', 'zone-2', { address: '10.1.0.10', listeners: [{ type: 'ZoneIngress', port: 10011 }] });
  const remoteEgress = zoneProxy('zone-2-egress', 'egress', 'zone-2', { address: '10.1.0.11' });

  it('replaces remote endpoints by the remote zone ingresses (advertised address, else listener)', () => {
    expect(zoneIngressAddresses([remoteIngress, remoteIngressNoAdvertised, remoteEgress]).get('zone-2')!.map((e) => `${e.address}:${e.port}`)).toEqual([
      '203.0.113.7:30001',
      '10.1.0.10:10011',
    ]);
    const ctx = buildMeshContext(mesh, [client, backendLocal, backendRemote, remoteIngress, remoteIngressNoAdvertised, remoteEgress]);
    const snap = makeSnapshot(generateSidecar(client, ctx, identity));
    const cla = get(snap, TypeUrl.ClusterLoadAssignment, 'backend');
    expect(addresses(cla)).toEqual(['10.0.0.1:8080', '203.0.113.7:30001', '10.1.0.10:10011']);
    expect(addresses(cla)).not.toContain('10.1.0.1:7070');
    expect(cla.endpoints.map((l: any) => [l.locality?.zone ?? '', l.priority ?? 0])).toEqual([['', 0], ['zone-2', 0]]);
    // The client keeps the service SNI (lowest port across zones), which the remote ingress matches.
    const cluster = get(snap, TypeUrl.Cluster, 'backend');
    expect(unpackAny(cluster.transport_socket.typed_config)).toMatchObject({ sni: 'sni.msvc.default.backend.7070' });
  });

  it('gives remote zones priority 1 with localityAwareLoadBalancing, and nothing for a zone without ingress', () => {
    const ctx = buildMeshContext(lalbMesh, [client, backendLocal, backendRemote, remoteIngress]);
    const cla = get(makeSnapshot(generateSidecar(client, ctx)), TypeUrl.ClusterLoadAssignment, 'backend');
    expect(cla.endpoints.map((l: any) => [l.locality?.zone ?? '', l.priority ?? 0])).toEqual([['', 0], ['zone-2', 1]]);
    const noIngress = buildMeshContext(mesh, [client, backendLocal, backendRemote]);
    expect(addresses(get(makeSnapshot(generateSidecar(client, noIngress)), TypeUrl.ClusterLoadAssignment, 'backend'))).toEqual(['10.0.0.1:8080']);
    // Without mTLS the ingress could not route (no SNI): remote zones give nothing.
    const plain = buildMeshContext(resource('Mesh', 'default', {}), [client, backendLocal, backendRemote, remoteIngress]);
    expect(addresses(get(makeSnapshot(generateSidecar(client, plain)), TypeUrl.ClusterLoadAssignment, 'backend'))).toEqual(['10.0.0.1:8080']);
  });

  it('treats the CP zone as local, and tells proxies when a remote ingress moves', () => {
    const inZone1 = workload('backend-3', '10.0.0.3', 'backend', 8080, 'zone-1');
    const ctx1 = buildMeshContext(mesh, [client, inZone1, backendRemote, remoteIngress], [], undefined, { zone: 'zone-1' });
    expect(endpointsInZone(ctx1, 'backend', '').map((e) => e.dataplane)).toEqual(['backend-3']);
    expect(endpointsInZone(ctx1, 'backend', 'zone-2').map((e) => e.dataplane)).toEqual(['backend-2']);
    const moved = zoneProxy('zone-2-ingress', 'all', 'zone-2', { address: '10.1.0.9', advertisedAddress: '203.0.113.8', advertisedPort: 30001 });
    const ctx2 = buildMeshContext(mesh, [client, inZone1, backendRemote, moved], [], ctx1, { zone: 'zone-1' });
    expect(ctx2.services.get('backend')!.hash).not.toBe(ctx1.services.get('backend')!.hash);
    expect(addresses(get(makeSnapshot(generateSidecar(client, ctx2)), TypeUrl.ClusterLoadAssignment, 'backend'))).toEqual(['10.0.0.3:8080', '203.0.113.8:30001']);
  });
});

describe('zone egress generation', () => {
  // routing.zoneEgress: sidecars reach external services through the egress (else directly).
  const egressMesh = resource('Mesh', 'default', { mtls, routing: { zoneEgress: true } });
  const egress = zoneProxy('egress-1', 'egress', undefined, { address: '10.0.0.8' });
  const client = workload('client-1', '10.0.0.2', 'client', 8080, undefined, [{ service: 'httpbin', port: 9000 }]);
  const httpbin = resource('MeshExternalService', 'httpbin', { match: { type: 'HostnameGenerator', port: 80, protocol: 'tcp' }, endpoints: [{ address: '192.0.2.1', port: 8080 }] });
  const allowSni = resource('MeshTrafficPermission', 'egress', {
    targetRef: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'egress' } },
    rules: [{ default: { allow: [{ sni: { type: 'Exact', value: 'sni.extsvc.default.httpbin.80' } }] } }],
  });

  it('sends a sidecar to the local egress with mTLS, the external SNI and the egress SAN', () => {
    const ctx = buildMeshContext(egressMesh, [client, egress], [], undefined, { externalServices: [httpbin] });
    const snap = makeSnapshot(generateSidecar(client, ctx, identity));
    const cluster = get(snap, TypeUrl.Cluster, 'httpbin');
    expect(cluster.type).toBe('STATIC');
    expect(addresses(cluster.load_assignment)).toEqual(['10.0.0.8:10002']);
    const tls = unpackAny(cluster.transport_socket.typed_config) as any;
    expect(tls.sni).toBe('sni.extsvc.default.httpbin.80');
    expect(JSON.stringify(tls)).toContain('spiffe://default/workload/zone-proxy-default-egress');
  });

  it('has one mTLS chain per external service, deny-all until a policy allows its SNI', () => {
    const denied = makeSnapshot(generateZoneProxy(egress, buildMeshContext(egressMesh, [client, egress], [], undefined, { externalServices: [httpbin] }), identity));
    const listener = get(denied, TypeUrl.Listener, 'self_zoneegress_dp_10002');
    expect(listener.address.socket_address).toMatchObject({ address: '10.0.0.8', port_value: 10002 });
    expect(listener.filter_chains).toHaveLength(1);
    const chain = listener.filter_chains[0];
    expect(chain.filter_chain_match.server_names).toEqual(['sni.extsvc.default.httpbin.80']);
    expect(chain.transport_socket.name).toBe('envoy.transport_sockets.tls');
    const rbac = (c: any) => (unpackAny(c.filters[0].typed_config) as any).rules;
    expect(rbac(chain)?.policies ?? {}).toEqual({}); // ALLOW with no policy: nobody
    expect(addresses(get(denied, TypeUrl.Cluster, 'egress:httpbin').load_assignment)).toEqual(['192.0.2.1:8080']);

    const allowed = makeSnapshot(generateZoneProxy(egress, buildMeshContext(egressMesh, [client, egress], [allowSni], undefined, { externalServices: [httpbin] }), identity));
    expect(rbac(get(allowed, TypeUrl.Listener, 'self_zoneegress_dp_10002').filter_chains[0]).policies['MeshTrafficPermission'].principals).toMatchObject([{ any: true }]);
  });

  it('originates TLS to the external endpoints with tls.enabled', () => {
    const secure = resource('MeshExternalService', 'secure', { match: { port: 443 }, endpoints: [{ address: 'example.com', port: 443 }], tls: { enabled: true } });
    const snap = makeSnapshot(generateZoneProxy(egress, buildMeshContext(egressMesh, [egress], [], undefined, { externalServices: [httpbin, secure] }), identity));
    expect(get(snap, TypeUrl.Listener, 'self_zoneegress_dp_10002').filter_chains).toHaveLength(2);
    const cluster = get(snap, TypeUrl.Cluster, 'egress:secure');
    expect((unpackAny(cluster.transport_socket.typed_config) as any).sni).toBe('example.com');
    expect(get(snap, TypeUrl.Cluster, 'egress:httpbin').transport_socket).toBeUndefined();
  });

  it('generates no egress without mTLS or without external services', () => {
    const noExt = makeSnapshot(generateZoneProxy(egress, buildMeshContext(egressMesh, [client, egress]), identity));
    expect(get(noExt, TypeUrl.Listener, 'self_zoneegress_dp_10002')).toBeUndefined();
    const noMtls = makeSnapshot(generateZoneProxy(egress, buildMeshContext(resource('Mesh', 'default', {}), [client, egress], [], undefined, { externalServices: [httpbin] })));
    expect(get(noMtls, TypeUrl.Listener, 'self_zoneegress_dp_10002')).toBeUndefined();
  });

  it('re-visits a sidecar when the egresses change', () => {
    const before = buildMeshContext(egressMesh, [client], [], undefined, { externalServices: [httpbin] });
    const after = buildMeshContext(egressMesh, [client, egress], [], before, { externalServices: [httpbin] });
    expect([...changedServices(before, after)]).toEqual(['extsvc:httpbin']);
    const snapshots = new ProxySnapshots();
    snapshots.build('default.client-1', client, before, { identity, version: '1' });
    expect(snapshots.usesAny('default.client-1', changedServices(before, after))).toBe(true);
  });
});

describe('cross-zone through the zone egress (routing.zoneEgress)', () => {
  const egressMesh = resource('Mesh', 'default', { mtls, routing: { zoneEgress: true } });
  const client = workload('client-1', '10.0.0.2', 'client', 8080, 'zone-1', [{ service: 'backend', port: 9000 }]);
  const backendRemote = workload('backend-2', '10.1.0.1', 'backend', 7070, 'zone-2');
  const ingress2 = zoneProxy('ingress-2', 'ingress', 'zone-2', { address: '10.1.0.9', advertisedAddress: '203.0.113.9', advertisedPort: 30001 });
  const egress1 = zoneProxy('egress-1', 'egress', 'zone-1', { address: '10.0.0.8' });

  it('sends the sidecar to the local egress, which passes the SNI on to the remote ingress', () => {
    const ctx = buildMeshContext(egressMesh, [client, backendRemote, ingress2, egress1], [], undefined, { zone: 'zone-1' });
    const sidecar = makeSnapshot(generateSidecar(client, ctx, identity));
    expect(addresses(get(sidecar, TypeUrl.ClusterLoadAssignment, 'backend'))).toEqual(['10.0.0.8:10002']);
    expect((unpackAny(get(sidecar, TypeUrl.Cluster, 'backend').transport_socket.typed_config) as any).sni).toBe('sni.msvc.default.backend.7070');

    const egress = makeSnapshot(generateZoneProxy(egress1, ctx, identity));
    const chain = get(egress, TypeUrl.Listener, 'self_zoneegress_dp_10002').filter_chains.find((c: any) => c.filter_chain_match.server_names[0] === 'sni.msvc.default.backend.7070');
    expect(chain.transport_socket).toBeUndefined(); // passthrough: mTLS stays end to end
    expect(addresses(get(egress, TypeUrl.Cluster, 'egress-zone:backend').load_assignment)).toEqual(['203.0.113.9:30001']);
  });

  it('has no route to other zones without a local egress', () => {
    const ctx = buildMeshContext(egressMesh, [client, backendRemote, ingress2], [], undefined, { zone: 'zone-1' });
    expect(addresses(get(makeSnapshot(generateSidecar(client, ctx, identity)), TypeUrl.ClusterLoadAssignment, 'backend'))).toEqual([]);
  });
});
