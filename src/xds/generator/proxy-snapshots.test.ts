/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protos are inspected field by field */
import { describe, expect, it } from 'vitest';
import type { Resource } from '../../api/resource.js';
import { TypeUrl, unpackAny } from '../../envoy/protos.js';
import { makeSnapshot, type Snapshot } from '../cache/snapshot.js';
import { buildMeshContext, type MeshContext } from '../context/mesh-context.js';
import { ProxySnapshots } from './proxy-snapshots.js';
import { generateSidecar, type ProxyIdentity } from './sidecar.js';

function resource(type: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Resource {
  return { type, mesh: type === 'Mesh' ? '' : 'default', name, labels, spec, version: 1, creationTime: '', modificationTime: '' };
}

const mesh = resource('Mesh', 'default', {});

function dataplane(name: string, address: string, service: string, outbound: { service: string; port: number; protocol?: string }[], inboundPort = 8080): Resource {
  return resource('Dataplane', name, {
    networking: {
      address,
      inbound: [{ port: inboundPort, servicePort: 80, tags: { 'kuma.io/service': service, 'kuma.io/protocol': 'http' } }],
      outbound: outbound.map((o) => ({ port: o.port, tags: { 'kuma.io/service': o.service, ...(o.protocol && { 'kuma.io/protocol': o.protocol }) } })),
    },
  });
}

const web = dataplane('web-1', '10.0.0.1', 'web', [{ service: 'backend', port: 10001 }, { service: 'db', port: 10002 }]);
const backend1 = dataplane('backend-1', '10.0.0.2', 'backend', []);
const backend2 = dataplane('backend-2', '10.0.0.3', 'backend', []);
const db = dataplane('db-1', '10.0.0.4', 'db', []);
const allowAll = resource('MeshTrafficPermission', 'allow-all', { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] });

const identity: ProxyIdentity = { mode: 'STRICT', certPem: 'CERT', keyPem: 'KEY', caPem: 'CA' };
const NODE = 'default.web-1';
const noIdentity = { version: '' };

/** What a from-scratch generation gives: the incremental snapshot must always equal it. */
function fresh(dp: Resource, ctx: MeshContext, id?: ProxyIdentity): Snapshot {
  return makeSnapshot(generateSidecar(dp, ctx, id));
}

function get(snapshot: Snapshot, typeUrl: string, name: string) {
  return snapshot.resources.get(typeUrl)!.get(name)!;
}

