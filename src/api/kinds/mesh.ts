// Mesh (api/mesh/v1alpha1/mesh.proto, Kuma v2.14): the parent of every mesh-scoped resource.
import type { ResourceDescriptor } from '../descriptor.js';
import { Violations, type Resource, type Violation } from '../resource.js';
import { checkSelectorTags, checkUniqueBackendNames, isDomainName, isIpAddress } from '../rules.js';
import { anyObject, arrayOf, boolean, duration, number, object, oneOfValues, string, stringMap } from '../schema.js';
import { checkMetricsBackend, defaultPrometheusBackend, metricsBackendSchema, type MetricsBackend } from './metrics-backend.js';

interface DataSource {
  secret?: string;
  file?: string;
  inline?: string;
  inlineString?: string;
}

export interface CaBackend {
  name?: string;
  type?: string;
  dpCert?: { rotation?: { expiration?: string }; requestTimeout?: string };
  conf?: Record<string, unknown>;
  mode?: 'STRICT' | 'PERMISSIVE';
  rootChain?: { requestTimeout?: string };
}

interface NamedBackend {
  name?: string;
  type?: string;
  conf?: Record<string, unknown>;
}

export interface MeshSpec {
  mtls?: { enabledBackend?: string; backends?: CaBackend[]; skipValidation?: boolean };
  logging?: { defaultBackend?: string; backends?: (NamedBackend & { format?: string })[] };
  tracing?: { defaultBackend?: string; backends?: (NamedBackend & { sampling?: number })[] };
  metrics?: { enabledBackend?: string; backends?: MetricsBackend[] };
  networking?: { outbound?: { passthrough?: boolean } };
  routing?: { localityAwareLoadBalancing?: boolean; zoneEgress?: boolean; defaultForbidMeshExternalServiceAccess?: boolean };
  constraints?: { dataplaneProxy?: { requirements?: { tags?: Record<string, string> }[]; restrictions?: { tags?: Record<string, string> }[] } };
  skipCreatingInitialPolicies?: string[];
  meshServices?: { mode?: 'Disabled' | 'Everywhere' | 'ReachableBackends' | 'Exclusive' };
}

const caBackendSchema = object({
  name: string,
  type: string,
  dpCert: object({ rotation: object({ expiration: string }), requestTimeout: duration }),
  conf: anyObject,
  mode: oneOfValues(['STRICT', 'PERMISSIVE']),
  rootChain: object({ requestTimeout: duration }),
});

const selector = object({ tags: stringMap });

const schema = object({
  mtls: object({ enabledBackend: string, backends: arrayOf(caBackendSchema), skipValidation: boolean }),
  logging: object({
    defaultBackend: string,
    backends: arrayOf(object({ name: string, format: string, type: string, conf: anyObject })),
  }),
  tracing: object({
    defaultBackend: string,
    backends: arrayOf(object({ name: string, sampling: number, type: string, conf: anyObject })),
  }),
  metrics: object({ enabledBackend: string, backends: arrayOf(metricsBackendSchema) }),
  networking: object({ outbound: object({ passthrough: boolean }) }),
  routing: object({ localityAwareLoadBalancing: boolean, zoneEgress: boolean, defaultForbidMeshExternalServiceAccess: boolean }),
  constraints: object({ dataplaneProxy: object({ requirements: arrayOf(selector), restrictions: arrayOf(selector) }) }),
  skipCreatingInitialPolicies: arrayOf(string),
  meshServices: object({ mode: oneOfValues(['Disabled', 'Everywhere', 'ReachableBackends', 'Exclusive']) }),
});

// A CA backend's `conf` is a free-form Struct whose shape depends on `type`; the provided CA's
// required fields are checked below (unless `mtls.skipValidation`).
const DP_CERT_EXPIRATION = /^(\d+)(y|w|d|h|m|s|ms)$/;
const CA_TYPES = ['builtin', 'provided'];

