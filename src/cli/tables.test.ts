import { describe, expect, it } from 'vitest';
import type { ResourceDescriptor } from '../api/descriptor.js';
import { dataplaneTags, isOnline, meshMtls, resourceTable } from './tables.js';

const kind = (name: string, scope: 'Global' | 'Mesh'): ResourceDescriptor => ({
  name,
  scope,
  path: name.toLowerCase(),
  cliArg: name.toLowerCase(),
  cliListArg: `${name.toLowerCase()}s`,
  singularDisplayName: name,
  pluralDisplayName: `${name}s`,
  flat: true,
  schema: {},
});

const now = Date.parse('2024-06-01T12:00:00Z');
const minutesAgo = (m: number) => new Date(now - m * 60_000).toISOString();

describe('get tables', () => {
  it('meshes: NAME mTLS LOCALITY ZONEEGRESS AGE', () => {
    const meshes = [
      { name: 'default', modificationTime: minutesAgo(5) },
      {
        name: 'secure',
        modificationTime: minutesAgo(120),
        mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
        routing: { localityAwareLoadBalancing: true, zoneEgress: true },
      },
    ];
    expect(resourceTable(kind('Mesh', 'Global'), meshes, now)).toBe(
      'NAME      mTLS           LOCALITY   ZONEEGRESS   AGE\n' +
        'default   off            off        off          5m\n' +
        'secure    builtin/ca-1   on         on           2h\n',
    );
  });

  it('dataplanes: MESH NAME TAGS ADDRESS AGE, plus STATUS when known', () => {
    const dp = {
      mesh: 'demo',
      name: 'web-1',
      modificationTime: minutesAgo(1),
      networking: {
        address: '10.0.0.1',
        advertisedAddress: '192.168.0.1',
        inbound: [
          { port: 1, tags: { 'kuma.io/service': 'web', version: 'v2' } },
          { port: 2, tags: { 'kuma.io/service': 'admin', version: 'v2' } },
        ],
      },
    };
    expect(resourceTable(kind('Dataplane', 'Mesh'), [dp], now)).toBe(
      'MESH   NAME    TAGS                                   ADDRESS       AGE\n' +
        'demo   web-1   kuma.io/service=admin,web version=v2   192.168.0.1   1m\n',
    );
    expect(resourceTable(kind('Dataplane', 'Mesh'), [dp], now, new Map([['web-1', 'Online']]))).toContain('AGE   STATUS\n');
    expect(resourceTable(kind('Dataplane', 'Mesh'), [dp], now, new Map([['web-1', 'Online']]))).toMatch(/1m {4}Online\n$/);
  });

  it('other kinds: MESH NAME AGE or NAME AGE', () => {
    expect(resourceTable(kind('Secret', 'Mesh'), [{ mesh: 'default', name: 's1', modificationTime: minutesAgo(0) }], now)).toBe(
      'MESH      NAME   AGE\ndefault   s1     0s\n',
    );
    expect(resourceTable(kind('Zone', 'Global'), [{ name: 'east', modificationTime: minutesAgo(60 * 24 * 3) }], now)).toBe('NAME   AGE\neast   3d\n');
  });

  it('gateway tags count as tags and the address falls back to networking.address', () => {
    const gw = { networking: { address: '10.0.0.2', gateway: { tags: { 'kuma.io/service': 'edge' } } } };
    expect(dataplaneTags(gw)).toBe('kuma.io/service=edge');
    expect(meshMtls({ mtls: { backends: [] } })).toBe('off');
  });
});

describe('isOnline', () => {
  it('is online only when the last subscription is connected and not disconnected', () => {
    expect(isOnline(undefined)).toBe(false);
    expect(isOnline({ subscriptions: [] })).toBe(false);
    expect(isOnline({ subscriptions: [{ connectTime: 't' }] })).toBe(true);
    expect(isOnline({ subscriptions: [{ connectTime: 't' }, { connectTime: 't', disconnectTime: 'u' }] })).toBe(false);
    expect(isOnline({ subscriptions: [{ connectTime: 't', disconnectTime: 'u' }, { connectTime: 'v' }] })).toBe(true);
  });
});
