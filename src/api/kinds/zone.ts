// Zone: a zone registered with the global control plane; `enabled: false` cuts it off.
import type { ResourceDescriptor } from '../descriptor.js';
import { boolean, object } from '../schema.js';

export interface ZoneSpec {
  /** Unset means enabled. */
  enabled?: boolean;
}

export function zoneEnabled(spec: ZoneSpec): boolean {
  return spec.enabled !== false;
}

export const zoneDescriptor: ResourceDescriptor = {
  name: 'Zone',
  scope: 'Global',
  path: 'zones',
  cliArg: 'zone',
  cliListArg: 'zones',
  singularDisplayName: 'Zone',
  pluralDisplayName: 'Zones',
  shortName: 'z',
  flat: true,
  hasInsights: true,
  providedByGlobal: true,
  schema: object({ enabled: boolean }),
};