function validateMtls(v: Violations, mtls: NonNullable<MeshSpec['mtls']>): void {
  const backends = mtls.backends ?? [];
  if (backends.length > 1) v.add('mtls.backends', 'cannot have more than 1 backends');
  checkUniqueBackendNames(v, 'mtls.backends', backends);
  backends.forEach((b, i) => {
    if (b.dpCert) {
      const exp = b.dpCert.rotation?.expiration ?? '';
      if (exp !== '0' && !DP_CERT_EXPIRATION.test(exp)) v.add('mtls.dpcert.rotation.expiration', 'has to be a valid format');
    }
    const at = `mtls.backends[${i}]`;
    if (!CA_TYPES.includes(b.type ?? '')) {
      v.add(`${at}.type`, 'could not find installed plugin for this type');
      return;
    }
    if (b.type === 'provided' && !mtls.skipValidation) validateProvidedCa(v, at, b.conf ?? {});
  });
  if (mtls.enabledBackend && !backends.some((b) => b.name === mtls.enabledBackend)) {
    v.add('mtls.enabledBackend', 'has to be set to one of the backends in the mesh');
  }
}

function validateProvidedCa(v: Violations, at: string, conf: Record<string, unknown>): void {
  for (const part of ['cert', 'key']) {
    const source = conf[part] as DataSource | undefined;
    const field = `${at}.conf.${part}`;
    if (!source || typeof source !== 'object') {
      v.add(field, 'has to be defined');
      continue;
    }
    const chosen = (['secret', 'file', 'inline', 'inlineString'] as const).filter((k) => source[k] !== undefined && source[k] !== '');
    if (chosen.length !== 1) v.add(field, 'data source has to be chosen. Available sources: secret, file, inline, inlineString');
  }
}

function validateLogging(v: Violations, logging: NonNullable<MeshSpec['logging']>): void {
  const backends = logging.backends ?? [];
  backends.forEach((b, i) => {
    const at = `logging.backends[${i}]`;
    if (!b.name) v.add(`${at}.name`, 'cannot be empty');
    const conf = b.conf ?? {};
    if (b.type === 'file') {
      if (!conf['path']) v.add(`${at}.config.path`, 'cannot be empty');
    } else if (b.type === 'tcp') {
      const address = conf['address'];
      if (!address) v.add(`${at}.config.address`, 'cannot be empty');
      else if (typeof address !== 'string' || !isHostPort(address)) v.add(`${at}.config.address`, 'has to be in format of HOST:PORT');
    } else {
      v.add(`${at}.type`, 'unknown backend type. Available backends: "tcp", "file"');
    }
  });
  checkUniqueBackendNames(v, 'logging.backends', backends);
  if (logging.defaultBackend && !backends.some((b) => b.name === logging.defaultBackend)) {
    v.add('logging.defaultBackend', 'has to be set to one of the logging backend in mesh');
  }
}

function isHostPort(s: string): boolean {
  const sep = s.lastIndexOf(':');
  if (sep <= 0) return false;
  const host = s.slice(0, sep).replace(/^\[(.*)\]$/, '$1');
  const port = Number(s.slice(sep + 1));
  return Number.isInteger(port) && port >= 0 && port <= 65535 && s.slice(sep + 1) !== '' && (isIpAddress(host) || isDomainName(host));
}

function validateTracing(v: Violations, tracing: NonNullable<MeshSpec['tracing']>): void {
  const backends = tracing.backends ?? [];
  backends.forEach((b, i) => {
    const at = `tracing.backends[${i}]`;
    if (!b.name) v.add(`${at}.name`, 'cannot be empty');
    if (b.sampling !== undefined && (b.sampling < 0 || b.sampling > 100)) v.add(`${at}.sampling`, 'has to be in [0.0 - 100.0] range');
    const conf = b.conf ?? {};
    if (b.type === 'zipkin') validateZipkin(v, `${at}.config`, conf);
    else if (b.type === 'datadog') {
      if (!conf['address']) v.add(`${at}.config.address`, 'cannot be empty');
      const port = conf['port'];
      if (typeof port !== 'number' || port < 1 || port > 65535) v.add(`${at}.config.port`, 'port must be in the range [1, 65535]');
    } else {
      v.add(`${at}.type`, 'unknown backend type. Available backends: "zipkin", "datadog"');
    }
  });
  checkUniqueBackendNames(v, 'tracing.backends', backends);
  if (tracing.defaultBackend && !backends.some((b) => b.name === tracing.defaultBackend)) {
    v.add('tracing.defaultBackend', 'has to be set to one of the tracing backend in mesh');
  }
}

