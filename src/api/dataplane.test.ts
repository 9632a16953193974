import { describe, expect, it } from 'vitest';
import { validateResource, type ApiContext } from './index.js';
import { computeLabels } from './meta.js';
import type { Labels, Resource } from './resource.js';

const ctx: ApiContext = { mode: 'standalone', environment: 'universal' };

/** A Dataplane with computed labels, as the core validates it. */
function dataplane(networking: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}, labels: Labels = {}): Resource {
  const r: Resource = {
    type: 'Dataplane',
    mesh: 'default',
    name: 'dp-1',
    labels,
    spec: { ...(networking ? { networking } : {}), ...extra },
    creationTime: '',
    modificationTime: '',
    version: 0,
  };
  r.labels = computeLabels(r, ctx);
  return r;
}

const svc = { 'kuma.io/service': 'web' };
const inbound = (o: Record<string, unknown> = {}) => ({ port: 8080, tags: svc, ...o });
const base = (o: Record<string, unknown> = {}) => ({ address: '10.0.0.1', inbound: [inbound()], ...o });
const zoneProxy = (role: string) => ({ 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': role });

function problems(r: Resource): string[] {
  return validateResource(r, ctx).map((v) => `${v.field}: ${v.reason}`);
}

describe('Dataplane validation', () => {
  it('accepts a typical sidecar', () => {
    const dp = dataplane(
      base({
        outbound: [{ port: 10001, tags: { 'kuma.io/service': 'db' } }, { port: 10002, backendRef: { kind: 'MeshService', name: 'db', port: 5432 } }],
        admin: { port: 9901 },
        transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001, reachableBackends: { refs: [{ kind: 'MeshService', name: 'db' }] } },
      }),
      { probes: { port: 9000, endpoints: [{ inboundPort: 8080, inboundPath: '/health', path: '/8080/health' }] } },
    );
    expect(problems(dp)).toEqual([]);
  });

  it.each<[string, Record<string, unknown> | undefined, Record<string, unknown>, string[]]>([
    ['no networking', undefined, {}, ['networking: must be defined']],
    ['no inbound, gateway or listener', { address: '10.0.0.1' }, {}, ['networking: has to contain at least one inbound interface or gateway']],
    ['empty address', base({ address: '' }), {}, ["networking.address: address can't be empty"]],
    ['0.0.0.0 address', base({ address: '0.0.0.0' }), {}, ['networking.address: must not be 0.0.0.0 or ::']],
    ['bad address', base({ address: 'not an address!' }), {}, ['networking.address: address has to be valid IP address or domain name']],
    ['domain address is fine', base({ address: 'web.internal' }), {}, []],
    ['advertisedPort without advertisedAddress', base({ advertisedPort: 80 }), {}, ['networking.advertisedAddress: has to be defined with advertisedPort']],
    ['bad advertisedPort', base({ advertisedAddress: '1.2.3.4', advertisedPort: 70000 }), {}, ['networking.advertisedPort: port must be in the range [1, 65535]']],
    ['admin port = inbound port', base({ admin: { port: 8080 } }), {}, ['networking.admin.port: must differ from inbound']],
    [
      'admin port = local outbound port',
      base({ admin: { port: 9901 }, outbound: [{ port: 9901, tags: svc }] }),
      {},
      ['networking.admin.port: must differ from outbound'],
    ],
    ['inbound port out of range', base({ inbound: [inbound({ port: 0 })] }), {}, ['networking.inbound[0].port: port must be in the range [1, 65535]']],
    ['servicePort out of range', base({ inbound: [inbound({ servicePort: 70000 })] }), {}, ['networking.inbound[0].servicePort: port must be in the range [1, 65535]']],
    ['serviceAddress not IP', base({ inbound: [inbound({ serviceAddress: 'x.y' })] }), {}, ['networking.inbound[0].serviceAddress: serviceAddress has to be valid IP address']],
    [
      'serviceAddress = address, same port',
      base({ inbound: [inbound({ serviceAddress: '10.0.0.1' })] }),
      {},
      ['networking.inbound[0].serviceAddress: serviceAddress and servicePort has to differ from address and port'],
    ],
    ['serviceAddress = address, other port', base({ inbound: [inbound({ serviceAddress: '10.0.0.1', servicePort: 8081 })] }), {}, []],
    ['inbound address not IP', base({ inbound: [inbound({ address: 'foo' })] }), {}, ['networking.inbound[0].address: address has to be valid IP address']],
    [
      'bad protocol tag',
      base({ inbound: [inbound({ tags: { ...svc, 'kuma.io/protocol': 'smtp' } })] }),
      {},
      ['networking.inbound[0].tags["kuma.io/protocol"]: tag "kuma.io/protocol" has an invalid value "smtp". Allowed values: grpc, http, http2, kafka, tcp'],
    ],
    [
      'bad protocol field',
      base({ inbound: [inbound({ protocol: 'smtp' })] }),
      {},
      ['networking.inbound[0].protocol: has an invalid value "smtp". Allowed values: grpc, http, http2, kafka, tcp'],
    ],
    [
      'tag rules',
      base({ inbound: [inbound({ tags: { ...svc, version: '', 'bad key!': 'v', ok: 'bad/value' } })] }),
      {},
      [
        'networking.inbound[0].tags["bad key!"]: tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores',
        'networking.inbound[0].tags["ok"]: tag value must consist of alphanumeric characters, dots, dashes and underscores',
        'networking.inbound[0].tags["version"]: tag value must be non-empty',
      ],
    ],
    ['tags without service', base({ inbound: [inbound({ tags: { version: 'v1' } })] }), {}, ['networking.inbound[0].tags["kuma.io/service"]: tag has to exist']],
    ['inbound without tags is valid', base({ inbound: [{ port: 8080 }] }), {}, []],
    [
      'service probe',
      base({ inbound: [inbound({ serviceProbe: { interval: '0s', timeout: 'soon', healthyThreshold: 0, unhealthyThreshold: 1 } })] }),
      {},
      [
        'networking.inbound[0].serviceProbe.interval: must have a positive value',
        'networking.inbound[0].serviceProbe.timeout: must have a valid value',
        'networking.inbound[0].serviceProbe.healthyThreshold: must have a positive value',
      ],
    ],
    ['outbound port', base({ outbound: [{ port: 0, tags: svc }] }), {}, ['networking.outbound[0].port: port must be in the range [1, 65535]']],
    ['outbound address', base({ outbound: [{ port: 1, address: 'x', tags: svc }] }), {}, ['networking.outbound[0].address: address has to be valid IP address']],
    ['outbound without service', base({ outbound: [{ port: 1 }] }), {}, ['networking.outbound[0].tags: mandatory tag "kuma.io/service" is missing']],
    [
      'backendRef rules',
      base({ outbound: [{ port: 1, tags: svc, backendRef: { kind: 'Pod', port: 0 } }] }),
      {},
      [
        'networking.outbound[0].backendRef.kind: invalid value. Available values are: MeshExternalService,MeshMultiZoneService,MeshService',
        "networking.outbound[0].backendRef: either 'name' or 'labels' should be specified",
        'networking.outbound[0].backendRef.port: port must be in the range [1, 65535]',
        'networking.outbound[0].backendRef: both backendRef and tags/service cannot be defined',
      ],
    ],
    ['MeshExternalService backendRef needs no port', base({ outbound: [{ port: 1, backendRef: { kind: 'MeshExternalService', name: 'ext' } }] }), {}, []],
    [
      'reachable backends',
      base({
        transparentProxying: {
          reachableBackends: {
            refs: [{ kind: 'Foo', name: 'Bad_Name', labels: { a: 'b' } }, { kind: 'MeshService' }, { kind: 'MeshService', namespace: 'ns' }],
          },
        },
      }),
      {},
      [
        'networking.transparentProxing.reachableBackends.refs[0].kind: invalid value. Available values are: MeshExternalService,MeshMultiZoneService,MeshService',
        "networking.transparentProxing.reachableBackends.refs[0].name: invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        'networking.transparentProxing.reachableBackends.refs[0].labels: labels cannot be defined when name is specified',
        'networking.transparentProxing.reachableBackends.refs[1]: name or labels are required',
        'networking.transparentProxing.reachableBackends.refs[2]: name is required, when namespace is defined',
      ],
    ],
    [
      'delegated gateway',
      { address: '10.0.0.1', inbound: [inbound()], listeners: [{ type: 'ZoneIngress', address: '10.0.0.1', port: 1 }], gateway: { tags: { 'kuma.io/protocol': 'http' } } },
      {},
      [
        'networking.inbound: inbound cannot be defined for delegated gateways',
        'networking.listeners: listeners cannot be defined for delegated gateways',
        'networking.gateway.tags: mandatory tag "kuma.io/service" is missing',
        'networking.gateway.tags["kuma.io/protocol"]: other values than tcp are not allowed, provided value "http"',
      ],
    ],
    [
      'builtin gateway',
      { address: '10.0.0.1', inbound: [inbound()], outbound: [{ port: 1, tags: svc }], gateway: { type: 'BUILTIN', tags: svc } },
      { probes: { port: 9000 } },
      [
        'networking.inbound: inbound cannot be defined for builtin gateways',
        'networking.outbound: outbound cannot be defined for builtin gateways',
        'networking.probes: probes cannot be defined for builtin gateways',
      ],
    ],
    [
      'listeners',
      base({
        inbound: [inbound({ name: 'main' })],
        listeners: [
          { type: 'Unspecified', address: '', port: 0 },
          { type: 'ZoneIngress', address: '10.0.0.1', port: 10001, name: 'main' },
          { type: 'ZoneIngress', address: '10.0.0.1', port: 10001 },
          { type: 'ZoneEgress', address: '10.0.0.1', port: 10001 },
          { type: 'ZoneEgress', address: '10.0.0.1', port: 8080 },
        ],
      }),
      {},
      [
        'networking.listeners[0].type: type must be ZoneIngress or ZoneEgress',
        "networking.listeners[0].address: address can't be empty",
        'networking.listeners[0].port: port must be in the range [1, 65535]',
        'networking.listeners[1].name: name "main" must be unique across inbounds and listeners',
        'networking.listeners[2]: address:port 10.0.0.1:10001 is already used by another listener',
        'networking.listeners[3]: address:port 10.0.0.1:10001 is used by listeners of different types',
        'networking.listeners[4]: address:port 10.0.0.1:8080 collides with an inbound listener',
      ],
    ],
    [
      'probes',
      base(),
      { probes: { port: 0, endpoints: [{ inboundPort: 70000, inboundPath: 'health', path: '/ok' }] } },
      [
        'probes.port: port must be in the range [1, 65535]',
        'probes.endpoints[0].inboundPort: port must be in the range [1, 65535]',
        'probes.endpoints[0].inboundPath: should be a valid URL Path',
      ],
    ],
    ['metrics backend type', base(), { metrics: { name: 'm', type: 'statsd' } }, ['metrics.type: unknown backend type. Available backends: "prometheus"']],
    [
      'metrics conf',
      base(),
      { metrics: { type: 'prometheus', conf: { skipMTLS: true, tls: { mode: 'activeMTLSBackend' }, aggregate: [{ name: 'a' }, { name: 'a' }] } } },
      ['metrics.conf: skipMTLS and tls configuration cannot be defined together', 'metrics.conf.aggregate[1].name: duplicate entry: a, values have to be unique'],
    ],
  ])('%s', (_name, networking, extra, expected) => {
    expect(problems(dataplane(networking, extra))).toEqual(expected);
  });

  it('collects violations from every section at once', () => {
    const dp = dataplane(base({ address: '', inbound: [inbound({ port: 0 })], outbound: [{ port: 0, tags: svc }] }));
    expect(problems(dp)).toEqual([
      "networking.address: address can't be empty",
      'networking.inbound[0].port: port must be in the range [1, 65535]',
      'networking.outbound[0].port: port must be in the range [1, 65535]',
    ]);
  });
});

describe('zone proxy Dataplanes', () => {
  it.each(['ingress', 'egress', 'all'])('role %s needs no inbounds', (role) => {
    expect(problems(dataplane({ address: '10.0.0.5' }, {}, zoneProxy(role)))).toEqual([]);
  });

  it.each<[string, Labels, Record<string, unknown>, string[]]>([
    ['missing role', { 'kuma.io/proxy-type': 'zoneproxy' }, { address: '10.0.0.5' }, ['labels["kuma.io/zone-proxy-role"]: cannot be empty']],
    [
      'unknown role',
      zoneProxy('both'),
      { address: '10.0.0.5' },
      ['labels["kuma.io/zone-proxy-role"]: invalid value "both". Available values are: ingress, egress, all'],
    ],
    [
      'listener type outside the role',
      zoneProxy('ingress'),
      { address: '10.0.0.5', listeners: [{ type: 'ZoneEgress', port: 10002 }] },
      ['networking.listeners[0].type: type ZoneEgress is not allowed for zone proxy role "ingress"'],
    ],
    ['listener may omit address and port', zoneProxy('all'), { address: '10.0.0.5', listeners: [{ type: 'ZoneIngress', name: 'zi' }] }, []],
    [
      'declared listener collides with a default one',
      zoneProxy('all'),
      { address: '10.0.0.5', listeners: [{ type: 'ZoneIngress', port: 10002 }] },
      ['networking.listeners[0]: address:port 10.0.0.5:10002 is used by listeners of different types'],
    ],
    [
      'default listener collides with an inbound',
      zoneProxy('ingress'),
      { address: '10.0.0.5', inbound: [inbound({ port: 10001 })] },
      ['networking.listeners: address:port 10.0.0.5:10001 collides with an inbound listener'],
    ],
    ['admin port = listener port', zoneProxy('egress'), { address: '10.0.0.5', admin: { port: 10002 } }, ['networking.admin.port: must differ from listener']],
    ['gateway', zoneProxy('all'), { address: '10.0.0.5', gateway: { tags: svc } }, ['networking.gateway: gateway cannot be defined for zone proxies']],
  ])('%s', (_name, labels, networking, expected) => {
    expect(problems(dataplane(networking, {}, labels))).toEqual(expected);
  });
});
