import { describe, expect, it } from 'vitest';
import type { Labels, Resource } from '../api/resource.js';
import { matchPolicies, matchClass, outboundConf, type Match } from './rules.js';
import { proxyViewOf, type ProxyView } from './proxy-view.js';
import { comparePolicies, selectProxy } from './select.js';
import type { TargetRef } from './target-ref.js';

function policy(name: string, spec: Record<string, unknown>, labels: Labels = {}, type = 'MeshTimeout', mesh = 'default'): Resource {
  return { type, mesh, name, labels, spec, version: 1, creationTime: '', modificationTime: '' };
}

function dataplane(name: string, spec: Record<string, unknown>, labels: Labels = {}): Resource {
  return { type: 'Dataplane', mesh: 'default', name, labels, spec, version: 1, creationTime: '', modificationTime: '' };
}

const sidecar = dataplane(
  'web-1',
  {
    networking: {
      address: '10.0.0.1',
      inbound: [
        { port: 8080, name: 'http', tags: { 'kuma.io/service': 'web', version: 'v1' } },
        { port: 9090, tags: { 'kuma.io/service': 'web-admin' } },
      ],
      outbound: [
        { port: 10001, tags: { 'kuma.io/service': 'db' } },
        { port: 10002, tags: { 'kuma.io/service': 'httpbin' } },
        { port: 10003, backendRef: { kind: 'MeshExternalService', name: 'ext' } },
      ],
    },
  },
  { team: 'a', app: 'web' },
);

const zoneProxy = dataplane(
  'zp-1',
  { networking: { address: '10.0.0.9', listeners: [{ type: 'ZoneIngress', port: 10001, name: 'zi' }, { type: 'ZoneEgress', port: 10002 }] } },
  { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'all', 'kuma.io/listener-zoneegress': 'enabled', 'kuma.io/listener-zoneingress': 'enabled' },
);

const gateway = dataplane('gw-1', { networking: { address: '10.0.0.5', gateway: { type: 'DELEGATED', tags: { 'kuma.io/service': 'gw' } } } });

const sidecarView = proxyViewOf(sidecar);
const zoneView = proxyViewOf(zoneProxy, { listenerSnis: { '10002': ['sni.extsvc.default.a.443', 'sni.extsvc.default.b.80'] } });
const gatewayView = proxyViewOf(gateway);

describe('proxyViewOf', () => {
  it('reads inbounds, outbounds and the sidecar type', () => {
    expect(sidecarView.proxyType).toBe('Sidecar');
    expect(sidecarView.inbounds.map((i) => [i.name, i.port, i.address])).toEqual([['http', 8080, '10.0.0.1'], [undefined, 9090, '10.0.0.1']]);
    expect(sidecarView.outbounds).toEqual([
      { kind: 'MeshService', name: 'db' },
      { kind: 'MeshService', name: 'httpbin' },
      { kind: 'MeshExternalService', name: 'ext' },
    ]);
  });

  it('reads zone-proxy listeners (zone proxies are Sidecars for proxyTypes)', () => {
    expect(zoneView.zoneProxy).toBe(true);
    expect(zoneView.proxyType).toBe('Sidecar');
    expect(zoneView.listeners.map((l) => [l.type, l.name, l.port, l.snis?.length ?? 0])).toEqual([['ZoneIngress', 'zi', 10001, 0], ['ZoneEgress', '10002', 10002, 2]]);
  });

  it('marks a Dataplane with networking.gateway as a Gateway', () => {
    expect(gatewayView.proxyType).toBe('Gateway');
    expect(gatewayView.builtinGateway).toBe(false);
  });
});

