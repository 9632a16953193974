import { describe, expect, it } from 'vitest';
import { requireDescriptor, validateResource, type ApiContext } from './index.js';
import type { Resource } from './resource.js';

const ctx: ApiContext = { mode: 'standalone', environment: 'universal' };

function mesh(spec: Record<string, unknown>): Resource {
  return { type: 'Mesh', mesh: '', name: 'default', labels: {}, spec, creationTime: '', modificationTime: '', version: 0 };
}

function problems(spec: Record<string, unknown>): string[] {
  return validateResource(mesh(spec), ctx).map((v) => `${v.field}: ${v.reason}`);
}

const builtin = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'builtin', ...extra });

describe('Mesh validation', () => {
  it('accepts every field of SKEIN-SPEC §1', () => {
    expect(
      problems({
        mtls: {
          enabledBackend: 'ca-1',
          backends: [builtin('ca-1', { dpCert: { rotation: { expiration: '1d' } }, mode: 'PERMISSIVE', rootChain: { requestTimeout: '10s' }, conf: { caCert: { RSAbits: 2048, expiration: '10y' } } })],
          skipValidation: false,
        },
        networking: { outbound: { passthrough: false } },
        routing: { zoneEgress: true, localityAwareLoadBalancing: true, defaultForbidMeshExternalServiceAccess: true },
        constraints: { dataplaneProxy: { requirements: [{ tags: { 'kuma.io/zone': '*' } }], restrictions: [{ tags: { team: 'legacy' } }] } },
        skipCreatingInitialPolicies: ['*'],
        meshServices: { mode: 'Exclusive' },
      }),
    ).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['more than one CA backend', { mtls: { backends: [builtin('a'), builtin('b')] } }, ['mtls.backends: cannot have more than 1 backends']],
    [
      'duplicate CA backend',
      { mtls: { backends: [builtin('a'), builtin('a')] } },
      ['mtls.backends: cannot have more than 1 backends', 'mtls.backends[1].name: "a" name is already used for another backend'],
    ],
    ['bad dpCert expiration', { mtls: { backends: [builtin('a', { dpCert: { rotation: { expiration: '1 day' } } })] } }, ['mtls.dpcert.rotation.expiration: has to be a valid format']],
    ['dpCert without rotation', { mtls: { backends: [builtin('a', { dpCert: {} })] } }, ['mtls.dpcert.rotation.expiration: has to be a valid format']],
    ['dpCert expiration 0', { mtls: { backends: [builtin('a', { dpCert: { rotation: { expiration: '0' } } })] } }, []],
    ['enabledBackend unknown', { mtls: { enabledBackend: 'b', backends: [builtin('a')] } }, ['mtls.enabledBackend: has to be set to one of the backends in the mesh']],
    ['unknown CA type', { mtls: { backends: [{ name: 'a', type: 'vault' }] } }, ['mtls.backends[0].type: could not find installed plugin for this type']],
    [
      'provided CA without cert and key',
      { mtls: { backends: [{ name: 'a', type: 'provided', conf: { cert: { secret: 's' }, key: {} } }] } },
      ['mtls.backends[0].conf.key: data source has to be chosen. Available sources: secret, file, inline, inlineString'],
    ],
    [
      'provided CA missing conf',
      { mtls: { backends: [{ name: 'a', type: 'provided' }] } },
      ['mtls.backends[0].conf.cert: has to be defined', 'mtls.backends[0].conf.key: has to be defined'],
    ],
    ['provided CA with skipValidation', { mtls: { skipValidation: true, backends: [{ name: 'a', type: 'provided' }] } }, []],
    ['zoneEgress without mTLS', { routing: { zoneEgress: true } }, ['mtls: has to be set when zoneEgress enabled']],
    [
      'logging backends',
      {
        logging: {
          defaultBackend: 'nope',
          backends: [
            { name: '', type: 'file', conf: {} },
            { name: 'tcp', type: 'tcp', conf: { address: 'no-port' } },
            { name: 'tcp', type: 'tcp', conf: {} },
            { name: 'x', type: 'syslog' },
          ],
        },
      },
      [
        'logging.backends[0].name: cannot be empty',
        'logging.backends[0].config.path: cannot be empty',
        'logging.backends[1].config.address: has to be in format of HOST:PORT',
        'logging.backends[2].config.address: cannot be empty',
        'logging.backends[3].type: unknown backend type. Available backends: "tcp", "file"',
        'logging.backends[2].name: "tcp" name is already used for another backend',
        'logging.defaultBackend: has to be set to one of the logging backend in mesh',
      ],
    ],
    ['valid logging', { logging: { defaultBackend: 'f', backends: [{ name: 'f', type: 'file', conf: { path: '/tmp/log' } }, { name: 't', type: 'tcp', conf: { address: 'logs:5000' } }] } }, []],
    [
      'tracing backends',
      {
        tracing: {
          defaultBackend: 'nope',
          backends: [
            { name: 'z1', type: 'zipkin', sampling: 101, conf: {} },
            { name: 'z2', type: 'zipkin', conf: { url: 'http://zipkin/api/v2/spans', apiVersion: 'v9' } },
            { name: 'z3', type: 'zipkin', conf: { url: 'not a url' } },
            { name: 'd1', type: 'datadog', conf: { port: 0 } },
            { name: 'j', type: 'jaeger' },
          ],
        },
      },
      [
        'tracing.backends[0].sampling: has to be in [0.0 - 100.0] range',
        'tracing.backends[0].config.url: cannot be empty',
        'tracing.backends[1].config.url: port has to be explicitly specified',
        'tracing.backends[1].config.apiVersion: has invalid value. Allowed values: httpJsonV1, httpJson, httpProto',
        'tracing.backends[2].config.url: invalid URL',
        'tracing.backends[3].config.address: cannot be empty',
        'tracing.backends[3].config.port: port must be in the range [1, 65535]',
        'tracing.backends[4].type: unknown backend type. Available backends: "zipkin", "datadog"',
        'tracing.defaultBackend: has to be set to one of the tracing backend in mesh',
      ],
    ],
    ['valid zipkin', { tracing: { backends: [{ name: 'z', type: 'zipkin', sampling: 50, conf: { url: 'http://zipkin:9411/api/v2/spans' } }] } }, []],
    [
      'metrics backends',
      {
        metrics: {
          enabledBackend: 'nope',
          backends: [
            { name: 'p', type: 'prometheus', conf: { skipMTLS: false, tls: { mode: 'disabled' }, envoy: { filterRegex: '(' } } },
            { name: 'p', type: 'statsd' },
          ],
        },
      },
      [
        'metrics.backends[1].name: "p" name is already used for another backend',
        'metrics.backends[0].conf: skipMTLS and tls configuration cannot be defined together',
        expect.stringMatching(/^metrics\.backends\[0\]\.conf\.envoy\.filterRegex: provided regexp isn't correct: /) as unknown as string,
        'metrics.backends[1].type: unknown backend type. Available backends: "prometheus"',
        'metrics.enabledBackend: has to be set to one of the backends in the mesh',
      ],
    ],
    [
      'constraints',
      { constraints: { dataplaneProxy: { requirements: [{ tags: {} }, { tags: { '': 'x' } }], restrictions: [{ tags: { 'a b': '', c: 'd e' } }] } } },
      [
        'constraints.dataplaneProxy.requirements[0].tags: must have at least one tag',
        'constraints.dataplaneProxy.requirements[1].tags: tag name must be non-empty',
        'constraints.dataplaneProxy.restrictions[0].tags: tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores',
        'constraints.dataplaneProxy.restrictions[0].tags: tag value must be non-empty',
        'constraints.dataplaneProxy.restrictions[0].tags: tag value must consist of alphanumeric characters, dots, dashes, slashes and underscores or be "*"',
      ],
    ],
    ['meshServices mode enum', { meshServices: { mode: 'Sometimes' } }, ['meshServices.mode: in body should be one of [Disabled Everywhere ReachableBackends Exclusive]']],
    ['mtls mode enum', { mtls: { backends: [builtin('a', { mode: 'LAX' })] } }, ['mtls.backends[0].mode: in body should be one of [STRICT PERMISSIVE]']],
    ['unknown field', { mtls: { enabled: true } }, ['mtls.enabled: unknown field "enabled"']],
    ['wrong type', { routing: { zoneEgress: 'yes' } }, ['routing.zoneEgress: must be a boolean']],
  ])('%s', (_name, spec, expected) => {
    expect(problems(spec)).toEqual(expected);
  });
});

describe('Mesh defaults', () => {
  const applyDefaults = (spec: Record<string, unknown>) => requireDescriptor('Mesh').applyDefaults!(structuredClone(spec));

  it('fills a Prometheus backend', () => {
    expect(applyDefaults({ metrics: { backends: [{ name: 'p', type: 'prometheus' }] } })).toEqual({
      metrics: {
        backends: [
          { name: 'p', type: 'prometheus', conf: { port: 5670, path: '/metrics', tags: { 'kuma.io/service': 'dataplane-metrics' }, tls: { mode: 'activeMTLSBackend' } } },
        ],
      },
    });
  });

  it.each<[Record<string, unknown>, Record<string, unknown>]>([
    [{ skipMTLS: true }, { skipMTLS: true, tls: { mode: 'disabled' } }],
    [{ skipMTLS: false }, { skipMTLS: false, tls: { mode: 'activeMTLSBackend' } }],
    [{ skipMTLS: true, tls: { mode: 'providedTLS' } }, { tls: { mode: 'providedTLS' } }],
  ])('TLS mode from %j', (conf, expected) => {
    const out = applyDefaults({ metrics: { backends: [{ name: 'p', type: 'prometheus', conf: { port: 1234, path: '/m', tags: { a: 'b' }, ...conf } }] } });
    expect((out['metrics'] as { backends: { conf: unknown }[] }).backends[0]!.conf).toEqual({ port: 1234, path: '/m', tags: { a: 'b' }, ...expected });
  });

  it('is idempotent and leaves other meshes alone', () => {
    const once = applyDefaults({ metrics: { backends: [{ name: 'p', type: 'prometheus' }] } });
    expect(applyDefaults(once)).toEqual(once);
    expect(applyDefaults({})).toEqual({});
  });
});
