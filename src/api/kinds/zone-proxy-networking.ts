// `networking` of the legacy global-scoped ZoneIngress / ZoneEgress: a bind address, a port and an
// Envoy admin port that must differ from it.
import type { Violations } from '../resource.js';
import { checkBindAddress, checkPort, isValidPort } from '../rules.js';
import { integer, object, string, type Schema } from '../schema.js';

export interface ZoneProxyNetworking {
  address?: string;
  port?: number;
  admin?: { port?: number };
}

export function zoneProxyNetworkingSchema(extra: Record<string, Schema> = {}): Schema {
  return object({ address: string, port: integer, admin: object({ port: integer }), ...extra });
}

export function checkZoneProxyNetworking(v: Violations, networking: ZoneProxyNetworking): void {
  checkBindAddress(v, 'networking.address', networking.address);
  checkPort(v, 'networking.port', networking.port);
  const admin = networking.admin?.port;
  if (admin !== undefined) {
    if (!isValidPort(admin)) checkPort(v, 'networking.admin.port', admin);
    else if (admin === networking.port) v.add('networking.admin.port', 'must differ from port');
  }
}