describe('selectProxy', () => {
  const sel = (ref: TargetRef, view: ProxyView) => {
    const s = selectProxy(ref, view);
    return { proxy: s.proxy, inbounds: s.inbounds.map((i) => i.name ?? String(i.port)), listeners: s.listeners.map((l) => l.name) };
  };
  it.each<{ name: string; ref: TargetRef; view: ProxyView; want: { proxy: boolean; inbounds: string[]; listeners: string[] } }>([
    { name: 'Mesh selects all inbounds', ref: { kind: 'Mesh' }, view: sidecarView, want: { proxy: true, inbounds: ['http', '9090'], listeners: [] } },
    { name: 'Mesh selects zone listeners', ref: { kind: 'Mesh' }, view: zoneView, want: { proxy: true, inbounds: [], listeners: ['zi', '10002'] } },
    { name: 'Mesh Sidecar admits a zone proxy', ref: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, view: zoneView, want: { proxy: true, inbounds: [], listeners: ['zi', '10002'] } },
    { name: 'Mesh Gateway skips sidecars', ref: { kind: 'Mesh', proxyTypes: ['Gateway'] }, view: sidecarView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'Mesh Gateway selects a gateway', ref: { kind: 'Mesh', proxyTypes: ['Gateway'] }, view: gatewayView, want: { proxy: true, inbounds: [], listeners: [] } },
    { name: 'Mesh Sidecar skips a gateway', ref: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, view: gatewayView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'MeshSubset by tag', ref: { kind: 'MeshSubset', tags: { version: 'v1' } }, view: sidecarView, want: { proxy: true, inbounds: ['http'], listeners: [] } },
    { name: 'MeshSubset no match', ref: { kind: 'MeshSubset', tags: { version: 'v2' } }, view: sidecarView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'MeshSubset never selects zone listeners', ref: { kind: 'MeshSubset', tags: {} }, view: zoneView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'MeshSubset proxyTypes Gateway', ref: { kind: 'MeshSubset', tags: {}, proxyTypes: ['Gateway'] }, view: sidecarView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'MeshService', ref: { kind: 'MeshService', name: 'web-admin' }, view: sidecarView, want: { proxy: true, inbounds: ['9090'], listeners: [] } },
    { name: 'MeshServiceSubset', ref: { kind: 'MeshServiceSubset', name: 'web', tags: { version: 'v1' } }, view: sidecarView, want: { proxy: true, inbounds: ['http'], listeners: [] } },
    { name: 'MeshServiceSubset other version', ref: { kind: 'MeshServiceSubset', name: 'web', tags: { version: 'v2' } }, view: sidecarView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'Dataplane all', ref: { kind: 'Dataplane' }, view: sidecarView, want: { proxy: true, inbounds: ['http', '9090'], listeners: [] } },
    { name: 'Dataplane by name', ref: { kind: 'Dataplane', name: 'web-1' }, view: sidecarView, want: { proxy: true, inbounds: ['http', '9090'], listeners: [] } },
    { name: 'Dataplane by other name', ref: { kind: 'Dataplane', name: 'web-2' }, view: sidecarView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'Dataplane by labels', ref: { kind: 'Dataplane', labels: { team: 'a' } }, view: sidecarView, want: { proxy: true, inbounds: ['http', '9090'], listeners: [] } },
    { name: 'Dataplane by other labels', ref: { kind: 'Dataplane', labels: { team: 'b' } }, view: sidecarView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'Dataplane section by inbound name', ref: { kind: 'Dataplane', sectionName: 'http' }, view: sidecarView, want: { proxy: true, inbounds: ['http'], listeners: [] } },
    { name: 'Dataplane section by port', ref: { kind: 'Dataplane', sectionName: '9090' }, view: sidecarView, want: { proxy: true, inbounds: ['9090'], listeners: [] } },
    { name: 'Dataplane section missing', ref: { kind: 'Dataplane', sectionName: 'nope' }, view: sidecarView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'Dataplane zone listener by name', ref: { kind: 'Dataplane', name: 'zp-1', sectionName: 'zi' }, view: zoneView, want: { proxy: true, inbounds: [], listeners: ['zi'] } },
    { name: 'Dataplane zone listener by port', ref: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' }, sectionName: '10002' }, view: zoneView, want: { proxy: true, inbounds: [], listeners: ['10002'] } },
    { name: 'Dataplane zone by computed label', ref: { kind: 'Dataplane', labels: { 'kuma.io/zone-proxy-role': 'all' } }, view: zoneView, want: { proxy: true, inbounds: [], listeners: ['zi', '10002'] } },
    { name: 'MeshService selects a gateway by its tags', ref: { kind: 'MeshService', name: 'gw' }, view: gatewayView, want: { proxy: true, inbounds: [], listeners: [] } },
    { name: 'MeshSubset other gateway tags', ref: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'other' } }, view: gatewayView, want: { proxy: false, inbounds: [], listeners: [] } },
    { name: 'MeshGateway: no resource in Skein', ref: { kind: 'MeshGateway', name: 'gw' }, view: gatewayView, want: { proxy: false, inbounds: [], listeners: [] } },
  ])('$name', ({ ref, view, want }) => {
    expect(sel(ref, view)).toEqual(want);
  });

  it('never selects a builtin gateway with kind Dataplane', () => {
    const builtin = proxyViewOf(dataplane('b', { networking: { gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'b' } } } }));
    expect(selectProxy({ kind: 'Dataplane' }, builtin).proxy).toBe(false);
  });

  it('matches a synced Dataplane by its display name', () => {
    const synced = proxyViewOf(dataplane('web-1.zone-a', {}, { 'kuma.io/display-name': 'web-1' }));
    expect(selectProxy({ kind: 'Dataplane', name: 'web-1' }, synced).proxy).toBe(true);
  });
});

