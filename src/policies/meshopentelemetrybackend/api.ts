// MeshOpenTelemetryBackend (Kuma 2.14, MADR 095): an OTLP collector that MeshMetric, MeshTrace and
// MeshAccessLog reference with `backendRef: {kind: MeshOpenTelemetryBackend, labels}`. Not a policy.
import type { ResourceDescriptor } from '../../api/descriptor.js';
import { Violations, type Labels, type Resource } from '../../api/resource.js';
import { isDomainName, isIpAddress } from '../../api/rules.js';
import { boolean, integer, object, string } from '../../api/schema.js';

export interface MeshOpenTelemetryBackendSpec {
  endpoint?: { address?: string; port?: number; path?: string };
  protocol?: 'grpc' | 'http';
  env?: { mode?: 'Disabled' | 'Optional' | 'Required'; precedence?: 'ExplicitFirst' | 'EnvFirst'; allowSignalOverrides?: boolean };
}

export const meshOpenTelemetryBackendSchema = object({
  endpoint: object({ address: string, port: integer, path: string }),
  protocol: string,
  env: object({ mode: string, precedence: string, allowSignalOverrides: boolean }),
});

export const DEFAULT_OTLP_PORT = 4317;

export function validateMeshOpenTelemetryBackend(res: Resource): Violations {
  const spec = res.spec as MeshOpenTelemetryBackendSpec;
  const v = new Violations();
  const protocol = spec.protocol ?? 'grpc';
  if (protocol !== 'grpc' && protocol !== 'http') v.add('spec.protocol', '"protocol" must be one of ["grpc", "http"]');
  const e = spec.endpoint;
  if (e) {
    if (e.address !== undefined) {
      if (e.address === '') v.add('spec.endpoint.address', 'must not be empty');
      else if (!isIpAddress(e.address) && !isDomainName(e.address)) v.add('spec.endpoint.address', 'address has to be a valid IP or hostname');
    }
    if (e.port !== undefined && (e.port < 1 || e.port > 65535)) v.add('spec.endpoint.port', 'port must be a valid (1-65535)');
    if (e.path !== undefined && e.path !== '') {
      if (protocol === 'grpc') v.add('spec.endpoint.path', 'must not be set when protocol is grpc');
      else if (!e.path.startsWith('/')) v.add('spec.endpoint.path', 'must start with /');
      else if (/[?#]/.test(e.path)) v.add('spec.endpoint.path', 'must not contain query or fragment');
    }
  }
  if (spec.env?.mode !== undefined && !['Disabled', 'Optional', 'Required'].includes(spec.env.mode)) {
    v.add('spec.env.mode', '"mode" must be one of ["Disabled", "Optional", "Required"]');
  }
  if (spec.env?.precedence !== undefined && !['ExplicitFirst', 'EnvFirst'].includes(spec.env.precedence)) {
    v.add('spec.env.precedence', '"precedence" must be one of ["ExplicitFirst", "EnvFirst"]');
  }
  return v;
}

export const meshOpenTelemetryBackendDescriptor: ResourceDescriptor = {
  name: 'MeshOpenTelemetryBackend',
  scope: 'Mesh',
  path: 'meshopentelemetrybackends',
  cliArg: 'meshopentelemetrybackend',
  cliListArg: 'meshopentelemetrybackends',
  cliAliases: ['motb', 'motbs'],
  singularDisplayName: 'Mesh Open Telemetry Backend',
  pluralDisplayName: 'Mesh Open Telemetry Backends',
  shortName: 'motb',
  flat: false,
  providedByGlobal: true,
  providedByZone: true,
  schema: meshOpenTelemetryBackendSchema,
  applyDefaults(spec) {
    const s = spec as MeshOpenTelemetryBackendSpec;
    return {
      ...spec,
      protocol: s.protocol ?? 'grpc',
      ...(s.endpoint ? { endpoint: { ...s.endpoint, port: s.endpoint.port ?? DEFAULT_OTLP_PORT } } : {}),
    };
  },
  validate: (res) => validateMeshOpenTelemetryBackend(res).list,
};

/** Where a backend sends OTLP data: address (empty = the node's), port, path per signal, TLS. */
export interface ResolvedOtelBackend {
  name: string;
  address: string;
  port: number;
  protocol: 'grpc' | 'http';
  /** HTTP only: `<path or />v1/<signal>`. */
  path?: string;
  useHttps: boolean;
}

/**
 * The backend a `backendRef` names: the MeshOpenTelemetryBackend of the mesh whose labels contain
 * all of `labels`, the oldest first when several do (Kuma). Undefined for a dangling reference.
 */
export function resolveBackendRef(
  backends: readonly Resource[],
  ref: { kind?: string; labels?: Labels } | undefined,
  signal: 'traces' | 'metrics' | 'logs',
): ResolvedOtelBackend | undefined {
  if (!ref || ref.kind !== 'MeshOpenTelemetryBackend' || !ref.labels || Object.keys(ref.labels).length === 0) return undefined;
  const want = ref.labels;
  const found = backends
    .filter((b) => b.type === 'MeshOpenTelemetryBackend' && Object.entries(want).every(([k, val]) => b.labels[k] === val))
    .sort((a, b) => (a.creationTime < b.creationTime ? -1 : a.creationTime > b.creationTime ? 1 : a.name < b.name ? -1 : 1))[0];
  if (!found) return undefined;
  const spec = found.spec as MeshOpenTelemetryBackendSpec;
  const protocol = spec.protocol ?? 'grpc';
  const port = spec.endpoint?.port ?? DEFAULT_OTLP_PORT;
  const base = spec.endpoint?.path || '/';
  return {
    name: found.labels['kuma.io/display-name'] ?? found.name,
    address: spec.endpoint?.address ?? '',
    port,
    protocol,
    ...(protocol === 'http' ? { path: `${base.replace(/\/$/, '')}/v1/${signal}` } : {}),
    useHttps: protocol === 'http' && port === 443,
  };
}
