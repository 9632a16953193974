// The config a proxy was sent, as readable JSON for `GET /meshes/{mesh}/dataplanes/{name}/xds`:
// nested Any messages (filters, transport sockets) are expanded with their `@type`, as in Envoy's
// own config_dump, and private keys are redacted.
import { envoyRoot, typeNameOf, type AnyMessage } from '../envoy/protos.js';
import type { Snapshot } from './cache/snapshot.js';

export function configDump(snapshot: Snapshot): Record<string, unknown> {
  const byType: Record<string, unknown> = {};
  for (const [typeUrl, resources] of snapshot.resources) {
    byType[typeUrl.split('.').pop()!] = [...resources.values()].map((r) => ({ name: r.name, version: r.version, resource: redactKeys(readable(r.any)) }));
  }
  return { version: snapshot.version, resources: byType };
}

function readable(any: AnyMessage): Record<string, unknown> {
  const type = envoyRoot().lookupType(typeNameOf(any.type_url));
  // `json: true` makes protobufjs expand google.protobuf.Any into `{ '@type', ...fields }`.
  return type.toObject(type.decode(any.value), { json: true, enums: String, longs: String, oneofs: false, defaults: false });
}

/** Private keys never leave the CP through the inspect API (Envoy's config_dump redacts them too). */
function redactKeys(resource: Record<string, unknown>): Record<string, unknown> {
  const cert = resource['tls_certificate'] as { private_key?: unknown } | undefined;
  if (!cert?.private_key) return resource;
  return { ...resource, tls_certificate: { ...cert, private_key: '[redacted]' } };
}
