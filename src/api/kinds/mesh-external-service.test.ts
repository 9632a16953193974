import { describe, expect, it } from 'vitest';
import { requireDescriptor, validateResource, type Resource } from '../index.js';

const ctx = { mode: 'standalone', environment: 'universal', zone: '' } as never;

function mes(spec: Record<string, unknown>): Resource {
  return { type: 'MeshExternalService', mesh: 'default', name: 'httpbin', labels: {}, spec, version: 1, creationTime: '', modificationTime: '' };
}

describe('MeshExternalService', () => {
  it('is registered as a mesh-scoped kind', () => {
    const d = requireDescriptor('MeshExternalService');
    expect(d).toMatchObject({ scope: 'Mesh', path: 'meshexternalservices', shortName: 'extsvc' });
    expect(d.applyDefaults!({ match: { port: 80 } })).toEqual({ match: { type: 'HostnameGenerator', protocol: 'tcp', port: 80 } });
  });

  it('accepts a minimal spec', () => {
    expect(validateResource(mes({ match: { type: 'HostnameGenerator', port: 80, protocol: 'http' }, endpoints: [{ address: 'httpbin.org', port: 443 }] }), ctx)).toEqual([]);
  });

  it('validates match and endpoints', () => {
    const fields = validateResource(mes({ match: { type: 'Other', port: 0, protocol: 'smtp' }, endpoints: [{ port: 70000 }] }), ctx).map((v) => v.field);
    expect(fields).toEqual(expect.arrayContaining(['spec.match.type', 'spec.match.port', 'spec.match.protocol', 'spec.endpoints[0].address', 'spec.endpoints[0].port']));
    expect(validateResource(mes({}), ctx).map((v) => v.field)).toEqual(expect.arrayContaining(['spec.match', 'spec.endpoints']));
  });
});
