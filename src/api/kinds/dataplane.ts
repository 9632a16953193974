// Dataplane (api/mesh/v1alpha1/dataplane.proto, Kuma v2.14): a sidecar, a gateway, or a mesh-scoped
// zone proxy (SKEIN-SPEC §2). Validation collects every violation, as Kuma does.
import type { ResourceDescriptor } from '../descriptor.js';
import { INVALID_NAME_REASON, isRfc1123Subdomain } from '../meta.js';
import { Violations, type Resource, type Violation } from '../resource.js';
import {
  PROTOCOL_TAG,
  SERVICE_TAG,
  SUPPORTED_PROTOCOLS,
  checkBindAddress,
  checkDataplaneTags,
  checkPort,
  checkPositiveDuration,
  checkUrlPath,
  isIpAddress,
  key,
} from '../rules.js';
import { arrayOf, boolean, duration, integer, object, oneOfValues, string, stringMap } from '../schema.js';
import { ZONE_PROXY_ROLE_LABEL, ZONE_PROXY_ROLES } from '../well-known.js';
import { effectiveListeners, isZoneProxy, listenerTypesOfRole, zoneProxyRole, type EffectiveListener } from '../zone-proxy.js';
import type { DataplaneSpec, Inbound, Listener, Networking, Outbound } from './dataplane-spec.js';
import { checkMetricsBackend, metricsBackendSchema } from './metrics-backend.js';

const BACKEND_REF_KINDS = ['MeshExternalService', 'MeshMultiZoneService', 'MeshService'];
const BACKEND_REF_KIND_REASON = `invalid value. Available values are: ${BACKEND_REF_KINDS.join(',')}`;
const PROTOCOLS_HINT = `Allowed values: ${SUPPORTED_PROTOCOLS.join(', ')}`;

const schema = object({
  networking: object({
    address: string,
    advertisedAddress: string,
    advertisedPort: integer,
    inbound: arrayOf(
      object({
        port: integer,
        servicePort: integer,
        serviceAddress: string,
        address: string,
        tags: stringMap,
        health: object({ ready: boolean }),
        serviceProbe: object({
          interval: duration,
          timeout: duration,
          unhealthyThreshold: integer,
          healthyThreshold: integer,
          tcp: object({}),
        }),
        state: oneOfValues(['Ready', 'NotReady', 'Ignored']),
        name: string,
        protocol: string,
      }),
    ),
    outbound: arrayOf(
      object({
        address: string,
        port: integer,
        tags: stringMap,
        backendRef: object({ kind: string, name: string, port: integer, labels: stringMap }),
      }),
    ),
    gateway: object({ tags: stringMap, type: oneOfValues(['DELEGATED', 'BUILTIN']) }),
    transparentProxying: object({
      redirectPortInbound: integer,
      redirectPortOutbound: integer,
      directAccessServices: arrayOf(string),
      reachableServices: arrayOf(string),
      ipFamilyMode: oneOfValues(['UnSpecified', 'DualStack', 'IPv4', 'IPv6']),
      reachableBackends: object({
        refs: arrayOf(object({ kind: string, name: string, namespace: string, port: integer, labels: stringMap })),
      }),
    }),
    admin: object({ port: integer }),
    listeners: arrayOf(
      object({ type: string, address: string, port: integer, name: string, state: oneOfValues(['Ready', 'NotReady']) }),
    ),
  }),
  metrics: metricsBackendSchema,
  probes: object({
    port: integer,
    endpoints: arrayOf(object({ inboundPort: integer, inboundPath: string, path: string })),
  }),
});