function validateZipkin(v: Violations, at: string, conf: Record<string, unknown>): void {
  const url = conf['url'];
  if (!url) v.add(`${at}.url`, 'cannot be empty');
  else {
    let parsed: URL | undefined;
    try {
      parsed = new URL(String(url));
    } catch {
      v.add(`${at}.url`, 'invalid URL');
    }
    // WHATWG URL drops default ports, so look for an explicit one in the authority text.
    if (parsed && !/^[a-z][a-z0-9+.-]*:\/\/[^/]*:\d+/i.test(String(url))) v.add(`${at}.url`, 'port has to be explicitly specified');
  }
  const apiVersion = conf['apiVersion'];
  if (apiVersion !== undefined && apiVersion !== '' && !['httpJsonV1', 'httpJson', 'httpProto'].includes(String(apiVersion))) {
    v.add(`${at}.apiVersion`, 'has invalid value. Allowed values: httpJsonV1, httpJson, httpProto');
  }
}

function validateMetrics(v: Violations, metrics: NonNullable<MeshSpec['metrics']>): void {
  const backends = metrics.backends ?? [];
  checkUniqueBackendNames(v, 'metrics.backends', backends);
  backends.forEach((b, i) => checkMetricsBackend(v, `metrics.backends[${i}]`, b));
  if (metrics.enabledBackend && !backends.some((b) => b.name === metrics.enabledBackend)) {
    v.add('metrics.enabledBackend', 'has to be set to one of the backends in the mesh');
  }
}

function validateConstraints(v: Violations, dpp: NonNullable<NonNullable<MeshSpec['constraints']>['dataplaneProxy']>): void {
  for (const list of ['requirements', 'restrictions'] as const) {
    (dpp[list] ?? []).forEach((rule, i) => checkSelectorTags(v, `constraints.dataplaneProxy.${list}[${i}].tags`, rule.tags));
  }
}

function validate(res: Resource): Violation[] {
  const spec = res.spec as MeshSpec;
  const v = new Violations();
  if (spec.mtls) validateMtls(v, spec.mtls);
  if (spec.logging) validateLogging(v, spec.logging);
  if (spec.tracing) validateTracing(v, spec.tracing);
  if (spec.metrics) validateMetrics(v, spec.metrics);
  if (spec.constraints?.dataplaneProxy) validateConstraints(v, spec.constraints.dataplaneProxy);
  if (spec.routing?.zoneEgress && !spec.mtls?.enabledBackend) v.add('mtls', 'has to be set when zoneEgress enabled');
  return v.list;
}

function applyDefaults(spec: Record<string, unknown>): Record<string, unknown> {
  for (const backend of (spec as MeshSpec).metrics?.backends ?? []) defaultPrometheusBackend(backend);
  return spec;
}

/** mTLS is on when a CA backend is enabled. */
export function mtlsEnabled(spec: MeshSpec): boolean {
  return !!spec.mtls?.enabledBackend;
}

/** `networking.outbound.passthrough`: unset means true. */
export function passthroughEnabled(spec: MeshSpec): boolean {
  return spec.networking?.outbound?.passthrough !== false;
}

export const meshDescriptor: ResourceDescriptor = {
  name: 'Mesh',
  scope: 'Global',
  path: 'meshes',
  cliArg: 'mesh',
  cliListArg: 'meshes',
  singularDisplayName: 'Mesh',
  pluralDisplayName: 'Meshes',
  shortName: 'm',
  flat: true,
  providedByGlobal: true,
  schema,
  applyDefaults,
  validate,
};
