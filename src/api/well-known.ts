// Well-known label keys and values (Kuma's `kuma.io/*` vocabulary plus Skein's zone proxy labels).

export const MESH_LABEL = 'kuma.io/mesh';
export const ORIGIN_LABEL = 'kuma.io/origin';
export const ZONE_LABEL = 'kuma.io/zone';
export const ENV_LABEL = 'kuma.io/env';
export const DISPLAY_NAME_LABEL = 'kuma.io/display-name';
export const NAMESPACE_LABEL = 'k8s.kuma.io/namespace';
export const PROXY_TYPE_LABEL = 'kuma.io/proxy-type';
export const ZONE_PROXY_ROLE_LABEL = 'kuma.io/zone-proxy-role';
export const WORKLOAD_LABEL = 'kuma.io/workload';
export const LISTENER_ZONE_INGRESS_LABEL = 'kuma.io/listener-zoneingress';
export const LISTENER_ZONE_EGRESS_LABEL = 'kuma.io/listener-zoneegress';

export const ORIGINS = ['global', 'zone'] as const;

export type ProxyType = 'sidecar' | 'gateway' | 'zoneproxy';
export const ZONE_PROXY = 'zoneproxy';

export type ZoneProxyRole = 'ingress' | 'egress' | 'all';
export const ZONE_PROXY_ROLES: readonly ZoneProxyRole[] = ['ingress', 'egress', 'all'];

export type ListenerType = 'ZoneIngress' | 'ZoneEgress';
export const DEFAULT_ZONE_INGRESS_PORT = 10001;
export const DEFAULT_ZONE_EGRESS_PORT = 10002;
