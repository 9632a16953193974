// A small mesh for the policy plugins' golden tests: `backend` serves HTTP on 8080 and TCP on 9090;
// `web` calls both (legacy `kuma.io/service` outbounds).
import type { Resource } from '../../api/resource.js';
import { policyResource } from './golden.js';

export const goldenMesh = policyResource('Mesh', 'default', {});

export const goldenBackend: Resource = policyResource('Dataplane', 'backend-1', {
  networking: {
    address: '10.0.0.1',
    inbound: [
      { port: 8080, servicePort: 18080, tags: { 'kuma.io/service': 'backend', 'kuma.io/protocol': 'http' } },
      { port: 9090, servicePort: 19090, tags: { 'kuma.io/service': 'backend-tcp', 'kuma.io/protocol': 'tcp' } },
    ],
  },
});

export const goldenWeb: Resource = policyResource('Dataplane', 'web-1', {
  networking: {
    address: '10.0.0.2',
    inbound: [{ port: 8080, servicePort: 18080, tags: { 'kuma.io/service': 'web', 'kuma.io/protocol': 'http' } }],
    outbound: [
      { port: 20001, tags: { 'kuma.io/service': 'backend' } },
      { port: 20002, tags: { 'kuma.io/service': 'backend-tcp' } },
    ],
  },
});

// Zone proxies: a mesh with mTLS, a zone proxy of role `all` (ingress 10001, egress 10002) serving
// `backend` (ingress SNI sni.msvc.zp.backend.8080) and two MeshExternalServices through its egress:
// `httpbin` (HTTP, SNI sni.extsvc.zp.httpbin.80) and `db` (TCP, SNI sni.extsvc.zp.db.5432).
export const goldenZpMesh = policyResource('Mesh', 'zp', { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } });

export const goldenZpBackend: Resource = policyResource('Dataplane', 'backend-1', {
  networking: { address: '10.0.0.1', inbound: [{ port: 8080, servicePort: 18080, tags: { 'kuma.io/service': 'backend', 'kuma.io/protocol': 'http' } }] },
}, 'zp');

export const goldenZoneProxy: Resource = {
  ...policyResource('Dataplane', 'zp-1', { networking: { address: '10.0.0.9' } }, 'zp'),
  labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'all' },
};

export const goldenZpExternals: Resource[] = [
  policyResource('MeshExternalService', 'httpbin', { match: { type: 'HostnameGenerator', port: 80, protocol: 'http' }, endpoints: [{ address: '192.0.2.1', port: 8080 }] }, 'zp'),
  policyResource('MeshExternalService', 'db', { match: { type: 'HostnameGenerator', port: 5432, protocol: 'tcp' }, endpoints: [{ address: '192.0.2.2', port: 5432 }] }, 'zp'),
];

/** Lets every mesh workload through the egress to both external services (the egress denies otherwise). */
export const goldenZpEgressAllow = policyResource('MeshTrafficPermission', 'egress-allow', {
  targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } },
  rules: [{ default: { allow: [{ spiffeID: { type: 'Prefix', value: 'spiffe://zp/' } }] } }],
}, 'zp');
