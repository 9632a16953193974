// The resource model's entry point: importing it registers every built-in kind once.
import { registerDescriptor } from './descriptor.js';
import { dataplaneInsightDescriptor } from './kinds/dataplane-insight.js';
import { dataplaneDescriptor } from './kinds/dataplane.js';
import { globalSecretDescriptor } from './kinds/global-secret.js';
import { meshInsightDescriptor } from './kinds/mesh-insight.js';
import { meshDescriptor } from './kinds/mesh.js';
import { meshExternalServiceDescriptor } from './kinds/mesh-external-service.js';
import { meshMultiZoneServiceDescriptor } from './kinds/mesh-multizone-service.js';
import { meshServiceDescriptor } from './kinds/mesh-service.js';
import { secretDescriptor } from './kinds/secret.js';
import { zoneEgressInsightDescriptor } from './kinds/zone-egress-insight.js';
import { zoneEgressDescriptor } from './kinds/zone-egress.js';
import { zoneIngressInsightDescriptor } from './kinds/zone-ingress-insight.js';
import { zoneIngressDescriptor } from './kinds/zone-ingress.js';
import { zoneInsightDescriptor } from './kinds/zone-insight.js';
import { zoneDescriptor } from './kinds/zone.js';

for (const d of [
  meshDescriptor,
  dataplaneDescriptor,
  zoneIngressDescriptor,
  zoneEgressDescriptor,
  secretDescriptor,
  globalSecretDescriptor,
  zoneDescriptor,
  dataplaneInsightDescriptor,
  zoneInsightDescriptor,
  zoneIngressInsightDescriptor,
  zoneEgressInsightDescriptor,
  meshInsightDescriptor,
  meshExternalServiceDescriptor,
  meshServiceDescriptor,
  meshMultiZoneServiceDescriptor,
]) {
  registerDescriptor(d);
}

export * from './descriptor.js';
export * from './resource.js';
export * from './well-known.js';
export { computeLabels, kriOf, validateLabels, validateMeshName, validateName, type ApiContext } from './meta.js';
export { validateResource, validateSpecSchema } from './validate.js';
export { fromWire, parseDocuments, toWire, type FromWireResult, type ParsedDocument, type WireResource } from './codec.js';
export { effectiveListeners, isZoneProxy, zoneProxyRole, listenerTypesOfRole, type EffectiveListener } from './zone-proxy.js';
export { membershipViolations, selectorMatches } from './membership.js';
export { mtlsEnabled, passthroughEnabled, type MeshSpec, type CaBackend } from './kinds/mesh.js';
export { zoneEnabled, type ZoneSpec } from './kinds/zone.js';
export type { DataplaneSpec, Inbound, Outbound, Listener, Networking } from './kinds/dataplane-spec.js';
export { type MeshExternalServiceSpec } from './kinds/mesh-external-service.js';
export { portSection, type MeshServiceSpec, type MeshServicePort, type MeshServiceStatus } from './kinds/mesh-service.js';
export { multiZonePortSection, type MeshMultiZoneServiceSpec } from './kinds/mesh-multizone-service.js';
export { destinationSni, formatSni, parseSni, sniParts, sniProblem, type SniParts } from './sni.js';
export type { SecretSpec } from './kinds/secret.js';
export type { ZoneIngressSpec } from './kinds/zone-ingress.js';
export type { ZoneEgressSpec } from './kinds/zone-egress.js';
