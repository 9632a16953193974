import { describe, expect, it } from 'vitest';
import './index.js';
import { computeLabels, kriOf, labelValueErrors, qualifiedNameErrors, validateLabels, validateMeshName, validateName, type ApiContext } from './meta.js';
import type { Labels, Resource } from './resource.js';
import { effectiveListeners } from './zone-proxy.js';

const standalone: ApiContext = { mode: 'standalone', environment: 'universal' };
const zoneCtx: ApiContext = { mode: 'zone', zone: 'zone-1', environment: 'universal' };
const globalCtx: ApiContext = { mode: 'global', environment: 'universal' };

function resource(type: string, spec: Record<string, unknown>, opts: { mesh?: string; name?: string; labels?: Labels } = {}): Resource {
  return {
    type,
    mesh: opts.mesh ?? (type === 'Mesh' || type === 'Zone' ? '' : 'default'),
    name: opts.name ?? 'r-1',
    labels: opts.labels ?? {},
    spec,
    creationTime: '2024-01-01T00:00:00.000Z',
    modificationTime: '2024-01-01T00:00:00.000Z',
    version: 1,
  };
}

const RFC1123 =
  "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

describe('validateName', () => {
  it.each([
    ['', 'cannot be empty'],
    ['a'.repeat(254), 'value length must less or equal 253'],
    ['Upper', RFC1123],
    ['-lead', RFC1123],
    ['trail-', RFC1123],
    ['under_score', RFC1123],
    ['UPPER'.repeat(60), 'value length must less or equal 253'],
  ])('%j → %s', (name, reason) => {
    expect(validateName(name)).toEqual([{ field: 'name', reason }]);
  });

  it.each(['a', 'web-1', 'a.b.c', '1abc', 'a'.repeat(253)])('accepts %j', (name) => {
    expect(validateName(name)).toEqual([]);
  });
});

describe('validateMeshName', () => {
  it.each([
    ['', 'cannot be empty'],
    ['m'.repeat(254), 'value length must less or equal 253'],
    ['Mesh', "invalid characters. Valid characters are numbers, lowercase latin letters and '-', '_', '.' symbols."],
  ])('%j → %s', (mesh, reason) => {
    expect(validateMeshName(mesh)).toEqual([{ field: 'mesh', reason }]);
  });
  it.each(['default', 'my_mesh', 'a.b-c', '-odd-but-legal'])('accepts %j', (mesh) => {
    expect(validateMeshName(mesh)).toEqual([]);
  });
});

describe('label syntax (Kubernetes rules)', () => {
  it('accepts qualified names', () => {
    for (const k of ['app', 'kuma.io/zone', 'a.b/C_d-e', 'x'.repeat(63)]) expect(qualifiedNameErrors(k)).toEqual([]);
  });

  it.each([
    ['', ['name part must be non-empty', expect.stringMatching(/^name part must consist of/)]],
    ['/x', ['prefix part must be non-empty']],
    ['a/b/c', [expect.stringMatching(/^a qualified name must consist of .* with an optional DNS subdomain prefix and '\/' \(e\.g\. 'example\.com\/MyName'\)$/)]],
    ['x'.repeat(64), ['name part must be no more than 63 characters']],
    ['-x', [expect.stringMatching(/^name part must consist of alphanumeric characters/)]],
    ['Bad_Prefix/x', [expect.stringMatching(/^prefix part a lowercase RFC 1123 subdomain must consist of/)]],
  ])('key %j', (k, errs) => {
    expect(qualifiedNameErrors(k)).toEqual(errs);
  });

  it('renders the Kubernetes label value message exactly', () => {
    expect(labelValueErrors('-bad')).toEqual([
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]);
    expect(labelValueErrors('v'.repeat(64))).toEqual(['must be no more than 63 characters']);
    expect(labelValueErrors('')).toEqual([]);
  });

  it('reports each bad key and value at labels["key"], keys sorted', () => {
    const r = resource('Mesh', {}, { name: 'm', labels: { 'z/': 'ok', a: 'bad value' } });
    const fields = validateLabels(r, standalone).map((v) => v.field);
    // An empty name part fails both the emptiness and the pattern check, as in Kubernetes.
    expect(fields).toEqual(['labels["a"]', 'labels["z/"]', 'labels["z/"]']);
  });
});