describe('policy order', () => {
  const order = (policies: Resource[]) => [...policies].sort(comparePolicies).map((p) => p.name);
  it.each<{ name: string; policies: Resource[]; want: string[] }>([
    {
      name: 'by targetRef kind: Mesh < MeshSubset < MeshService < MeshServiceSubset < Dataplane labels < Dataplane name',
      policies: [
        policy('dp-name', { targetRef: { kind: 'Dataplane', name: 'web-1' } }),
        policy('mss', { targetRef: { kind: 'MeshServiceSubset', name: 'web', tags: { v: '1' } } }),
        policy('mesh', { targetRef: { kind: 'Mesh' } }),
        policy('dp-labels', { targetRef: { kind: 'Dataplane', labels: { a: 'b' } } }),
        policy('ms', { targetRef: { kind: 'MeshService', name: 'web' } }),
        policy('msub', { targetRef: { kind: 'MeshSubset', tags: { a: 'b' } } }),
      ],
      want: ['mesh', 'msub', 'ms', 'mss', 'dp-labels', 'dp-name'],
    },
    {
      name: 'sectionName is more specific',
      policies: [policy('with-section', { targetRef: { kind: 'Dataplane', labels: { a: 'b' }, sectionName: 'http' } }), policy('without', { targetRef: { kind: 'Dataplane', labels: { a: 'b' } } })],
      want: ['without', 'with-section'],
    },
    {
      name: 'name with section beats name without',
      policies: [policy('b', { targetRef: { kind: 'Dataplane', name: 'x', sectionName: 's' } }), policy('a', { targetRef: { kind: 'Dataplane', name: 'x' } })],
      want: ['a', 'b'],
    },
    {
      name: 'origin: global < unset < zone',
      policies: [
        policy('z', { targetRef: { kind: 'Mesh' } }, { 'kuma.io/origin': 'zone' }),
        policy('u', { targetRef: { kind: 'Mesh' } }),
        policy('g', { targetRef: { kind: 'Mesh' } }, { 'kuma.io/origin': 'global' }),
      ],
      want: ['g', 'u', 'z'],
    },
    {
      name: 'kind wins over origin',
      policies: [policy('zone-mesh', { targetRef: { kind: 'Mesh' } }, { 'kuma.io/origin': 'zone' }), policy('global-dp', { targetRef: { kind: 'Dataplane' } }, { 'kuma.io/origin': 'global' })],
      want: ['zone-mesh', 'global-dp'],
    },
    {
      name: 'equal otherwise: name descending, so the first name wins',
      policies: [policy('a', {}), policy('c', {}), policy('b', {})],
      want: ['c', 'b', 'a'],
    },
    {
      name: 'display name counts, not the synced name',
      policies: [policy('zz.hash', {}, { 'kuma.io/display-name': 'a' }), policy('b', {})],
      want: ['b', 'zz.hash'],
    },
  ])('$name', ({ policies, want }) => {
    expect(order(policies)).toEqual(want);
    expect(order([...policies].reverse())).toEqual(want);
  });
});