function validate(res: Resource): Violation[] {
  const spec = res.spec as DataplaneSpec;
  const v = new Violations();
  const networking = spec.networking;
  if (!networking) {
    v.add('networking', 'must be defined');
    return v.list;
  }
  const zoneProxy = isZoneProxy(res);
  if (zoneProxy) validateZoneProxy(v, res, networking);
  validateAdminPort(v, networking, zoneProxy ? effectiveListeners(res) : []);
  if (networking.gateway) validateGateway(v, networking, spec);
  else if (!zoneProxy && !networking.inbound?.length && !networking.listeners?.length) {
    v.add('networking', 'has to contain at least one inbound interface or gateway');
  }
  checkBindAddress(v, 'networking.address', networking.address);
  if (networking.advertisedAddress !== undefined) checkBindAddress(v, 'networking.advertisedAddress', networking.advertisedAddress);
  if (networking.advertisedPort !== undefined) {
    checkPort(v, 'networking.advertisedPort', networking.advertisedPort);
    if (!networking.advertisedAddress) v.add('networking.advertisedAddress', 'has to be defined with advertisedPort');
  }
  (networking.inbound ?? []).forEach((inbound, i) => validateInbound(v, `networking.inbound[${i}]`, inbound, networking.address ?? ''));
  (networking.outbound ?? []).forEach((outbound, i) => validateOutbound(v, `networking.outbound[${i}]`, outbound));
  validateReachableBackends(v, networking);
  if (!networking.gateway) validateListeners(v, res, networking, zoneProxy);
  if (spec.probes) validateProbes(v, spec.probes);
  if (spec.metrics) checkMetricsBackend(v, 'metrics', spec.metrics);
  return v.list;
}

function validateZoneProxy(v: Violations, res: Resource, networking: Networking): void {
  const role = res.labels[ZONE_PROXY_ROLE_LABEL];
  const roleField = `labels${key(ZONE_PROXY_ROLE_LABEL)}`;
  if (role === undefined || role === '') v.add(roleField, 'cannot be empty');
  else if (!zoneProxyRole(res)) v.add(roleField, `invalid value "${role}". Available values are: ${ZONE_PROXY_ROLES.join(', ')}`);
  if (networking.gateway) v.add('networking.gateway', 'gateway cannot be defined for zone proxies');
}

function validateAdminPort(v: Violations, networking: Networking, listeners: EffectiveListener[]): void {
  const port = networking.admin?.port;
  if (!port) return;
  const field = 'networking.admin.port';
  if ((networking.inbound ?? []).some((i) => i.port === port)) v.add(field, 'must differ from inbound');
  if ((networking.outbound ?? []).some((o) => o.port === port && (!o.address || o.address === '127.0.0.1'))) {
    v.add(field, 'must differ from outbound');
  }
  if (listeners.some((l) => l.port === port)) v.add(field, 'must differ from listener');
}

function validateGateway(v: Violations, networking: Networking, spec: DataplaneSpec): void {
  const gateway = networking.gateway!;
  const kind = gateway.type === 'BUILTIN' ? 'builtin' : 'delegated';
  if (networking.inbound?.length) v.add('networking.inbound', `inbound cannot be defined for ${kind} gateways`);
  if (kind === 'builtin' && networking.outbound?.length) v.add('networking.outbound', 'outbound cannot be defined for builtin gateways');
  if (networking.listeners?.length) v.add('networking.listeners', `listeners cannot be defined for ${kind} gateways`);
  if (kind === 'builtin' && spec.probes) v.add('networking.probes', 'probes cannot be defined for builtin gateways');
  const tags = gateway.tags ?? {};
  if (Object.keys(tags).length === 0) return;
  if (tags[SERVICE_TAG] === undefined) v.add('networking.gateway.tags', `mandatory tag "${SERVICE_TAG}" is missing`);
  const protocol = tags[PROTOCOL_TAG];
  if (protocol !== undefined && protocol !== 'tcp') {
    v.add(`networking.gateway.tags${key(PROTOCOL_TAG)}`, `other values than tcp are not allowed, provided value "${protocol}"`);
  }
  checkDataplaneTags(v, 'networking.gateway.tags', tags);
}

