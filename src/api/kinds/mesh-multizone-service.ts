// MeshMultiZoneService (Kuma meshmultizoneservice/api/v1alpha1, 2.14): one name for the MeshServices
// of every zone that carry the selected labels. Created on global and synced to zones; its
// endpoints are the union of the matched MeshServices' endpoints (local ones directly, other
// zones' through their ingresses), SNI `sni.mzsvc.<mesh>.<name>.<port>`.
import type { ResourceDescriptor } from '../descriptor.js';
import { Violations, type Resource, type Violation } from '../resource.js';
import { checkPort, checkSelectorTags, SUPPORTED_PROTOCOLS } from '../rules.js';
import { arrayOf, integer, object, string, stringMap } from '../schema.js';
import { sniParts, sniProblem } from '../sni.js';
import { destinationSnis } from './mesh-service.js';

export interface MeshMultiZoneServiceSpec {
  selector?: { meshService?: { matchLabels?: Record<string, string> } };
  ports?: { port?: number; appProtocol?: string; name?: string }[];
}

const schema = object({
  selector: object({ meshService: object({ matchLabels: stringMap }) }),
  ports: arrayOf(object({ port: integer, appProtocol: string, name: string })),
});

function section(p: { port?: number; name?: string }): string {
  return p.name || String(p.port ?? '');
}

export function validateMeshMultiZoneService(res: Resource): Violation[] {
  const spec = res.spec as MeshMultiZoneServiceSpec;
  const v = new Violations();
  const labels = spec.selector?.meshService?.matchLabels;
  if (!labels || Object.keys(labels).length === 0) v.add('spec.selector.meshService.matchLabels', 'cannot be empty');
  else checkSelectorTags(v, 'spec.selector.meshService.matchLabels', labels);
  const ports = spec.ports ?? [];
  if (ports.length === 0) v.add('spec.ports', 'cannot be empty');
  ports.forEach((p, i) => {
    const at = `spec.ports[${i}]`;
    if (p.port === undefined) v.add(`${at}.port`, 'must be defined');
    else checkPort(v, `${at}.port`, p.port);
    if (p.appProtocol !== undefined && !SUPPORTED_PROTOCOLS.includes(p.appProtocol)) {
      v.add(`${at}.appProtocol`, `has an invalid value "${p.appProtocol}". Allowed values: ${SUPPORTED_PROTOCOLS.join(', ')}`);
    }
    if (p.port !== undefined) {
      const problem = sniProblem(sniParts(res, section(p)));
      if (problem) v.add(p.name ? `${at}.name` : 'name', problem);
    }
  });
  return v.list;
}

export const meshMultiZoneServiceDescriptor: ResourceDescriptor = {
  name: 'MeshMultiZoneService',
  scope: 'Mesh',
  path: 'meshmultizoneservices',
  cliArg: 'meshmultizoneservice',
  cliListArg: 'meshmultizoneservices',
  cliAliases: ['mzsvc'],
  singularDisplayName: 'Mesh Multi Zone Service',
  pluralDisplayName: 'Mesh Multi Zone Services',
  shortName: 'mzsvc',
  flat: false,
  hasStatus: true,
  providedByGlobal: true,
  providedByZone: false,
  schema,
  applyDefaults(spec) {
    const ports = spec['ports'];
    if (!Array.isArray(ports)) return spec;
    return { ...spec, ports: ports.map((p: { appProtocol?: string }) => ({ ...p, appProtocol: p.appProtocol ?? 'tcp' })) };
  },
  validate: validateMeshMultiZoneService,
  wireExtras: (res) => ({ snis: destinationSnis(res, (res.spec as MeshMultiZoneServiceSpec).ports ?? [], section) }),
};

export { section as multiZonePortSection };
