// Mesh-scoped zone proxies (SKEIN-SPEC §2): a Dataplane labelled `kuma.io/proxy-type: zoneproxy` with a
// `kuma.io/zone-proxy-role`. The role decides which listeners exist; `networking.listeners[]` may
// override their port, address and name.
import type { Labels } from './resource.js';
import type { DataplaneSpec, Listener } from './kinds/dataplane-spec.js';
import {
  DEFAULT_ZONE_EGRESS_PORT,
  DEFAULT_ZONE_INGRESS_PORT,
  PROXY_TYPE_LABEL,
  ZONE_PROXY,
  ZONE_PROXY_ROLE_LABEL,
  ZONE_PROXY_ROLES,
  type ListenerType,
  type ZoneProxyRole,
} from './well-known.js';

/** A listener the control plane generates for a zone proxy. */
export interface EffectiveListener {
  type: ListenerType;
  /** Bind address: the listener's own, else `networking.address`. */
  address: string;
  port: number;
  /** Section name for policies: the listener name, else the port as a string. */
  name: string;
  state: 'Ready' | 'NotReady';
  /** Index in `networking.listeners[]`; undefined for a listener that only exists by default. */
  index?: number;
}

interface DataplaneLike {
  labels: Labels;
  spec: DataplaneSpec | Record<string, unknown>;
}

export function isZoneProxy(dp: { labels: Labels }): boolean {
  return dp.labels[PROXY_TYPE_LABEL] === ZONE_PROXY;
}

/** The zone proxy's role, or undefined when the label is missing or not a known role. */
export function zoneProxyRole(dp: { labels: Labels }): ZoneProxyRole | undefined {
  const role = dp.labels[ZONE_PROXY_ROLE_LABEL];
  return (ZONE_PROXY_ROLES as readonly string[]).includes(role ?? '') ? (role as ZoneProxyRole) : undefined;
}

export function listenerTypesOfRole(role: ZoneProxyRole): ListenerType[] {
  if (role === 'ingress') return ['ZoneIngress'];
  if (role === 'egress') return ['ZoneEgress'];
  return ['ZoneIngress', 'ZoneEgress'];
}

export function defaultListenerPort(type: ListenerType): number {
  return type === 'ZoneIngress' ? DEFAULT_ZONE_INGRESS_PORT : DEFAULT_ZONE_EGRESS_PORT;
}

function isListenerType(t: unknown): t is ListenerType {
  return t === 'ZoneIngress' || t === 'ZoneEgress';
}

/**
 * The listeners to generate for a Dataplane. A zone proxy gets one listener per type its role allows:
 * the declared `networking.listeners[]` of that type, or a default one (port 10001 ingress, 10002
 * egress). A Dataplane that is not a zone proxy gets its declared zone listeners as they are.
 */
export function effectiveListeners(dp: DataplaneLike): EffectiveListener[] {
  const networking = (dp.spec as DataplaneSpec).networking ?? {};
  const declared = (networking.listeners ?? []).map((l, index) => ({ l, index }));
  const toEffective = (l: Listener, type: ListenerType, index: number | undefined): EffectiveListener => {
    const port = l.port || defaultListenerPort(type);
    return {
      type,
      address: l.address || networking.address || '',
      port,
      name: l.name || String(port),
      state: l.state === 'NotReady' ? 'NotReady' : 'Ready',
      ...(index !== undefined ? { index } : {}),
    };
  };

  if (!isZoneProxy(dp)) {
    return declared.filter(({ l }) => isListenerType(l.type)).map(({ l, index }) => toEffective(l, l.type as ListenerType, index));
  }
  const role = zoneProxyRole(dp);
  if (!role) return [];
  return listenerTypesOfRole(role).flatMap((type) => {
    const ofType = declared.filter(({ l }) => l.type === type);
    if (ofType.length === 0) return [toEffective({}, type, undefined)];
    return ofType.map(({ l, index }) => toEffective(l, type, index));
  });
}