describe('matchClass', () => {
  it.each<[Match | undefined, number]>([
    [{ spiffeID: { type: 'Exact', value: 'spiffe://a/b' }, sni: { type: 'Exact', value: 's' } }, 0],
    [{ spiffeID: { type: 'Exact', value: 'spiffe://a/b' } }, 1],
    [{ spiffeID: { type: 'Prefix', value: 'spiffe://a/' }, sni: { type: 'Exact', value: 's' } }, 2],
    [{ spiffeID: { type: 'Prefix', value: 'spiffe://a/' } }, 3],
    [{ sni: { type: 'Exact', value: 's' } }, 4],
    [undefined, 5],
  ])('%j → %i', (m, want) => expect(matchClass(m)).toBe(want));
});

describe('matchPolicies: inbound rules', () => {
  it('merges catch-all rules in policy order and orders matched rules first', () => {
    const policies = [
      policy('mesh-wide', { targetRef: { kind: 'Mesh' }, rules: [{ default: { connectionTimeout: '5s', http: { requestTimeout: '15s' } } }] }),
      policy('web-only', {
        targetRef: { kind: 'Dataplane', labels: { app: 'web' }, sectionName: 'http' },
        rules: [
          { default: { http: { requestTimeout: '1s' } } },
          { matches: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default/' } }, { spiffeID: { type: 'Exact', value: 'spiffe://default/client' } }], default: { http: { requestTimeout: '2s' } } },
        ],
      }),
      policy('other-mesh', { targetRef: { kind: 'Mesh' }, rules: [{ default: { idleTimeout: '1s' } }] }, {}, 'MeshTimeout', 'other'),
      policy('shadow', { targetRef: { kind: 'Mesh' }, rules: [{ default: { idleTimeout: '9s' } }] }, { 'kuma.io/effect': 'shadow' }),
    ];
    const rules = matchPolicies(sidecarView, policies, 'MeshTimeout');
    expect(rules.policies).toEqual(['mesh-wide', 'web-only']);
    const [http, admin] = rules.inbounds;
    expect(http!.section).toBe('http');
    expect(http!.policies).toEqual(['mesh-wide', 'web-only']);
    expect(http!.conf).toEqual({ connectionTimeout: '5s', http: { requestTimeout: '1s' } });
    expect(http!.rules.map((r) => [r.match?.spiffeID?.type ?? 'catch-all', r.origin.policy, r.origin.index])).toEqual([
      ['Exact', 'web-only', 1],
      ['Prefix', 'web-only', 1],
      ['catch-all', 'mesh-wide', 0],
      ['catch-all', 'web-only', 0],
    ]);
    expect(admin!.policies).toEqual(['mesh-wide']);
    expect(admin!.conf).toEqual({ connectionTimeout: '5s', http: { requestTimeout: '15s' } });
  });

  it('reads from[] as catch-all rules for kinds that say so, and keeps them as from entries otherwise', () => {
    const from = { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '2h' } }] };
    const asRules = matchPolicies(sidecarView, [policy('p', from)], { name: 'MeshTimeout', fromAsRules: true });
    expect(asRules.inbounds[0]!.conf).toEqual({ idleTimeout: '2h' });
    expect(asRules.inbounds[0]!.from).toEqual([]);
    expect(asRules.inbounds[0]!.rules[0]!.origin).toEqual({ policy: 'p', section: 'from', index: 0 });
    const legacy = matchPolicies(sidecarView, [policy('p', from, {}, 'MeshFaultInjection')], { name: 'MeshFaultInjection' });
    expect(legacy.inbounds[0]!.conf).toBeUndefined();
    expect(legacy.inbounds[0]!.from).toEqual([{ targetRef: { kind: 'Mesh' }, conf: { idleTimeout: '2h' }, origin: { policy: 'p', section: 'from', index: 0 } }]);
  });

  it('prefers rules over from in one policy', () => {
    const p = policy('p', { rules: [{ default: { idleTimeout: '1s' } }], from: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '2s' } }] });
    expect(matchPolicies(sidecarView, [p], { name: 'MeshTimeout', fromAsRules: true }).inbounds[0]!.conf).toEqual({ idleTimeout: '1s' });
  });

  it('treats an absent top-level targetRef as Mesh', () => {
    const rules = matchPolicies(sidecarView, [policy('p', { rules: [{ default: { idleTimeout: '1s' } }] })], 'MeshTimeout');
    expect(rules.inbounds.map((i) => i.conf)).toEqual([{ idleTimeout: '1s' }, { idleTimeout: '1s' }]);
  });

  it('lets the more specific policy win whatever the input order', () => {
    const a = policy('z-mesh', { targetRef: { kind: 'Mesh' }, rules: [{ default: { idleTimeout: 'mesh' } }] });
    const b = policy('a-dp', { targetRef: { kind: 'Dataplane', name: 'web-1' }, rules: [{ default: { idleTimeout: 'dp' } }] });
    const c = policy('m-svc', { targetRef: { kind: 'MeshService', name: 'web' }, rules: [{ default: { idleTimeout: 'svc' } }] });
    for (const input of [[a, b, c], [c, b, a], [b, a, c]]) {
      expect(matchPolicies(sidecarView, input, 'MeshTimeout').inbounds[0]!.conf).toEqual({ idleTimeout: 'dp' });
    }
  });

  it('applies a zone-originated policy only to proxies of its zone', () => {
    const zonePolicy = policy('z', { rules: [{ default: { idleTimeout: '1s' } }] }, { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'east' });
    const globalPolicy = policy('g', { rules: [{ default: { idleTimeout: '2s' } }] }, { 'kuma.io/origin': 'global' });
    const inZone = (zone?: string) => ({ ...sidecarView, labels: { ...sidecarView.labels, ...(zone ? { 'kuma.io/zone': zone } : {}) } });
    expect(matchPolicies(inZone('east'), [zonePolicy, globalPolicy], 'MeshTimeout').policies).toEqual(['g', 'z']);
    expect(matchPolicies(inZone(), [zonePolicy, globalPolicy], 'MeshTimeout').policies).toEqual(['g', 'z']);
    expect(matchPolicies(inZone('west'), [zonePolicy, globalPolicy], 'MeshTimeout').policies).toEqual(['g']);
  });

  it('ignores policies of other kinds', () => {
    const rules = matchPolicies(sidecarView, [policy('x', { rules: [{ default: {} }] }, {}, 'MeshRateLimit')], 'MeshTimeout');
    expect(rules.policies).toEqual([]);
  });
});

