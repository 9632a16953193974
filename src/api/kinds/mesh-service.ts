// MeshService (Kuma meshservice/api/v1alpha1, 2.14): a named destination of a mesh. Its endpoints
// are the inbounds of the Dataplanes it selects (`selector.dataplaneTags` or `dataplaneRef`), one
// cluster per port; `identities` are the SPIFFE IDs clients accept from it. Zone CPs generate them
// from Dataplanes' `kuma.io/service` tags according to the Mesh's `meshServices.mode` (see
// core/mesh-service-generator.ts); users may also write their own.
import crypto from 'node:crypto';
import type { ResourceDescriptor } from '../descriptor.js';
import { DISPLAY_NAME_LABEL, NAMESPACE_LABEL, ZONE_LABEL } from '../well-known.js';
import { Violations, type Resource, type Violation } from '../resource.js';
import { checkPort, checkSelectorTags, SUPPORTED_PROTOCOLS } from '../rules.js';
import { arrayOf, integer, object, oneOfValues, string, stringMap, type Schema } from '../schema.js';
import { destinationSni, sniParts, sniProblem } from '../sni.js';

export interface MeshServicePort {
  port?: number;
  /** The Dataplane inbound port (number) or inbound name (string); defaults to `port`. */
  targetPort?: number | string;
  appProtocol?: string;
  name?: string;
}

export interface MeshServiceSpec {
  selector?: { dataplaneTags?: Record<string, string>; dataplaneRef?: { name?: string } };
  ports?: MeshServicePort[];
  identities?: { type?: 'ServiceTag' | 'SpiffeID'; value?: string }[];
  state?: 'Available' | 'Unavailable';
}

export interface MeshServiceStatus {
  addresses?: { hostname: string; origin?: string }[];
  vips?: { ip: string }[];
  tls?: { status: 'Ready' | 'NotReady' };
  dataplaneProxies?: { connected?: number; healthy?: number; total?: number };
}

const intOrString: Schema = { type: ['integer', 'string'] };

const schema = object({
  selector: object({ dataplaneTags: stringMap, dataplaneRef: object({ name: string }) }),
  ports: arrayOf(object({ port: integer, targetPort: intOrString, appProtocol: string, name: string })),
  identities: arrayOf(object({ type: oneOfValues(['ServiceTag', 'SpiffeID']), value: string })),
  state: oneOfValues(['Available', 'Unavailable']),
});

/** The port's section in SNIs and KRIs: its name, else its number. */
export function portSection(p: MeshServicePort): string {
  return p.name || String(p.port ?? '');
}

export function validateMeshService(res: Resource): Violation[] {
  const spec = res.spec as MeshServiceSpec;
  const v = new Violations();
  const selector = spec.selector ?? {};
  if (selector.dataplaneTags && selector.dataplaneRef) v.add('spec.selector', 'dataplaneTags and dataplaneRef cannot be defined at the same time');
  if (selector.dataplaneTags) {
    if (Object.keys(selector.dataplaneTags).length === 0) v.add('spec.selector.dataplaneTags', 'must not be empty');
    else checkSelectorTags(v, 'spec.selector.dataplaneTags', selector.dataplaneTags);
  }
  if (selector.dataplaneRef && !selector.dataplaneRef.name) v.add('spec.selector.dataplaneRef.name', 'must not be empty');
  const names = new Set<string>();
  const numbers = new Set<number>();
  (spec.ports ?? []).forEach((p, i) => {
    const at = `spec.ports[${i}]`;
    if (p.port === undefined) v.add(`${at}.port`, 'must be defined');
    else {
      checkPort(v, `${at}.port`, p.port);
      if (numbers.has(p.port)) v.add(`${at}.port`, 'must be unique');
      numbers.add(p.port);
    }
    if (typeof p.targetPort === 'number') checkPort(v, `${at}.targetPort`, p.targetPort);
    else if (p.targetPort === '') v.add(`${at}.targetPort`, 'must not be empty');
    if (p.appProtocol !== undefined && !SUPPORTED_PROTOCOLS.includes(p.appProtocol)) {
      v.add(`${at}.appProtocol`, `has an invalid value "${p.appProtocol}". Allowed values: ${SUPPORTED_PROTOCOLS.join(', ')}`);
    }
    if (p.name !== undefined) {
      if (names.has(p.name)) v.add(`${at}.name`, 'must be unique');
      names.add(p.name);
    }
    // A destination whose SNI cannot be built gets no cluster: say so at apply time.
    if (p.port !== undefined) {
      const problem = sniProblem(sniParts(res, portSection(p)));
      if (problem) v.add(p.name ? `${at}.name` : 'name', problem);
    }
  });
  (spec.identities ?? []).forEach((id, i) => {
    if (!id.type) v.add(`spec.identities[${i}].type`, 'must be defined');
    if (!id.value) v.add(`spec.identities[${i}].value`, 'must not be empty');
  });
  return v.list;
}

/**
 * A destination's VIP (transparent proxy outbounds listen there): its status' first VIP, else one
 * derived from its identity in 241.0.0.0/8 (Kuma's default VIP range). Derived, not allocated, so
 * every zone computes the same VIP for a synced copy without syncing status.
 */
export function destinationVip(res: Resource): string {
  const fromStatus = (res.status as MeshServiceStatus | undefined)?.vips?.[0]?.ip;
  if (fromStatus) return fromStatus;
  const id = [res.type, res.mesh, res.labels[ZONE_LABEL] ?? '', res.labels[NAMESPACE_LABEL] ?? '', res.labels[DISPLAY_NAME_LABEL] ?? res.name].join('/');
  const h = crypto.createHash('sha256').update(id).digest();
  // Avoid .0 and .255 in the last octet.
  return `241.${h[0]}.${h[1]}.${1 + (h[2]! % 254)}`;
}

/** `snis: [{port, sni}]`, sorted by port: what users copy into policy `sni` matchers. */
export function destinationSnis(res: Resource, ports: { port?: number; name?: string }[], section: (p: { port?: number; name?: string }) => string): { port: number; sni: string }[] {
  return ports
    .filter((p) => typeof p.port === 'number')
    .map((p) => ({ port: p.port!, sni: destinationSni(res, section(p)) }))
    .filter((s): s is { port: number; sni: string } => s.sni !== undefined)
    .sort((a, b) => a.port - b.port);
}

export const meshServiceDescriptor: ResourceDescriptor = {
  name: 'MeshService',
  scope: 'Mesh',
  path: 'meshservices',
  cliArg: 'meshservice',
  cliListArg: 'meshservices',
  cliAliases: ['msvc'],
  singularDisplayName: 'Mesh Service',
  pluralDisplayName: 'Mesh Services',
  shortName: 'msvc',
  flat: false,
  hasStatus: true,
  providedByGlobal: false,
  providedByZone: true,
  schema,
  applyDefaults(spec) {
    const ports = spec['ports'];
    if (!Array.isArray(ports)) return spec;
    return { ...spec, ports: ports.map((p: MeshServicePort) => ({ ...p, targetPort: p.targetPort ?? p.port, appProtocol: p.appProtocol ?? 'tcp' })) };
  },
  validate: validateMeshService,
  wireExtras: (res) => ({ snis: destinationSnis(res, (res.spec as MeshServiceSpec).ports ?? [], portSection) }),
};
