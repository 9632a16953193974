import { describe, expect, it } from 'vitest';
import { destinationSni, formatSni, parseSni, sniProblem, type SniParts } from './sni.js';

describe('destination SNIs', () => {
  const cases: [string, SniParts, string][] = [
    ['global-originated', { kind: 'mzsvc', mesh: 'default', name: 'global-svc', section: '80' }, 'sni.mzsvc.default.global-svc.80'],
    ['zone on Universal', { kind: 'msvc', mesh: 'default', zone: 'east', name: 'backend', section: '80' }, 'sni.msvc.default.east.backend.80'],
    ['zone on Kubernetes', { kind: 'msvc', mesh: 'default', zone: 'east', namespace: 'app-ns', name: 'backend', section: 'http' }, 'sni.msvc.default.east.app-ns.backend.http'],
    ['namespace without zone is dropped', { kind: 'extsvc', mesh: 'default', namespace: 'ns', name: 'example', section: '9000' }, 'sni.extsvc.default.example.9000'],
  ];
  it.each(cases)('%s', (_name, parts, sni) => {
    expect(formatSni(parts)).toBe(sni);
    const back = parseSni(sni)!;
    expect(formatSni(back)).toBe(sni);
  });

  it('refuses names that cannot be DNS labels', () => {
    expect(sniProblem({ kind: 'msvc', mesh: 'default', name: 'a.b', section: '80' })).toBe('name "a.b" does not conform to RFC 1123: must not contain dots');
    expect(sniProblem({ kind: 'msvc', mesh: 'default', name: '', section: '80' })).toBe('mesh, name and sectionName must be non-empty');
    expect(sniProblem({ kind: 'msvc', mesh: 'default', name: 'x'.repeat(64), section: '80' })).toMatch(/no more than 63 characters/);
  });

  it('builds from a resource: display name, zone and namespace labels', () => {
    const res = { type: 'MeshService', mesh: 'm1', name: 'backend-abc123', labels: { 'kuma.io/display-name': 'backend', 'kuma.io/zone': 'zone-2' } };
    expect(destinationSni(res, 8080)).toBe('sni.msvc.m1.zone-2.backend.8080');
    expect(() => destinationSni({ ...res, type: 'Dataplane' }, 1)).toThrow('resource type not supported for SNI: Dataplane');
  });
});