describe('matchPolicies: zone-proxy listeners', () => {
  const snis = ['sni.extsvc.default.a.443', 'sni.extsvc.default.b.80'];
  const policies = [
    policy('all', { targetRef: { kind: 'Mesh' }, rules: [{ default: { idleTimeout: '1h', connectionTimeout: '5s' } }] }),
    policy('egress', {
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' }, sectionName: '10002' },
      rules: [
        { matches: [{ sni: { type: 'Exact', value: snis[0] } }], default: { idleTimeout: '10s' } },
        { matches: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/client' } }], default: { http: { requestTimeout: '1s' } } },
      ],
    }),
    policy('by-subset', { targetRef: { kind: 'MeshSubset', tags: {} }, rules: [{ default: { idleTimeout: 'never' } }] }),
  ];
  const rules = matchPolicies(zoneView, policies, 'MeshTimeout');

  it('selects listeners by Mesh and Dataplane, never MeshSubset', () => {
    expect(rules.listeners.map((l) => [l.section, l.policies])).toEqual([['zi', ['all']], ['10002', ['all', 'egress']]]);
  });

  it('computes a conf per SNI: catch-all plus SNI-only rules for exactly that SNI', () => {
    const egress = rules.listeners[1]!;
    expect(egress.conf).toEqual({ idleTimeout: '1h', connectionTimeout: '5s' });
    expect(egress.bySni).toEqual({
      [snis[0]!]: { idleTimeout: '10s', connectionTimeout: '5s' },
      [snis[1]!]: { idleTimeout: '1h', connectionTimeout: '5s' },
    });
    expect(egress.rules.map((r) => (r.match?.spiffeID ? 'spiffe' : r.match?.sni ? 'sni' : 'catch-all'))).toEqual(['spiffe', 'sni', 'catch-all']);
  });

  it('keeps the default mesh-timeout-all (Sidecar proxyTypes, from as rules) on zone-proxy listeners', () => {
    const def = policy('mesh-timeout-all-default', { targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, from: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '10s' } }] });
    const r = matchPolicies(zoneView, [def], { name: 'MeshTimeout', fromAsRules: true });
    expect(r.listeners.map((l) => l.conf)).toEqual([{ connectionTimeout: '10s' }, { connectionTimeout: '10s' }]);
  });
});

