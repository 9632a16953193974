/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protos are inspected field by field */
import { describe, expect, it } from 'vitest';
import type { Resource } from '../../api/resource.js';
import { TypeUrl, unpackAny } from '../../envoy/protos.js';
import { makeSnapshot, type Snapshot } from '../cache/snapshot.js';
import { buildMeshContext } from '../context/mesh-context.js';
import { generateSidecar, type ProxyIdentity } from './sidecar.js';
import { generateZoneProxy } from './zone-proxy.js';
import { desiredMeshServices } from '../../core/mesh-service-generator.js';

function resource(type: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}, status?: Record<string, unknown>): Resource {
  return { type, mesh: type === 'Mesh' ? '' : 'default', name, labels, spec, ...(status ? { status } : {}), version: 1, creationTime: '', modificationTime: '' };
}

const mtls = { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] };
const meshIn = (mode: string) => resource('Mesh', 'default', { mtls, meshServices: { mode } });
const identity: ProxyIdentity = { mode: 'STRICT', certPem: 'CERT', keyPem: 'KEY', caPem: 'CA' };

function get(snapshot: Snapshot, typeUrl: string, name: string): any {
  const r = snapshot.resources.get(typeUrl)?.get(name);
  return r && unpackAny(r.any);
}
const names = (snapshot: Snapshot, typeUrl: string) => [...(snapshot.resources.get(typeUrl)?.keys() ?? [])].sort();
const addresses = (cla: any) => cla.endpoints.flatMap((l: any) => l.lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`));

function dataplane(name: string, address: string, networking: Record<string, unknown>, labels: Record<string, string> = {}): Resource {
  return resource('Dataplane', name, { networking: { address, ...networking } }, labels);
}

const backend1 = dataplane('backend-1', '10.0.0.1', { inbound: [{ port: 8080, tags: { 'kuma.io/service': 'backend', 'kuma.io/protocol': 'http' } }] });
const backend2 = dataplane('backend-2', '10.0.0.2', { inbound: [{ port: 8080, tags: { 'kuma.io/service': 'backend', 'kuma.io/protocol': 'http' } }] });
const backendMs = resource('MeshService', 'backend', {
  selector: { dataplaneTags: { 'kuma.io/service': 'backend' } },
  ports: [{ port: 8080, targetPort: 8080, appProtocol: 'http' }],
  identities: [{ type: 'ServiceTag', value: 'backend' }],
});
const client = dataplane('client-1', '10.0.0.5', {
  inbound: [{ port: 9000, tags: { 'kuma.io/service': 'client' } }],
  outbound: [
    { port: 20001, tags: { 'kuma.io/service': 'backend' } },
    { port: 20002, backendRef: { kind: 'MeshService', name: 'backend', port: 8080 } },
  ],
});
const CLUSTER = 'default_backend___msvc_8080';

describe('MeshService destinations', () => {
  it('routes a backendRef outbound to the MeshService port cluster with its SNI and identities', () => {
    const ctx = buildMeshContext(meshIn('Everywhere'), [backend1, backend2, client], [], undefined, { meshServices: [backendMs] });
    const snap = makeSnapshot(generateSidecar(client, ctx, identity));
    const cluster = get(snap, TypeUrl.Cluster, CLUSTER);
    expect(cluster.type).toBe('EDS');
    const tls = unpackAny(cluster.transport_socket.typed_config) as any;
    expect(tls.sni).toBe('sni.msvc.default.backend.8080');
    expect(JSON.stringify(tls)).toContain('spiffe://default/backend');
    expect(addresses(get(snap, TypeUrl.ClusterLoadAssignment, CLUSTER))).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    // Legacy routing keeps working beside it.
    expect(names(snap, TypeUrl.Listener)).toEqual(['inbound:10.0.0.5:9000', 'outbound:127.0.0.1:20001', 'outbound:127.0.0.1:20002']);
  });

  it('Exclusive turns legacy kuma.io/service outbounds off; Disabled ignores missing MeshServices', () => {
    const exclusive = makeSnapshot(generateSidecar(client, buildMeshContext(meshIn('Exclusive'), [backend1, client], [], undefined, { meshServices: [backendMs] }), identity));
    expect(names(exclusive, TypeUrl.Listener)).toEqual(['inbound:10.0.0.5:9000', 'outbound:127.0.0.1:20002']);
    const disabled = makeSnapshot(generateSidecar(client, buildMeshContext(meshIn('Disabled'), [backend1, client]), identity));
    expect(names(disabled, TypeUrl.Listener)).toEqual(['inbound:10.0.0.5:9000', 'outbound:127.0.0.1:20001']);
  });

  it('gives a transparent proxy VIP listeners for every MeshService, or only its reachable backends', () => {
    const db = resource('MeshService', 'db', { selector: { dataplaneTags: { 'kuma.io/service': 'db' } }, ports: [{ port: 5432, appProtocol: 'tcp' }] }, {}, { vips: [{ ip: '241.0.0.7' }] });
    const tp = (refs?: unknown[]) =>
      dataplane('tp-1', '10.0.0.6', { inbound: [{ port: 9000, tags: { 'kuma.io/service': 'tp' } }], transparentProxying: { redirectPortOutbound: 15001, redirectPortInbound: 15006, ...(refs ? { reachableBackends: { refs } } : {}) } });
    const everywhere = makeSnapshot(generateSidecar(tp(), buildMeshContext(meshIn('Everywhere'), [backend1], [], undefined, { meshServices: [backendMs, db] }), identity));
    const vipListeners = names(everywhere, TypeUrl.Listener).filter((n) => n.startsWith('outbound:241.'));
    expect(vipListeners).toHaveLength(2);
    expect(vipListeners).toContain('outbound:241.0.0.7:5432');
    expect(get(everywhere, TypeUrl.Listener, 'outbound:241.0.0.7:5432').bind_to_port).toEqual({});
    const reachable = makeSnapshot(generateSidecar(tp([{ kind: 'MeshService', name: 'db' }]), buildMeshContext(meshIn('ReachableBackends'), [backend1], [], undefined, { meshServices: [backendMs, db] }), identity));
    expect(names(reachable, TypeUrl.Listener).filter((n) => n.startsWith('outbound:241.'))).toEqual(['outbound:241.0.0.7:5432']);
    const disabled = makeSnapshot(generateSidecar(tp(), buildMeshContext(meshIn('Disabled'), [backend1], [], undefined, { meshServices: [backendMs, db] }), identity));
    expect(names(disabled, TypeUrl.Listener).filter((n) => n.startsWith('outbound:241.'))).toEqual([]);
  });

  it('reaches a remote zone MeshService through that zone ingress with the zoned SNI', () => {
    const remoteMs = resource('MeshService', 'backend-x7b', backendMs.spec, { 'kuma.io/zone': 'zone-2', 'kuma.io/display-name': 'backend', 'kuma.io/origin': 'zone' });
    const ingress2 = dataplane('ingress-2', '10.1.0.9', { advertisedAddress: '203.0.113.9', advertisedPort: 30001 }, { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress', 'kuma.io/zone': 'zone-2' });
    const c = dataplane('c', '10.0.0.5', { inbound: [{ port: 9000, tags: { 'kuma.io/service': 'c' } }], outbound: [{ port: 20003, backendRef: { kind: 'MeshService', labels: { 'kuma.io/display-name': 'backend', 'kuma.io/zone': 'zone-2' }, port: 8080 } }] });
    const ctx = buildMeshContext(meshIn('Everywhere'), [c, ingress2], [], undefined, { zone: 'zone-1', meshServices: [remoteMs] });
    const snap = makeSnapshot(generateSidecar(c, ctx, identity));
    const name = 'default_backend__zone-2_msvc_8080';
    expect((unpackAny(get(snap, TypeUrl.Cluster, name).transport_socket.typed_config) as any).sni).toBe('sni.msvc.default.zone-2.backend.8080');
    expect(addresses(get(snap, TypeUrl.ClusterLoadAssignment, name))).toEqual(['203.0.113.9:30001']);
  });

  it('serves local MeshService and MeshMultiZoneService SNIs on the zone ingress', () => {
    const localMs = resource('MeshService', 'backend', backendMs.spec, { 'kuma.io/zone': 'zone-1', 'kuma.io/display-name': 'backend' });
    const mzs = resource('MeshMultiZoneService', 'backend-all', { selector: { meshService: { matchLabels: { 'kuma.io/display-name': 'backend' } } }, ports: [{ port: 8080, appProtocol: 'http' }] }, { 'kuma.io/origin': 'global' });
    const ingress = dataplane('ingress-1', '10.0.0.9', {}, { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress', 'kuma.io/zone': 'zone-1' });
    const ctx = buildMeshContext(meshIn('Exclusive'), [backend1, ingress], [], undefined, { zone: 'zone-1', meshServices: [localMs], multiZoneServices: [mzs] });
    const snap = makeSnapshot(generateZoneProxy(ingress, ctx, identity));
    const sni = get(snap, TypeUrl.Listener, 'self_zoneingress_dp_10001').filter_chains.map((c: any) => c.filter_chain_match.server_names[0]);
    expect(sni).toEqual(expect.arrayContaining(['sni.msvc.default.zone-1.backend.8080', 'sni.mzsvc.default.backend-all.8080']));
    expect(addresses(get(snap, TypeUrl.ClusterLoadAssignment, 'ingress:default_backend-all___mzsvc_8080'))).toEqual(['10.0.0.1:8080']);
  });
});

describe('MeshService generation from Dataplanes', () => {
  it('groups local inbounds by kuma.io/service, skipping zone proxies, remote proxies and invalid names', () => {
    const remote = dataplane('r', '10.1.0.1', { inbound: [{ port: 7070, tags: { 'kuma.io/service': 'backend' } }] }, { 'kuma.io/zone': 'zone-2', 'kuma.io/origin': 'zone' });
    const odd = dataplane('odd', '10.0.0.3', { inbound: [{ port: 1, tags: { 'kuma.io/service': 'backend_ns_svc_80' } }] });
    const extraPort = dataplane('b3', '10.0.0.4', { inbound: [{ port: 9090, tags: { 'kuma.io/service': 'backend', 'kuma.io/protocol': 'grpc' } }] });
    const got = desiredMeshServices([backend1, backend2, remote, odd, extraPort], 'zone-1');
    expect([...got.keys()]).toEqual(['backend']);
    expect([...got.get('backend')!.ports]).toEqual([[8080, 'http'], [9090, 'grpc']]);
    expect(got.get('backend')!.total).toBe(3);
  });
});
