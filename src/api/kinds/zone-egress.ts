// ZoneEgress (legacy, global-scoped; api/mesh/v1alpha1/zoneegress.proto).
import type { ResourceDescriptor } from '../descriptor.js';
import { Violations, type Resource, type Violation } from '../resource.js';
import { object, string } from '../schema.js';
import { checkZoneProxyNetworking, zoneProxyNetworkingSchema, type ZoneProxyNetworking } from './zone-proxy-networking.js';

export interface ZoneEgressSpec {
  zone?: string;
  networking?: ZoneProxyNetworking;
}

const schema = object({ zone: string, networking: zoneProxyNetworkingSchema() });

function validate(res: Resource): Violation[] {
  const networking = (res.spec as ZoneEgressSpec).networking;
  const v = new Violations();
  if (!networking) v.add('networking', 'must be defined');
  else checkZoneProxyNetworking(v, networking);
  return v.list;
}

export const zoneEgressDescriptor: ResourceDescriptor = {
  name: 'ZoneEgress',
  scope: 'Global',
  path: 'zoneegresses',
  cliArg: 'zoneegress',
  cliListArg: 'zoneegresses',
  singularDisplayName: 'Zone Egress',
  pluralDisplayName: 'Zone Egresses',
  shortName: 'ze',
  flat: true,
  hasInsights: true,
  providedByZone: true,
  schema,
  validate,
};