describe('matchPolicies: outbounds', () => {
  const policies = [
    policy('mesh-default', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '5s', idleTimeout: '1h' } }] }),
    policy('to-db', {
      targetRef: { kind: 'Mesh' },
      to: [
        { targetRef: { kind: 'MeshService', name: 'db' }, default: { connectionTimeout: '1s' } },
        { targetRef: { kind: 'Mesh' }, default: { idleTimeout: '2h' } },
      ],
    }),
    policy('to-ext', { targetRef: { kind: 'Dataplane', labels: { team: 'a' } }, to: [{ targetRef: { kind: 'MeshExternalService', name: 'ext' }, default: { connectionTimeout: '9s' } }] }),
    policy('other-team', { targetRef: { kind: 'Dataplane', labels: { team: 'b' } }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '99s' } }] }),
  ];
  const rules = matchPolicies(sidecarView, policies, 'MeshTimeout');

  it('merges per destination: Mesh entries first, named destinations on top', () => {
    // Both Mesh-wide entries come from top-level Mesh policies: the first name (mesh-default) wins.
    expect(rules.outbounds.map((o) => [o.key, o.conf])).toEqual([
      ['MeshService/db', { connectionTimeout: '1s', idleTimeout: '1h' }],
      ['MeshService/httpbin', { connectionTimeout: '5s', idleTimeout: '1h' }],
      ['MeshExternalService/ext', { connectionTimeout: '9s', idleTimeout: '1h' }],
    ]);
    expect(rules.outbounds[0]!.origins).toEqual([
      { policy: 'to-db', section: 'to', index: 1 },
      { policy: 'mesh-default', section: 'to', index: 0 },
      { policy: 'to-db', section: 'to', index: 0 },
    ]);
  });

  it('gives the whole-mesh conf for any other destination', () => {
    expect(rules.toMesh?.conf).toEqual({ connectionTimeout: '5s', idleTimeout: '1h' });
    expect(outboundConf(rules.to, { kind: 'MeshService', name: 'unknown' }).conf).toEqual({ connectionTimeout: '5s', idleTimeout: '1h' });
  });

  it.each<{ name: string; ref: TargetRef; dest: { kind: 'MeshService' | 'MeshExternalService' | 'MeshMultiZoneService'; name: string; port?: number; portName?: string; labels?: Labels }; want: boolean }>([
    { name: 'Mesh names all', ref: { kind: 'Mesh' }, dest: { kind: 'MeshService', name: 'x' }, want: true },
    { name: 'MeshService by name', ref: { kind: 'MeshService', name: 'x' }, dest: { kind: 'MeshService', name: 'x' }, want: true },
    { name: 'MeshService other name', ref: { kind: 'MeshService', name: 'y' }, dest: { kind: 'MeshService', name: 'x' }, want: false },
    { name: 'MeshService by labels', ref: { kind: 'MeshService', labels: { app: 'x' } }, dest: { kind: 'MeshService', name: 'x', labels: { app: 'x', z: '1' } }, want: true },
    { name: 'MeshService section by port', ref: { kind: 'MeshService', name: 'x', sectionName: '80' }, dest: { kind: 'MeshService', name: 'x', port: 80 }, want: true },
    { name: 'MeshService section by port name', ref: { kind: 'MeshService', name: 'x', sectionName: 'http' }, dest: { kind: 'MeshService', name: 'x', port: 80, portName: 'http' }, want: true },
    { name: 'MeshService other section', ref: { kind: 'MeshService', name: 'x', sectionName: '81' }, dest: { kind: 'MeshService', name: 'x', port: 80 }, want: false },
    { name: 'kind must agree', ref: { kind: 'MeshExternalService', name: 'x' }, dest: { kind: 'MeshService', name: 'x' }, want: false },
    { name: 'MES by name', ref: { kind: 'MeshExternalService', name: 'x' }, dest: { kind: 'MeshExternalService', name: 'x' }, want: true },
    { name: 'MMZS by labels', ref: { kind: 'MeshMultiZoneService', labels: { a: 'b' } }, dest: { kind: 'MeshMultiZoneService', name: 'x', labels: { a: 'b' } }, want: true },
    { name: 'nothing named', ref: { kind: 'MeshService' }, dest: { kind: 'MeshService', name: 'x' }, want: false },
  ])('to targetRef: $name', ({ ref, dest, want }) => {
    const p = policy('p', { to: [{ targetRef: ref, default: { idleTimeout: '1s' } }] });
    const r = matchPolicies({ ...sidecarView, outbounds: [dest] }, [p], 'MeshTimeout');
    expect(r.outbounds[0]!.conf !== undefined).toBe(want);
  });

  it('orders to entries by top-level kind, then origin, then to kind, then name', () => {
    const ps = [
      policy('a', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'MeshService', name: 'db' }, default: { v: 'a' } }] }),
      policy('b', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { v: 'b' } }] }, { 'kuma.io/origin': 'zone' }),
      policy('c', { targetRef: { kind: 'Dataplane' }, to: [{ targetRef: { kind: 'Mesh' }, default: { v: 'c' } }] }),
      policy('d', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'MeshService', name: 'db' }, default: { v: 'd' } }] }),
    ];
    expect(matchPolicies(sidecarView, ps, 'MeshTimeout').to.map((e) => e.conf)).toEqual([{ v: 'd' }, { v: 'a' }, { v: 'b' }, { v: 'c' }]);
  });
});

