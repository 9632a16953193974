// MeshExternalService (Kuma meshexternalservice/api/v1alpha1, minimal): a destination outside the
// mesh, reached by sidecars through their mesh's zone egress. The egress routes on the SNI
// `sni.extsvc.<mesh>.<name>.<port>` and opens a plain (or, with `tls.enabled`, TLS) connection to
// the endpoints.
import type { ResourceDescriptor } from '../descriptor.js';
import { Violations, type Resource, type Violation } from '../resource.js';
import { arrayOf, boolean, integer, object, string } from '../schema.js';

export interface MeshExternalServiceSpec {
  match?: { type?: string; port?: number; protocol?: string };
  endpoints?: { address?: string; port?: number }[];
  tls?: { enabled?: boolean; allowRenegotiation?: boolean; verification?: { serverName?: string; mode?: string } };
}

const PROTOCOLS = ['tcp', 'http', 'http2', 'grpc'];

const schema = object({
  match: object({ type: string, port: integer, protocol: string }),
  endpoints: arrayOf(object({ address: string, port: integer })),
  tls: object({ enabled: boolean, allowRenegotiation: boolean, verification: object({ serverName: string, mode: string }) }),
});

function validPort(p: unknown): boolean {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
}

export function validateMeshExternalService(res: Resource): Violation[] {
  const spec = res.spec as MeshExternalServiceSpec;
  const v = new Violations();
  const match = spec.match;
  if (!match) v.add('spec.match', 'must be defined');
  else {
    if (match.type !== undefined && match.type !== 'HostnameGenerator') v.add('spec.match.type', `unrecognized type "${match.type}", supported values are: HostnameGenerator`);
    if (match.port === undefined) v.add('spec.match.port', 'must be defined');
    else if (!validPort(match.port)) v.add('spec.match.port', 'must be a valid port (1-65535)');
    if (match.protocol !== undefined && !PROTOCOLS.includes(match.protocol)) v.add('spec.match.protocol', `unrecognized protocol "${match.protocol}", supported values are: ${PROTOCOLS.join(', ')}`);
  }
  const endpoints = spec.endpoints ?? [];
  if (endpoints.length === 0) v.add('spec.endpoints', 'must not be empty');
  endpoints.forEach((e, i) => {
    if (!e.address) v.add(`spec.endpoints[${i}].address`, 'must be set');
    if (e.port === undefined) v.add(`spec.endpoints[${i}].port`, 'must be defined');
    else if (!validPort(e.port)) v.add(`spec.endpoints[${i}].port`, 'must be a valid port (1-65535)');
  });
  return v.list;
}

export const meshExternalServiceDescriptor: ResourceDescriptor = {
  name: 'MeshExternalService',
  scope: 'Mesh',
  path: 'meshexternalservices',
  cliArg: 'meshexternalservice',
  cliListArg: 'meshexternalservices',
  cliAliases: ['extsvc', 'mes'],
  singularDisplayName: 'Mesh External Service',
  pluralDisplayName: 'Mesh External Services',
  shortName: 'extsvc',
  flat: false,
  providedByGlobal: true,
  providedByZone: true,
  schema,
  applyDefaults(spec) {
    const match = spec['match'] as Record<string, unknown> | undefined;
    if (!match || typeof match !== 'object') return spec;
    return { ...spec, match: { type: 'HostnameGenerator', protocol: 'tcp', ...match } };
  },
  validate: validateMeshExternalService,
};

/** SNI a sidecar sends to the zone egress to reach an external service. */
export function externalServiceSni(mesh: string, name: string, port: number): string {
  return `sni.extsvc.${mesh}.${name}.${port}`;
}