describe('label consistency rules', () => {
  it.each<[string, Labels, ApiContext, string[]]>([
    ['unknown origin', { 'kuma.io/origin': 'mars' }, standalone, ['labels["kuma.io/origin"]: unknown resource origin "mars"']],
    ['global CP needs origin global', { 'kuma.io/origin': 'zone' }, globalCtx, ["labels[\"kuma.io/origin\"]: the origin label must be set to 'global'"]],
    ['zone label must be the local zone', { 'kuma.io/zone': 'other' }, zoneCtx, ['labels["kuma.io/zone"]: kuma.io/zone label should have zone-1 value']],
    ['zone label of a global-origin resource is not checked', { 'kuma.io/zone': 'other', 'kuma.io/origin': 'global' }, zoneCtx, []],
    ['mesh label must match', { 'kuma.io/mesh': 'other' }, standalone, ['labels["kuma.io/mesh"]: kuma.io/mesh label must not differ from mesh set on resource']],
    ['user workload must be DNS-1035', { 'kuma.io/workload': '1abc' }, standalone, [expect.stringMatching(/^labels\["kuma.io\/workload"\]: must be a valid DNS-1035 label \(at most 63 characters, matching regex \[a-z\]\(\[-a-z0-9\]\*\[a-z0-9\]\)\?\): a DNS-1035 label must consist/) as unknown as string]],
  ])('%s', (_name, labels, ctx, expected) => {
    const r = resource('Dataplane', { networking: {} }, { labels });
    expect(validateLabels(r, ctx).map((v) => `${v.field}: ${v.reason}`)).toEqual(expected);
  });

  it('skips the origin and zone rules for synced writes', () => {
    const fromOtherZone = resource('Dataplane', { networking: {} }, { labels: { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-2' } });
    expect(validateLabels(fromOtherZone, zoneCtx).map((v) => v.reason)).toEqual(['kuma.io/zone label should have zone-1 value']);
    expect(validateLabels(fromOtherZone, { ...zoneCtx, synced: true })).toEqual([]);
    expect(validateLabels(fromOtherZone, { ...globalCtx, synced: true })).toEqual([]);
  });

  it('federated zone requires origin zone on plugin kinds only', () => {
    const fed: ApiContext = { ...zoneCtx, federated: true };
    const dp = resource('Dataplane', {}, { labels: {} });
    expect(validateLabels(dp, fed)).toEqual([]);
  });
});

describe('computeLabels', () => {
  it('adds kuma.io/mesh to mesh-scoped kinds only, keeping an existing value', () => {
    expect(computeLabels(resource('Secret', { data: 'YQ==' }), standalone)).toEqual({ 'kuma.io/mesh': 'default' });
    expect(computeLabels(resource('Secret', {}, { labels: { 'kuma.io/mesh': 'x' } }), standalone)).toEqual({ 'kuma.io/mesh': 'x' });
    expect(computeLabels(resource('Mesh', {}), standalone)).toEqual({});
  });

  it('adds origin, zone and env on a zone CP for kinds provided by zones', () => {
    expect(computeLabels(resource('Secret', {}), zoneCtx)).toEqual({
      'kuma.io/mesh': 'default',
      'kuma.io/origin': 'zone',
      'kuma.io/zone': 'zone-1',
      'kuma.io/env': 'universal',
    });
    expect(computeLabels(resource('Mesh', {}), zoneCtx)).toEqual({});
  });

  it('adds origin global on a global CP for kinds provided by global, keeping a synced origin', () => {
    expect(computeLabels(resource('Secret', {}), globalCtx)).toEqual({ 'kuma.io/mesh': 'default', 'kuma.io/origin': 'global' });
    expect(computeLabels(resource('Mesh', {}), globalCtx)).toEqual({ 'kuma.io/origin': 'global' });
    // A Dataplane on global only arrives by sync from a zone, with the zone's labels.
    const synced = resource('Dataplane', { networking: { address: '10.0.0.1' } }, { labels: { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'z1' } });
    expect(computeLabels(synced, globalCtx)).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': 'z1' });
  });

  it('keeps existing origin and skips zone/env for global-origin resources', () => {
    const labels = computeLabels(resource('Secret', {}, { labels: { 'kuma.io/origin': 'global' } }), zoneCtx);
    expect(labels).toEqual({ 'kuma.io/mesh': 'default', 'kuma.io/origin': 'global' });
  });

  it('labels a sidecar and a gateway by proxy type, replacing a wrong user value', () => {
    const sidecar = resource('Dataplane', { networking: { address: '10.0.0.1' } }, { labels: { 'kuma.io/proxy-type': 'gateway' } });
    expect(computeLabels(sidecar, standalone)['kuma.io/proxy-type']).toBe('sidecar');
    const gw = resource('Dataplane', { networking: { address: '10.0.0.1', gateway: { tags: { 'kuma.io/service': 'gw' } } } });
    expect(computeLabels(gw, standalone)['kuma.io/proxy-type']).toBe('gateway');
  });

  it.each([
    ['ingress', { 'kuma.io/listener-zoneingress': 'enabled' }],
    ['egress', { 'kuma.io/listener-zoneegress': 'enabled' }],
    ['all', { 'kuma.io/listener-zoneingress': 'enabled', 'kuma.io/listener-zoneegress': 'enabled' }],
  ])('zone proxy role %s: workload and listener labels', (role, listenerLabels) => {
    const zp = resource(
      'Dataplane',
      { networking: { address: '10.0.0.5' } },
      { mesh: 'payments', labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': role, 'kuma.io/workload': 'spoofed' } },
    );
    expect(computeLabels(zp, standalone)).toEqual({
      'kuma.io/mesh': 'payments',
      'kuma.io/proxy-type': 'zoneproxy',
      'kuma.io/zone-proxy-role': role,
      'kuma.io/workload': `zone-proxy-payments-${role}`,
      ...listenerLabels,
    });
  });

  it('removes listener labels that do not apply, even if the user set them', () => {
    const sidecar = resource(
      'Dataplane',
      { networking: { address: '10.0.0.1' } },
      { labels: { 'kuma.io/listener-zoneingress': 'enabled', 'kuma.io/listener-zoneegress': 'enabled' } },
    );
    const labels = computeLabels(sidecar, standalone);
    expect(labels['kuma.io/listener-zoneingress']).toBeUndefined();
    expect(labels['kuma.io/listener-zoneegress']).toBeUndefined();
  });

  it('derives listener labels from networking.listeners of a non zone-proxy Dataplane', () => {
    const dp = resource('Dataplane', { networking: { address: '10.0.0.1', listeners: [{ type: 'ZoneEgress', address: '10.0.0.1', port: 9000 }] } });
    const labels = computeLabels(dp, standalone);
    expect(labels['kuma.io/listener-zoneegress']).toBe('enabled');
    expect(labels['kuma.io/listener-zoneingress']).toBeUndefined();
  });
});

describe('effectiveListeners', () => {
  const zp = (role: string, listeners?: unknown[]) =>
    resource('Dataplane', { networking: { address: '10.0.0.5', ...(listeners ? { listeners } : {}) } }, {
      labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': role },
    });

  it('defaults ports 10001 / 10002 and names them by port', () => {
    expect(effectiveListeners(zp('all'))).toEqual([
      { type: 'ZoneIngress', address: '10.0.0.5', port: 10001, name: '10001', state: 'Ready' },
      { type: 'ZoneEgress', address: '10.0.0.5', port: 10002, name: '10002', state: 'Ready' },
    ]);
  });

  it('lets networking.listeners override port, name and address per type', () => {
    expect(effectiveListeners(zp('all', [{ type: 'ZoneEgress', port: 20002, name: 'ze-main', address: '10.0.0.6' }]))).toEqual([
      { type: 'ZoneIngress', address: '10.0.0.5', port: 10001, name: '10001', state: 'Ready' },
      { type: 'ZoneEgress', address: '10.0.0.6', port: 20002, name: 'ze-main', state: 'Ready', index: 0 },
    ]);
  });

  it('drops listeners the role does not allow, and has none for an unknown role', () => {
    expect(effectiveListeners(zp('ingress', [{ type: 'ZoneEgress', port: 20002 }])).map((l) => l.type)).toEqual(['ZoneIngress']);
    expect(effectiveListeners(zp('sideways'))).toEqual([]);
  });
});

describe('kriOf', () => {
  it('follows Kuma examples', () => {
    expect(kriOf(resource('Mesh', {}, { name: 'default' }))).toBe('kri_m____default_');
    expect(kriOf(resource('Dataplane', {}, { name: 'dp-1' }))).toBe('kri_dp_default___dp-1_');
    expect(kriOf(resource('Dataplane', {}, { name: 'dp-1', labels: { 'kuma.io/zone': 'default' } }))).toBe('kri_dp_default_default__dp-1_');
    expect(kriOf(resource('Secret', {}))).toBeUndefined();
  });
});