describe('matchPolicies: single-item kinds', () => {
  const kind = { name: 'MeshProxyPatch', singleItem: true, appendPaths: [['appendModifications']] };
  it('merges spec.default of every selecting policy, appending modifications', () => {
    const ps = [
      policy('specific', { targetRef: { kind: 'Dataplane', name: 'web-1' }, default: { appendModifications: [{ cluster: { operation: 'Remove', match: { name: 'b' } } }] } }, {}, 'MeshProxyPatch'),
      policy('wide', { targetRef: { kind: 'Mesh' }, default: { appendModifications: [{ cluster: { operation: 'Remove', match: { name: 'a' } } }] } }, {}, 'MeshProxyPatch'),
      policy('elsewhere', { targetRef: { kind: 'Dataplane', name: 'other' }, default: { appendModifications: [{ cluster: { operation: 'Remove' } }] } }, {}, 'MeshProxyPatch'),
    ];
    const r = matchPolicies(sidecarView, ps, kind);
    expect(r.policies).toEqual(['wide', 'specific']);
    expect(r.proxy?.conf).toEqual({ appendModifications: [{ cluster: { operation: 'Remove', match: { name: 'a' } } }, { cluster: { operation: 'Remove', match: { name: 'b' } } }] });
    expect(r.proxy?.origins.map((o) => o.policy)).toEqual(['wide', 'specific']);
  });

  it('has no conf when nothing selects the proxy', () => {
    const r = matchPolicies(sidecarView, [], kind);
    expect(r.proxy).toEqual({ origins: [] });
  });

  it('selects a proxy without inbounds by Mesh or Dataplane', () => {
    const bare = proxyViewOf(dataplane('bare', { networking: { address: '1.1.1.1' } }));
    const p = policy('m', { targetRef: { kind: 'Mesh' }, default: { backends: [] } }, {}, 'MeshMetric');
    expect(matchPolicies(bare, [p], { name: 'MeshMetric', singleItem: true }).proxy?.conf).toEqual({ backends: [] });
  });
});

describe('determinism', () => {
  it('returns the same output for any input order', () => {
    const ps = [
      policy('a', { targetRef: { kind: 'Mesh' }, rules: [{ default: { idleTimeout: '1s' } }], to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1s' } }] }),
      policy('b', { targetRef: { kind: 'Mesh' }, rules: [{ default: { idleTimeout: '2s' } }], to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '2s' } }] }),
      policy('c', { targetRef: { kind: 'MeshSubset', tags: { version: 'v1' } }, rules: [{ default: { connectionTimeout: '3s' } }] }),
    ];
    const want = JSON.stringify(matchPolicies(sidecarView, ps, 'MeshTimeout'));
    for (const order of [[2, 1, 0], [1, 0, 2], [0, 2, 1]]) {
      expect(JSON.stringify(matchPolicies(sidecarView, order.map((i) => ps[i]!), 'MeshTimeout'))).toBe(want);
    }
    // Among equal Mesh policies the first name wins.
    expect(matchPolicies(sidecarView, ps, 'MeshTimeout').inbounds[0]!.conf).toEqual({ idleTimeout: '1s', connectionTimeout: '3s' });
  });
});