function validateInbound(v: Violations, at: string, inbound: Inbound, dpAddress: string): void {
  checkPort(v, `${at}.port`, inbound.port);
  if (inbound.servicePort) checkPort(v, `${at}.servicePort`, inbound.servicePort);
  const sameEndpoint = !inbound.servicePort || inbound.servicePort === inbound.port;
  if (inbound.serviceAddress) {
    if (!isIpAddress(inbound.serviceAddress)) v.add(`${at}.serviceAddress`, 'serviceAddress has to be valid IP address');
    const listenAddress = inbound.address || dpAddress;
    if (inbound.serviceAddress === listenAddress && sameEndpoint) {
      v.add(`${at}.serviceAddress`, 'serviceAddress and servicePort has to differ from address and port');
    }
  }
  if (inbound.address && !isIpAddress(inbound.address)) v.add(`${at}.address`, 'address has to be valid IP address');

  const tags = inbound.tags ?? {};
  const protocol = tags[PROTOCOL_TAG];
  if (protocol !== undefined && !SUPPORTED_PROTOCOLS.includes(protocol)) {
    v.add(`${at}.tags${key(PROTOCOL_TAG)}`, `tag "${PROTOCOL_TAG}" has an invalid value "${protocol}". ${PROTOCOLS_HINT}`);
  }
  checkDataplaneTags(v, `${at}.tags`, tags);
  if (Object.keys(tags).length > 0 && tags[SERVICE_TAG] === undefined) v.add(`${at}.tags${key(SERVICE_TAG)}`, 'tag has to exist');
  if (inbound.protocol !== undefined && inbound.protocol !== '' && !SUPPORTED_PROTOCOLS.includes(inbound.protocol)) {
    v.add(`${at}.protocol`, `has an invalid value "${inbound.protocol}". ${PROTOCOLS_HINT}`);
  }

  const probe = inbound.serviceProbe;
  if (probe) {
    checkPositiveDuration(v, `${at}.serviceProbe.interval`, probe.interval);
    checkPositiveDuration(v, `${at}.serviceProbe.timeout`, probe.timeout);
    for (const t of ['unhealthyThreshold', 'healthyThreshold'] as const) {
      if (probe[t] !== undefined && probe[t]! <= 0) v.add(`${at}.serviceProbe.${t}`, 'must have a positive value');
    }
  }
}

function validateOutbound(v: Violations, at: string, outbound: Outbound): void {
  checkPort(v, `${at}.port`, outbound.port);
  if (outbound.address && !isIpAddress(outbound.address)) v.add(`${at}.address`, 'address has to be valid IP address');
  const tags = outbound.tags ?? {};
  const hasTags = Object.keys(tags).length > 0;
  const ref = outbound.backendRef;
  if (ref) {
    if (!BACKEND_REF_KINDS.includes(ref.kind ?? '')) v.add(`${at}.backendRef.kind`, BACKEND_REF_KIND_REASON);
    if (!ref.name && Object.keys(ref.labels ?? {}).length === 0) v.add(`${at}.backendRef`, "either 'name' or 'labels' should be specified");
    if (ref.kind !== 'MeshExternalService') checkPort(v, `${at}.backendRef.port`, ref.port);
    if (hasTags) v.add(`${at}.backendRef`, 'both backendRef and tags/service cannot be defined');
    return;
  }
  if (tags[SERVICE_TAG] === undefined) v.add(`${at}.tags`, `mandatory tag "${SERVICE_TAG}" is missing`);
  checkDataplaneTags(v, `${at}.tags`, tags);
}

function validateReachableBackends(v: Violations, networking: Networking): void {
  // Kuma reports these under the misspelt `transparentProxing`; kept for compatibility.
  (networking.transparentProxying?.reachableBackends?.refs ?? []).forEach((ref, i) => {
    const at = `networking.transparentProxing.reachableBackends.refs[${i}]`;
    if (!BACKEND_REF_KINDS.includes(ref.kind ?? '')) v.add(`${at}.kind`, BACKEND_REF_KIND_REASON);
    const hasLabels = Object.keys(ref.labels ?? {}).length > 0;
    if (ref.name && !isRfc1123Subdomain(ref.name)) v.add(`${at}.name`, INVALID_NAME_REASON);
    if (!ref.name && !hasLabels) {
      if (ref.namespace) v.add(at, 'name is required, when namespace is defined');
      else v.add(at, 'name or labels are required');
    }
    if (ref.name && hasLabels) v.add(`${at}.labels`, 'labels cannot be defined when name is specified');
  });
}

