// Pod labels and annotations the injector reads and writes (Kuma's keys where Kuma has one).
export const SIDECAR_INJECTION = 'kuma.io/sidecar-injection';
export const SIDECAR_INJECTED = 'kuma.io/sidecar-injected';
export const MESH = 'kuma.io/mesh';
export const SERVICE_ACCOUNT = 'kuma.io/service-account';
export const TRANSPARENT_PROXYING = 'kuma.io/transparent-proxying';
export const SIDECAR_UID = 'kuma.io/sidecar-uid';
/** On zone proxy pods: which listeners the proxy has (`all` = both). */
export const ZONE_PROXY_TYPE = 'k8s.kuma.io/zone-proxy-type';
/** On zone proxy pods: the listener ports (the Service's target ports), since the webhook cannot see Services. */
export const ZONE_INGRESS_PORT = 'skein.io/zone-ingress-port';
export const ZONE_EGRESS_PORT = 'skein.io/zone-egress-port';

export const SIDECAR_CONTAINER = 'kuma-sidecar';
export const INIT_CONTAINER = 'kuma-init';
export const SIDECAR_UID_VALUE = 5678;
export const READINESS_PORT = 9902;
export const INBOUND_REDIRECT_PORT = 15006;
export const OUTBOUND_REDIRECT_PORT = 15001;
