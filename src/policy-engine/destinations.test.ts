import { describe, expect, it } from 'vitest';
import type { Labels, Resource } from '../api/resource.js';
import { destinationsOf } from './destinations.js';

function res(type: string, name: string, spec: Record<string, unknown>, labels: Labels = {}): Resource {
  return { type, mesh: 'default', name, labels, spec, version: 1, creationTime: '', modificationTime: '' };
}

const inbound = (service: string, port: number) => ({ networking: { address: '10.0.0.1', inbound: [{ port, tags: { 'kuma.io/service': service } }] } });
const dataplanes = [
  res('Dataplane', 'db-1', inbound('db', 7000)),
  res('Dataplane', 'db-2', inbound('db', 6000), { 'kuma.io/zone': 'east' }),
  res('Dataplane', 'far-1', inbound('far', 9000), { 'kuma.io/zone': 'east' }),
];
const externalServices = [res('MeshExternalService', 'httpbin', { match: { type: 'HostnameGenerator', port: 443, protocol: 'http' }, endpoints: [{ address: 'httpbin.org', port: 443 }] }, { team: 'x' })];

describe('destinationsOf', () => {
  it('names a sidecar outbound as a mesh service, else as the external service of that name', () => {
    const web = res('Dataplane', 'web-1', {
      networking: {
        address: '10.0.0.2',
        inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }],
        outbound: [
          { port: 1, tags: { 'kuma.io/service': 'db' } },
          { port: 2, tags: { 'kuma.io/service': 'httpbin' } },
          { port: 3, tags: { 'kuma.io/service': 'nowhere' } },
          { port: 4, backendRef: { kind: 'MeshService', name: 'api', port: 80 } },
        ],
      },
    });
    expect(destinationsOf(web, { dataplanes, externalServices, zone: 'west' }).outbounds).toEqual([
      { kind: 'MeshService', name: 'db', sni: 'sni.msvc.default.db.6000' },
      { kind: 'MeshExternalService', name: 'httpbin', port: 443, labels: { team: 'x' }, sni: 'sni.extsvc.default.httpbin.443' },
      { kind: 'MeshService', name: 'nowhere' },
      { kind: 'MeshService', name: 'api', port: 80 },
    ]);
  });

  it('gives a zone egress every external service and a zone ingress the local services, by SNI', () => {
    const zp = res('Dataplane', 'zp', { networking: { address: '10.0.0.9', listeners: [{ type: 'ZoneIngress', port: 10001 }, { type: 'ZoneEgress', port: 10002, name: 'eg' }] } }, {
      'kuma.io/proxy-type': 'zoneproxy',
      'kuma.io/zone-proxy-role': 'all',
    });
    const extras = destinationsOf(zp, { dataplanes, externalServices, zone: 'west' });
    expect(extras.outbounds?.map((d) => d.sni)).toEqual(['sni.extsvc.default.httpbin.443']);
    // db has a local endpoint (db-1, no zone label); far only lives in zone east.
    expect(extras.listenerSnis).toEqual({ '10001': ['sni.msvc.default.db.6000'], eg: ['sni.extsvc.default.httpbin.443'] });
  });

  it('gives an ingress-only zone proxy no outbound destinations', () => {
    const zi = res('Dataplane', 'zi', { networking: { address: '10.0.0.9' } }, { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress' });
    expect(destinationsOf(zi, { dataplanes, externalServices }).outbounds).toEqual([]);
  });
});
