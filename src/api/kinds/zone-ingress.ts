// ZoneIngress (legacy, global-scoped; api/mesh/v1alpha1/zone_ingress.proto): kept beside mesh-scoped
// zone proxies for migration (SKEIN-SPEC §2).
import type { ResourceDescriptor } from '../descriptor.js';
import { Violations, type Resource, type Violation } from '../resource.js';
import { SERVICE_TAG, checkBindAddress, checkDataplaneTags, checkPort, key } from '../rules.js';
import { arrayOf, boolean, integer, object, string, stringMap } from '../schema.js';
import { checkZoneProxyNetworking, zoneProxyNetworkingSchema, type ZoneProxyNetworking } from './zone-proxy-networking.js';

export interface AvailableService {
  tags?: Record<string, string>;
  instances?: number;
  mesh?: string;
  externalService?: boolean;
}

export interface ZoneIngressSpec {
  zone?: string;
  networking?: ZoneProxyNetworking & { advertisedAddress?: string; advertisedPort?: number };
  availableServices?: AvailableService[];
}

const schema = object({
  zone: string,
  networking: zoneProxyNetworkingSchema({ advertisedAddress: string, advertisedPort: integer }),
  availableServices: arrayOf(object({ tags: stringMap, instances: integer, mesh: string, externalService: boolean })),
});

function validate(res: Resource): Violation[] {
  const spec = res.spec as ZoneIngressSpec;
  const v = new Violations();
  const networking = spec.networking;
  if (!networking) {
    v.add('networking', 'must be defined');
    return v.list;
  }
  checkZoneProxyNetworking(v, networking);
  const { advertisedAddress, advertisedPort } = networking;
  if (!advertisedAddress && advertisedPort) v.add('networking.advertisedAddress', 'has to be defined with advertisedPort');
  if (!advertisedPort && advertisedAddress) v.add('networking.advertisedPort', 'has to be defined with advertisedAddress');
  if (advertisedAddress) checkBindAddress(v, 'networking.advertisedAddress', advertisedAddress);
  if (advertisedPort) checkPort(v, 'networking.advertisedPort', advertisedPort);
  (spec.availableServices ?? []).forEach((s, i) => {
    const at = `availableServices[${i}].tags`;
    if (!s.tags?.[SERVICE_TAG]) v.add(`${at}${key(SERVICE_TAG)}`, 'cannot be empty');
    checkDataplaneTags(v, at, s.tags ?? {});
  });
  return v.list;
}

export const zoneIngressDescriptor: ResourceDescriptor = {
  name: 'ZoneIngress',
  scope: 'Global',
  path: 'zoneingresses',
  altPaths: ['zone-ingresses'],
  cliArg: 'zoneingress',
  cliListArg: 'zoneingresses',
  singularDisplayName: 'Zone Ingress',
  pluralDisplayName: 'Zone Ingresses',
  shortName: 'zi',
  flat: true,
  hasInsights: true,
  providedByZone: true,
  schema,
  validate,
};