describe('ProxySnapshots', () => {
  it('on an endpoint change re-encodes only the load assignment, once for every proxy', () => {
    const snapshots = new ProxySnapshots();
    const ctx1 = buildMeshContext(mesh, [web, backend1, db]);
    const first = snapshots.build(NODE, web, ctx1, noIdentity)!;
    expect(first.version).toBe(fresh(web, ctx1).version);
    expect(snapshots.build(NODE, web, ctx1, noIdentity)).toBeUndefined();

    const ctx2 = buildMeshContext(mesh, [web, backend1, backend2, db], [], ctx1);
    const second = snapshots.build(NODE, web, ctx2, noIdentity)!;
    expect(second.version).toBe(fresh(web, ctx2).version);
    // Listeners and clusters: the very same objects (no generation, no encoding, no hashing).
    for (const typeUrl of [TypeUrl.Listener, TypeUrl.Cluster]) {
      expect(second.resources.get(typeUrl)).toBe(first.resources.get(typeUrl));
      expect(second.typeVersions.get(typeUrl)).toBe(first.typeVersions.get(typeUrl));
    }
    // Endpoints: a new backend CLA, the db one carried over from the previous context.
    expect(get(second, TypeUrl.ClusterLoadAssignment, 'backend')).not.toBe(get(first, TypeUrl.ClusterLoadAssignment, 'backend'));
    expect(get(second, TypeUrl.ClusterLoadAssignment, 'db')).toBe(get(first, TypeUrl.ClusterLoadAssignment, 'db'));
    const cla = unpackAny(get(second, TypeUrl.ClusterLoadAssignment, 'backend').any) as any;
    expect(cla.endpoints[0].lb_endpoints.map((e: any) => e.endpoint.address.socket_address.address)).toEqual(['10.0.0.2', '10.0.0.3']);

    // Another consumer of backend gets the same encoded CLA.
    const web2 = dataplane('web-2', '10.0.0.5', 'web', [{ service: 'backend', port: 10001 }]);
    const other = snapshots.build('default.web-2', web2, ctx2, noIdentity)!;
    expect(get(other, TypeUrl.ClusterLoadAssignment, 'backend')).toBe(get(second, TypeUrl.ClusterLoadAssignment, 'backend'));
  });

  it('regenerates when its Dataplane changes', () => {
    const snapshots = new ProxySnapshots();
    const ctx1 = buildMeshContext(mesh, [web, backend1, db]);
    const first = snapshots.build(NODE, web, ctx1, noIdentity)!;
    const moved = dataplane('web-1', '10.0.0.1', 'web', [{ service: 'backend', port: 20001 }, { service: 'db', port: 10002 }]);
    const ctx2 = buildMeshContext(mesh, [moved, backend1, db], [], ctx1);
    const second = snapshots.build(NODE, moved, ctx2, noIdentity)!;
    expect(second.version).toBe(fresh(moved, ctx2).version);
    expect([...second.resources.get(TypeUrl.Listener)!.keys()]).toContain('outbound:127.0.0.1:20001');
    expect(second.resources.get(TypeUrl.Listener)).not.toBe(first.resources.get(TypeUrl.Listener));

    // Labels select policies: a label change alone is a change too.
    const labelled = { ...moved, labels: { team: 'a' } };
    const ctx3 = buildMeshContext(mesh, [labelled, backend1, db], [], ctx2);
    expect(snapshots.build(NODE, labelled, ctx3, { identity, version: 'v1' })).toBeDefined();
    expect(snapshots.build(NODE, { ...labelled }, ctx3, { identity, version: 'v1' })).toBeUndefined(); // same content, new object
    const relabelled = { ...labelled, labels: { team: 'b' } };
    expect(snapshots.build(NODE, relabelled, buildMeshContext(mesh, [relabelled, backend1, db], [], ctx3), { identity, version: 'v1' })).toBeDefined();
  });

  it('regenerates when policies, the identity or what its outbounds use change', () => {
    const snapshots = new ProxySnapshots();
    const ctx1 = buildMeshContext(mesh, [web, backend1, db]);
    snapshots.build(NODE, web, ctx1, { identity, version: 'v1' });
    const inbound = (s: Snapshot) => unpackAny(get(s, TypeUrl.Listener, 'inbound:10.0.0.1:8080').any) as any;
    const rbacPrincipals = (s: Snapshot) => {
      const hcm = unpackAny(inbound(s).filter_chains[0].filters[0].typed_config) as any;
      const rbac = unpackAny(hcm.http_filters[0].typed_config) as any;
      return rbac.rules.policies?.MeshTrafficPermission?.principals;
    };

    // A MeshTrafficPermission: the inbound's RBAC changes.
    const ctx2 = buildMeshContext(mesh, [web, backend1, db], [allowAll], ctx1);
    const withPolicy = snapshots.build(NODE, web, ctx2, { identity, version: 'v1' })!;
    expect(withPolicy.version).toBe(fresh(web, ctx2, identity).version);
    expect(rbacPrincipals(withPolicy)).toMatchObject([{ any: true }]);

    // A renewed certificate: new SDS secret.
    const renewed = { ...identity, certPem: 'CERT-2' };
    const withCert = snapshots.build(NODE, web, ctx2, { identity: renewed, version: 'v2' })!;
    expect(withCert.version).toBe(fresh(web, ctx2, renewed).version);
    expect(unpackAny(get(withCert, TypeUrl.Secret, 'identity_cert:secret:default').any)).toMatchObject({ tls_certificate: { certificate_chain: { inline_string: 'CERT-2' } } });

    // The backend's lowest port (its SNI) changes with an endpoint on a lower port.
    const lowPort = dataplane('backend-3', '10.0.0.6', 'backend', [], 7070);
    const ctx3 = buildMeshContext(mesh, [web, backend1, lowPort, db], [allowAll], ctx2);
    const withSni = snapshots.build(NODE, web, ctx3, { identity: renewed, version: 'v2' })!;
    expect(withSni.version).toBe(fresh(web, ctx3, renewed).version);
    const cluster = unpackAny(get(withSni, TypeUrl.Cluster, 'backend').any) as any;
    expect(unpackAny(cluster.transport_socket.typed_config)).toMatchObject({ sni: 'sni.msvc.default.backend.7070' });

    // The db service turns HTTP/2: its outbound listener and cluster follow.
    const grpcDb = resource('Dataplane', 'db-1', { networking: { address: '10.0.0.4', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'db', 'kuma.io/protocol': 'grpc' } }] } });
    const ctx4 = buildMeshContext(mesh, [web, backend1, lowPort, grpcDb], [allowAll], ctx3);
    const withGrpc = snapshots.build(NODE, web, ctx4, { identity: renewed, version: 'v2' })!;
    expect(withGrpc.version).toBe(fresh(web, ctx4, renewed).version);
    const dbCluster = unpackAny(get(withGrpc, TypeUrl.Cluster, 'db').any) as any;
    expect(dbCluster.typed_extension_protocol_options).toBeDefined();
  });

  it('shares resources between proxies only when their content is the same', () => {
    const snapshots = new ProxySnapshots();
    const ctx = buildMeshContext(mesh, [web, backend1, db]);
    const web2 = dataplane('web-2', '10.0.0.5', 'web', [{ service: 'backend', port: 10001 }, { service: 'db', port: 10003 }]);
    const a = snapshots.build(NODE, web, ctx, noIdentity)!;
    const b = snapshots.build('default.web-2', web2, ctx, noIdentity)!;
    expect(get(b, TypeUrl.Cluster, 'backend')).toBe(get(a, TypeUrl.Cluster, 'backend'));
    expect(get(b, TypeUrl.Cluster, 'localhost:80')).toBe(get(a, TypeUrl.Cluster, 'localhost:80'));
    expect(get(b, TypeUrl.Listener, 'outbound:127.0.0.1:10001')).toBe(get(a, TypeUrl.Listener, 'outbound:127.0.0.1:10001'));
    expect(get(b, TypeUrl.Listener, 'outbound:127.0.0.1:10003')).toBeDefined();
    // With an identity the cluster originates mTLS: not the plaintext one.
    const c = snapshots.build('default.web-3', { ...web2, name: 'web-3' }, ctx, { identity, version: 'v1' })!;
    expect(c.version).toBe(fresh({ ...web2, name: 'web-3' }, ctx, identity).version);
    expect(get(c, TypeUrl.Cluster, 'backend')).not.toBe(get(a, TypeUrl.Cluster, 'backend'));
  });

  it('generates the outbound passthrough of a transparent proxy and follows the mesh passthrough flag', () => {
    const snapshots = new ProxySnapshots();
    const transparent = resource('Dataplane', 'web-1', {
      networking: { ...(web.spec['networking'] as object), transparentProxying: { redirectPortOutbound: 15001, redirectPortInbound: 15006 } },
    });
    const ctx1 = buildMeshContext(mesh, [transparent, backend1, db]);
    const on = snapshots.build(NODE, transparent, ctx1, noIdentity)!;
    expect(on.version).toBe(fresh(transparent, ctx1).version);
    const listener = unpackAny(get(on, TypeUrl.Listener, 'outbound:passthrough:ipv4').any) as any;
    expect(listener).toMatchObject({
      address: { socket_address: { address: '0.0.0.0', port_value: 15001 } },
      use_original_dst: { value: true },
      traffic_direction: 'OUTBOUND',
    });
    const tcp = unpackAny(listener.filter_chains[0].filters[0].typed_config) as any;
    expect(tcp).toMatchObject({ stat_prefix: 'outbound_passthrough_ipv4', cluster: 'outbound:passthrough:ipv4' });
    expect(unpackAny(get(on, TypeUrl.Cluster, 'outbound:passthrough:ipv4').any)).toMatchObject({ type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' });
    // Mesh-declared outbounds are still there, bound as before.
    expect(unpackAny(get(on, TypeUrl.Listener, 'outbound:127.0.0.1:10001').any)).not.toHaveProperty('bind_to_port');

    // passthrough: false — the listener stays (redirected traffic is still caught), its cluster goes.
    const closed = { ...mesh, spec: { networking: { outbound: { passthrough: false } } } };
    const ctx2 = buildMeshContext(closed, [transparent, backend1, db], [], ctx1);
    const off = snapshots.build(NODE, transparent, ctx2, noIdentity)!;
    expect(off.version).toBe(fresh(transparent, ctx2).version);
    expect(get(off, TypeUrl.Listener, 'outbound:passthrough:ipv4')).toBeDefined();
    expect(off.resources.get(TypeUrl.Cluster)!.has('outbound:passthrough:ipv4')).toBe(false);
    expect(snapshots.build(NODE, transparent, ctx2, noIdentity)).toBeUndefined();

    // Back on; and a proxy without redirectPortOutbound gets none of it.
    const ctx3 = buildMeshContext(mesh, [transparent, backend1, db], [], ctx2);
    expect(snapshots.build(NODE, transparent, ctx3, noIdentity)!.resources.get(TypeUrl.Cluster)!.has('outbound:passthrough:ipv4')).toBe(true);
    const plain = snapshots.build('default.web-2', { ...web, name: 'web-2' }, ctx3, noIdentity)!;
    expect(plain.resources.get(TypeUrl.Listener)!.has('outbound:passthrough:ipv4')).toBe(false);
    expect(plain.resources.get(TypeUrl.Cluster)!.has('outbound:passthrough:ipv4')).toBe(false);
  });

  it('starts from scratch after forget', () => {
    const snapshots = new ProxySnapshots();
    const ctx = buildMeshContext(mesh, [web, backend1, db]);
    snapshots.build(NODE, web, ctx, noIdentity);
    expect(snapshots.build(NODE, web, ctx, noIdentity)).toBeUndefined();
    snapshots.forget(NODE);
    expect(snapshots.build(NODE, web, ctx, noIdentity)?.version).toBe(fresh(web, ctx).version);
  });
});

describe('MeshContext', () => {
  it('keeps the load assignments of services whose endpoints did not change', () => {
    const ctx1 = buildMeshContext(mesh, [web, backend1, db]);
    const snapshots = new ProxySnapshots();
    snapshots.build(NODE, web, ctx1, noIdentity);
    expect([...ctx1.loadAssignments.keys()].sort()).toEqual(['backend', 'db']);
    const ctx2 = buildMeshContext(mesh, [web, backend1, backend2, db], [], ctx1);
    expect([...ctx2.loadAssignments.keys()]).toEqual(['db']);
    expect(ctx2.loadAssignments.get('db')).toBe(ctx1.loadAssignments.get('db'));
  });
});
