// MeshExternalService (Kuma meshexternalservice/api/v1alpha1, minimal): a destination outside the
// mesh, reached by sidecars through their mesh's zone egress. The egress routes on the SNI
// `sni.extsvc.<mesh>.<name>.<port>` and opens a plain (or, with `tls.enabled`, TLS) connection to
// the endpoints.
import type { ResourceDescriptor } from '../descriptor.js';
import { Violations, type Resource, type Violation } from '../resource.js';
import { arrayOf, boolean, integer, object, oneOfValues, string } from '../schema.js';
import { destinationSnis } from './mesh-service.js';

/** Kuma's DataSource: exactly one of these. */
export interface DataSource {
  secret?: string;
  inline?: string;
  inlineString?: string;
}

export type TlsVersion = 'TLSAuto' | 'TLS10' | 'TLS11' | 'TLS12' | 'TLS13';
export type VerificationMode = 'Secured' | 'SkipSAN' | 'SkipCA' | 'SkipAll';

export interface MeshExternalServiceTls {
  enabled?: boolean;
  version?: { min?: TlsVersion; max?: TlsVersion };
  allowRenegotiation?: boolean;
  verification?: {
    mode?: VerificationMode;
    serverName?: string;
    subjectAltNames?: { type?: 'Exact' | 'Prefix'; value?: string }[];
    caCert?: DataSource;
    clientCert?: DataSource;
    clientKey?: DataSource;
  };
}

export interface MeshExternalServiceSpec {
  match?: { type?: string; port?: number; protocol?: string };
  endpoints?: { address?: string; port?: number }[];
  tls?: MeshExternalServiceTls;
}

const PROTOCOLS = ['tcp', 'http', 'http2', 'grpc'];
const TLS_VERSIONS = ['TLSAuto', 'TLS10', 'TLS11', 'TLS12', 'TLS13'];
const dataSourceSchema = object({ secret: string, inline: string, inlineString: string });

function checkDataSource(v: Violations, field: string, ds: DataSource | undefined): void {
  if (!ds) return;
  const set = [ds.secret, ds.inline, ds.inlineString].filter((x) => x !== undefined);
  if (set.length !== 1) v.add(field, 'exactly one of secret, inline, inlineString must be defined');
  else if (set[0] === '') v.add(field, 'must not be empty');
}

const schema = object({
  match: object({ type: string, port: integer, protocol: string }),
  endpoints: arrayOf(object({ address: string, port: integer })),
  tls: object({
    enabled: boolean,
    allowRenegotiation: boolean,
    version: object({ min: oneOfValues(TLS_VERSIONS), max: oneOfValues(TLS_VERSIONS) }),
    verification: object({
      mode: oneOfValues(['Secured', 'SkipSAN', 'SkipCA', 'SkipAll']),
      serverName: string,
      subjectAltNames: arrayOf(object({ type: oneOfValues(['Exact', 'Prefix']), value: string })),
      caCert: dataSourceSchema,
      clientCert: dataSourceSchema,
      clientKey: dataSourceSchema,
    }),
  }),
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
  const tls = spec.tls;
  if (tls) {
    const order = (x?: string) => (x && x !== 'TLSAuto' ? TLS_VERSIONS.indexOf(x) : undefined);
    const min = order(tls.version?.min);
    const max = order(tls.version?.max);
    if (min !== undefined && max !== undefined && min > max) v.add('spec.tls.version.min', 'must not be higher than max');
    const ver = tls.verification;
    checkDataSource(v, 'spec.tls.verification.caCert', ver?.caCert);
    checkDataSource(v, 'spec.tls.verification.clientCert', ver?.clientCert);
    checkDataSource(v, 'spec.tls.verification.clientKey', ver?.clientKey);
    if (Boolean(ver?.clientCert) !== Boolean(ver?.clientKey)) v.add('spec.tls.verification', 'clientCert and clientKey must be defined together');
    (ver?.subjectAltNames ?? []).forEach((san, i) => {
      if (!san.value) v.add(`spec.tls.verification.subjectAltNames[${i}].value`, 'must not be empty');
    });
  }
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
  wireExtras: (res) => ({ snis: destinationSnis(res, [{ port: (res.spec as MeshExternalServiceSpec).match?.port }], (p) => String(p.port)) }),
};
