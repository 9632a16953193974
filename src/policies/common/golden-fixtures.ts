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
