// /config_dump: the resources in force, shaped like Envoy's admin ConfigDump, with nested Any
// messages decoded to `{"@type": ..., ...fields}` and private keys redacted.
import { knowsType, unpackAny } from '../../envoy/protos.js';
import type { Engine } from '../engine/engine.js';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

export function configDump(engine: Engine): unknown {
  const r = engine.currentResources();
  return {
    configs: [
      { '@type': `${ADMIN}ListenersConfigDump`, dynamic_listeners: r.listeners.map((l) => ({ name: l.name, active_state: { listener: readable(l) } })) },
      { '@type': `${ADMIN}ClustersConfigDump`, dynamic_active_clusters: r.clusters.map((c) => ({ cluster: readable(c) })) },
      { '@type': `${ADMIN}RoutesConfigDump`, dynamic_route_configs: r.routes.map((rc) => ({ route_config: readable(rc) })) },
      { '@type': `${ADMIN}EndpointsConfigDump`, dynamic_endpoint_configs: r.endpoints.map((e) => ({ endpoint_config: readable(e) })) },
      { '@type': `${ADMIN}SecretsConfigDump`, dynamic_active_secrets: r.secrets.map((s) => ({ name: s.name, secret: readable(s) })) },
    ],
  };
}

function readable(value: unknown, key = ''): unknown {
  if (key === 'private_key') return { inline_string: '[redacted]' };
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map((v) => readable(v));
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  if (typeof o.type_url === 'string' && o.value instanceof Uint8Array && knowsType(o.type_url)) {
    return { '@type': o.type_url, ...(readable(unpackAny({ type_url: o.type_url, value: o.value })) as object) };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    // Skip protobufjs oneof discriminators (a key whose value names another present key).
    if (typeof v === 'string' && v !== k && v in o && k !== 'name') continue;
    out[k] = readable(v, k);
  }
  return out;
}