function validateListeners(v: Violations, res: Resource, networking: Networking, zoneProxy: boolean): void {
  const listeners = networking.listeners ?? [];
  const role = zoneProxyRole(res);
  const inboundNames = new Set((networking.inbound ?? []).map((i) => i.name).filter((n): n is string => !!n));
  const listenerNames = new Set<string>();
  listeners.forEach((l: Listener, i) => {
    const at = `networking.listeners[${i}]`;
    if (l.type !== 'ZoneIngress' && l.type !== 'ZoneEgress') v.add(`${at}.type`, 'type must be ZoneIngress or ZoneEgress');
    else if (zoneProxy && role && !listenerTypesOfRole(role).includes(l.type)) {
      v.add(`${at}.type`, `type ${l.type} is not allowed for zone proxy role "${role}"`);
    }
    // A zone proxy's listener may leave address (networking.address) and port (role default) out.
    if (!zoneProxy || l.address !== undefined) checkBindAddress(v, `${at}.address`, l.address);
    if (!zoneProxy || l.port !== undefined) checkPort(v, `${at}.port`, l.port);
    if (l.name) {
      if (inboundNames.has(l.name) || listenerNames.has(l.name)) v.add(`${at}.name`, `name "${l.name}" must be unique across inbounds and listeners`);
      listenerNames.add(l.name);
    }
  });
  checkListenerAddresses(v, networking, zoneProxy ? effectiveListeners(res) : declaredListeners(listeners));
}

function declaredListeners(listeners: Listener[]): EffectiveListener[] {
  return listeners.flatMap((l, index) =>
    l.type === 'ZoneIngress' || l.type === 'ZoneEgress'
      ? [{ type: l.type, address: l.address ?? '', port: l.port ?? 0, name: l.name ?? '', state: 'Ready' as const, index }]
      : [],
  );
}

/** No two listeners, and no listener and inbound, on one address:port. */
function checkListenerAddresses(v: Violations, networking: Networking, listeners: EffectiveListener[]): void {
  const at = (l: EffectiveListener) => (l.index !== undefined ? `networking.listeners[${l.index}]` : 'networking.listeners');
  const inbounds = new Set((networking.inbound ?? []).map((i) => `${i.address || networking.address}:${i.port}`));
  listeners.forEach((l, i) => {
    const addrPort = `${l.address}:${l.port}`;
    const earlier = listeners.slice(0, i).find((o) => o.address === l.address && o.port === l.port);
    if (earlier) {
      const reported = l.index !== undefined ? l : earlier;
      const reason = earlier.type === l.type ? 'is already used by another listener' : 'is used by listeners of different types';
      v.add(at(reported), `address:port ${addrPort} ${reason}`);
    }
    if (inbounds.has(addrPort)) v.add(at(l), `address:port ${addrPort} collides with an inbound listener`);
  });
}

function validateProbes(v: Violations, probes: NonNullable<DataplaneSpec['probes']>): void {
  checkPort(v, 'probes.port', probes.port);
  (probes.endpoints ?? []).forEach((e, i) => {
    checkPort(v, `probes.endpoints[${i}].inboundPort`, e.inboundPort);
    checkUrlPath(v, `probes.endpoints[${i}].inboundPath`, e.inboundPath);
    checkUrlPath(v, `probes.endpoints[${i}].path`, e.path);
  });
}

export const dataplaneDescriptor: ResourceDescriptor = {
  name: 'Dataplane',
  scope: 'Mesh',
  path: 'dataplanes',
  cliArg: 'dataplane',
  cliListArg: 'dataplanes',
  singularDisplayName: 'Dataplane',
  pluralDisplayName: 'Dataplanes',
  shortName: 'dp',
  flat: true,
  hasInsights: true,
  providedByZone: true,
  schema,
  validate,
};
