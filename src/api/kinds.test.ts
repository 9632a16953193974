import { describe, expect, it } from 'vitest';
import { allDescriptors, descriptorByCliArg, descriptorByPath, validateResource, type ApiContext } from './index.js';
import type { Resource } from './resource.js';

const ctx: ApiContext = { mode: 'standalone', environment: 'universal' };

function resource(type: string, spec: Record<string, unknown>, mesh = ''): Resource {
  return { type, mesh, name: 'r-1', labels: {}, spec, creationTime: '', modificationTime: '', version: 0 };
}

function problems(type: string, spec: Record<string, unknown>, mesh = ''): string[] {
  return validateResource(resource(type, spec, mesh), ctx).map((v) => `${v.field}: ${v.reason}`);
}

describe('registry', () => {
  it.each([
    ['Mesh', 'meshes', 'Global', 'm', 'mesh', 'meshes'],
    ['Dataplane', 'dataplanes', 'Mesh', 'dp', 'dataplane', 'dataplanes'],
    ['ZoneIngress', 'zoneingresses', 'Global', 'zi', 'zoneingress', 'zoneingresses'],
    ['ZoneEgress', 'zoneegresses', 'Global', 'ze', 'zoneegress', 'zoneegresses'],
    ['Secret', 'secrets', 'Mesh', undefined, 'secret', 'secrets'],
    ['GlobalSecret', 'globalsecrets', 'Global', undefined, 'global-secret', 'global-secrets'],
    ['Zone', 'zones', 'Global', 'z', 'zone', 'zones'],
    ['DataplaneInsight', 'dataplane-insights', 'Mesh', undefined, 'dataplane-insight', 'dataplane-insights'],
    ['ZoneInsight', 'zone-insights', 'Global', undefined, 'zone-insight', 'zone-insights'],
    ['ZoneIngressInsight', 'zone-ingress-insights', 'Global', undefined, 'zone-ingress-insight', 'zone-ingress-insights'],
    ['ZoneEgressInsight', 'zoneegressinsights', 'Global', undefined, 'zoneegressinsight', 'zoneegressinsights'],
    ['MeshInsight', 'mesh-insights', 'Global', undefined, 'mesh-insight', 'mesh-insights'],
  ])('%s at /%s', (name, path, scope, shortName, cliArg, cliListArg) => {
    const d = descriptorByPath(path)!;
    expect(d).toMatchObject({ name, scope, cliArg, cliListArg, flat: true });
    expect(d.shortName).toBe(shortName);
    expect(descriptorByCliArg(cliArg)).toBe(d);
  });

  it('knows alternative paths and aliases', () => {
    expect(descriptorByPath('zone-ingresses')?.name).toBe('ZoneIngress');
    expect(descriptorByPath('global-secrets')?.name).toBe('GlobalSecret');
    expect(descriptorByCliArg('globalsecret')?.name).toBe('GlobalSecret');
  });

  it('marks insights read-only and secrets admin-only', () => {
    const readOnly = allDescriptors().filter((d) => d.readOnly).map((d) => d.name);
    expect(readOnly).toEqual(['DataplaneInsight', 'MeshInsight', 'ZoneEgressInsight', 'ZoneIngressInsight', 'ZoneInsight']);
    expect(allDescriptors().filter((d) => d.adminOnly).map((d) => d.name)).toEqual(['GlobalSecret', 'Secret']);
  });

  it('sets multi-zone sync directions', () => {
    const flags = Object.fromEntries(allDescriptors().map((d) => [d.name, `${d.providedByGlobal ? 'G' : '-'}${d.providedByZone ? 'Z' : '-'}`]));
    expect(flags).toMatchObject({ Mesh: 'G-', Dataplane: '-Z', ZoneIngress: '-Z', ZoneEgress: '-Z', Secret: 'GZ', DataplaneInsight: '-Z' });
  });
});

describe('ZoneIngress', () => {
  const networking = { address: '10.0.0.9', port: 10001, advertisedAddress: '1.2.3.4', advertisedPort: 30001 };
  it.each<[string, Record<string, unknown>, string[]]>([
    ['valid', { zone: 'z1', networking, availableServices: [{ tags: { 'kuma.io/service': 'web' }, instances: 2, mesh: 'default' }] }, []],
    ['no networking', {}, ['networking: must be defined']],
    ['advertisedAddress alone', { networking: { address: '10.0.0.9', port: 10001, advertisedAddress: '1.2.3.4' } }, ['networking.advertisedPort: has to be defined with advertisedAddress']],
    ['advertisedPort alone', { networking: { address: '10.0.0.9', port: 10001, advertisedPort: 1 } }, ['networking.advertisedAddress: has to be defined with advertisedPort']],
    [
      'addresses and ports',
      { networking: { address: '::', port: 0, advertisedAddress: '0.0.0.0', advertisedPort: 70000, admin: { port: 0 } } },
      [
        'networking.address: must not be 0.0.0.0 or ::',
        'networking.port: port must be in the range [1, 65535]',
        'networking.admin.port: port must be in the range [1, 65535]',
        'networking.advertisedAddress: must not be 0.0.0.0 or ::',
        'networking.advertisedPort: port must be in the range [1, 65535]',
      ],
    ],
    ['admin = port', { networking: { address: '10.0.0.9', port: 10001, admin: { port: 10001 } } }, ['networking.admin.port: must differ from port']],
    ['service tag', { networking: { address: '10.0.0.9', port: 10001 }, availableServices: [{ tags: { version: 'v1' } }] }, ['availableServices[0].tags["kuma.io/service"]: cannot be empty']],
  ])('%s', (_name, spec, expected) => {
    expect(problems('ZoneIngress', spec)).toEqual(expected);
  });
});

describe('ZoneEgress', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['valid', { zone: 'z1', networking: { address: 'egress.local', port: 10002, admin: { port: 9901 } } }, []],
    ['no networking', { zone: 'z1' }, ['networking: must be defined']],
    ['empty address', { networking: { port: 10002 } }, ["networking.address: address can't be empty"]],
    ['advertised fields are not egress fields', { networking: { address: '10.0.0.1', port: 1, advertisedPort: 2 } }, ['networking.advertisedPort: unknown field "advertisedPort"']],
  ])('%s', (_name, spec, expected) => {
    expect(problems('ZoneEgress', spec)).toEqual(expected);
  });
});

describe('Secret and GlobalSecret', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['valid', { data: 'c2VjcmV0' }, []],
    ['missing data', {}, ['data: cannot be empty']],
    ['not base64', { data: 'not base64!' }, ['data: must be a valid base64 string']],
    ['not a string', { data: 42 }, ['data: must be a string']],
  ])('%s', (_name, spec, expected) => {
    expect(problems('Secret', spec, 'default')).toEqual(expected);
    expect(problems('GlobalSecret', spec)).toEqual(expected);
  });

  it('requires a mesh for Secret only', () => {
    expect(problems('Secret', { data: 'YQ==' }, '')).toEqual(['mesh: cannot be empty']);
  });
});

describe('Zone and insights', () => {
  it('Zone has only enabled', () => {
    expect(problems('Zone', { enabled: false })).toEqual([]);
    expect(problems('Zone', { enabled: 'no' })).toEqual(['enabled: must be a boolean']);
    expect(problems('Zone', { disabled: true })).toEqual(['disabled: unknown field "disabled"']);
  });

  it('insights accept any fields', () => {
    expect(problems('DataplaneInsight', { subscriptions: [{ id: 'x' }], mTLS: {} }, 'default')).toEqual([]);
    expect(problems('ZoneInsight', { anything: 1 })).toEqual([]);
  });
});
