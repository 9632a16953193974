// TypeScript shape of a Dataplane spec (api/mesh/v1alpha1/dataplane.proto, Kuma v2.14, JSON names).
import type { MetricsBackend } from './metrics-backend.js';

export interface ServiceProbe {
  interval?: string;
  timeout?: string;
  unhealthyThreshold?: number;
  healthyThreshold?: number;
  tcp?: Record<string, never>;
}

export interface Inbound {
  port?: number;
  servicePort?: number;
  serviceAddress?: string;
  address?: string;
  tags?: Record<string, string>;
  health?: { ready?: boolean };
  serviceProbe?: ServiceProbe;
  state?: 'Ready' | 'NotReady' | 'Ignored';
  name?: string;
  protocol?: string;
}

export type BackendRefKind = 'MeshService' | 'MeshExternalService' | 'MeshMultiZoneService';

export interface BackendRef {
  kind?: string;
  name?: string;
  port?: number;
  labels?: Record<string, string>;
}

export interface Outbound {
  address?: string;
  port?: number;
  tags?: Record<string, string>;
  backendRef?: BackendRef;
}

export interface Gateway {
  tags?: Record<string, string>;
  type?: 'DELEGATED' | 'BUILTIN';
}

export interface ReachableBackendRef {
  kind?: string;
  name?: string;
  namespace?: string;
  port?: number;
  labels?: Record<string, string>;
}

export interface TransparentProxying {
  redirectPortInbound?: number;
  redirectPortOutbound?: number;
  directAccessServices?: string[];
  reachableServices?: string[];
  ipFamilyMode?: 'UnSpecified' | 'DualStack' | 'IPv4' | 'IPv6';
  reachableBackends?: { refs?: ReachableBackendRef[] };
}

export interface Listener {
  type?: string;
  address?: string;
  port?: number;
  name?: string;
  state?: 'Ready' | 'NotReady';
}

export interface Networking {
  address?: string;
  advertisedAddress?: string;
  advertisedPort?: number;
  inbound?: Inbound[];
  outbound?: Outbound[];
  gateway?: Gateway;
  transparentProxying?: TransparentProxying;
  admin?: { port?: number };
  listeners?: Listener[];
}

export interface Probes {
  port?: number;
  endpoints?: { inboundPort?: number; inboundPath?: string; path?: string }[];
}

export interface DataplaneSpec {
  networking?: Networking;
  metrics?: MetricsBackend;
  probes?: Probes;
}
