// What flows between global and zones, and what it is called on the receiving side (Kuma's KDS
// mappers, pkg/kds/hash and pkg/kds/context): origin/zone/display-name labels and the hash suffix.
import type { Labels, Resource } from '../api/resource.js';
import { allDescriptors } from '../api/descriptor.js';
import { DISPLAY_NAME_LABEL, ORIGIN_LABEL, ZONE_LABEL } from '../api/well-known.js';

export const NAMESPACE_LABEL = 'k8s.kuma.io/namespace';

/** Kinds whose names are kept as they are on the zone (Kuma's `SkipKDSHash`). */
const SKIP_HASH = new Set(['Mesh', 'Config', 'Secret', 'GlobalSecret']);

/** Legacy zone → global kinds (ZoneIngress/ZoneEgress and their insights are 2.x zone-provided). */
const ZONE_TO_GLOBAL_KINDS = ['Dataplane', 'DataplaneInsight', 'ZoneIngress', 'ZoneIngressInsight', 'ZoneEgress', 'ZoneEgressInsight', 'MeshService'];

/**
 * Zone-originated kinds global forwards on to the OTHER zones (Kuma's remote zone proxies and service
 * endpoints): a zone needs them to route cross-zone traffic through the remote zones' ingresses.
 */
const FORWARDED_KINDS = ['Dataplane', 'ZoneIngress', 'MeshService'];

/** GlobalSecrets that never leave global (Kuma's GlobalProvidedFilter). */
const GLOBAL_ONLY_SECRETS = ['envoy-admin-ca', 'admin-user-token', 'inter-cp-ca', 'user-token-revocations'];

const ZONE_TOKEN_PRIVATE_PREFIX = 'zone-token-signing-key';
const ZONE_TOKEN_PUBLIC_PREFIX = 'zone-token-signing-public-key';

/** Types global sends to zones: Mesh, policies, Secrets, GlobalSecrets (not Zone/ZoneInsight). */
export function globalToZoneTypes(): string[] {
  return allDescriptors()
    .filter((d) => d.name !== 'Zone' && !d.readOnly && (d.providedByGlobal || d.isPolicy))
    .map((d) => d.name)
    .sort(syncOrder);
}

/** Types a zone sends to global: proxies, zone ingress/egress, their insights, zone-originated policies. */
export function zoneToGlobalTypes(): string[] {
  const names = new Set(allDescriptors().map((d) => d.name));
  const policies = allDescriptors().filter((d) => d.isPolicy && d.providedByZone).map((d) => d.name);
  return [...ZONE_TO_GLOBAL_KINDS.filter((n) => names.has(n)), ...policies];
}

/** Zone-originated types global forwards to the other zones (never back to the zone they came from). */
export function zoneToZoneTypes(): string[] {
  const names = new Set(allDescriptors().map((d) => d.name));
  return FORWARDED_KINDS.filter((n) => names.has(n));
}

/** Meshes first (everything else lives in one), then the rest by name. */
function syncOrder(a: string, b: string): number {
  if (a === 'Mesh') return -1;
  if (b === 'Mesh') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a 64 → hex → k8s SafeEncodeString alphabet: Kuma's 16-char name suffix. */
export function hashSuffix(values: string[]): string {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (const byte of Buffer.from(values.join(''), 'utf8')) {
    h ^= BigInt(byte);
    h = (h * prime) & 0xffffffffffffffffn;
  }
  const hex = h.toString(16).padStart(16, '0');
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (const c of hex) out += alphabet[c.charCodeAt(0) % alphabet.length];
  return out;
}

/** `<displayName truncated to 236>-<suffix>`; the suffix covers mesh, name, zone and namespace labels. */
export function hashedName(mesh: string, displayName: string, labels: Labels): string {
  const values = [mesh, displayName];
  if (labels[ZONE_LABEL] !== undefined) values.push(labels[ZONE_LABEL]);
  if (labels[NAMESPACE_LABEL] !== undefined) values.push(labels[NAMESPACE_LABEL]);
  return `${displayName.slice(0, 236)}-${hashSuffix(values)}`;
}

/** A resource as it travels: everything the receiver needs to store it. */
export interface WireResource {
  type: string;
  mesh: string;
  name: string;
  labels: Labels;
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
  creationTime?: string;
}

export interface WireKey {
  type: string;
  mesh: string;
  name: string;
}

export function wireKey(k: WireKey): string {
  return `${k.type}/${k.mesh}/${k.name}`;
}

export function toWire(r: Resource): WireResource {
  const w: WireResource = { type: r.type, mesh: r.mesh, name: r.name, labels: { ...r.labels }, spec: r.spec, creationTime: r.creationTime };
  if (r.status !== undefined) w.status = r.status;
  return w;
}

/**
 * Global's outgoing filter + mapper. Returns undefined when the resource is not sent to zones:
 * zone-originated ones, and GlobalSecrets that must stay on global. Private zone-token keys become
 * their public halves (`zone-token-signing-public-key-N`), so zones verify but cannot mint.
 * With `targetZone`, zone-originated Dataplanes/ZoneIngresses of OTHER zones are forwarded as they
 * are stored on global (global's hashed name, `kuma.io/origin: zone`, `kuma.io/zone: <their zone>`).
 */
export function globalOutbound(r: Resource, toPublicKey: (privatePemBase64: string) => string | undefined, targetZone?: string): WireResource | undefined {
  if (r.labels['kuma.io/kds-sync'] === 'disabled') return undefined;
  if (r.labels[ORIGIN_LABEL] === 'zone') {
    const from = r.labels[ZONE_LABEL];
    if (targetZone === undefined || !from || from === targetZone || !FORWARDED_KINDS.includes(r.type)) return undefined;
    const fw = toWire(r);
    delete fw.status;
    return fw;
  }
  const w = toWire(r);
  if (r.type === 'GlobalSecret') {
    if (GLOBAL_ONLY_SECRETS.includes(r.name) || r.name.startsWith('user-token-signing-key')) return undefined;
    if (r.name.startsWith(`${ZONE_TOKEN_PRIVATE_PREFIX}-`)) {
      const pub = toPublicKey(String(r.spec['data'] ?? ''));
      if (!pub) return undefined;
      w.name = `${ZONE_TOKEN_PUBLIC_PREFIX}-${r.name.slice(ZONE_TOKEN_PRIVATE_PREFIX.length + 1)}`;
      w.spec = { data: pub };
    }
  }
  w.labels[ORIGIN_LABEL] = 'global';
  delete w.status;
  return w;
}

/** Zone's outgoing filter: only what the zone itself originated (not what global forwarded from other zones). */
export function zoneOutbound(r: Resource, localZone?: string): WireResource | undefined {
  if (r.labels[ORIGIN_LABEL] === 'global') return undefined;
  if (isRemoteOnZone(r, localZone)) return undefined;
  if (r.labels['kuma.io/kds-sync'] === 'disabled') return undefined;
  return toWire(r);
}

/** On a zone: a resource another zone originated (forwarded by global). */
export function isRemoteOnZone(r: Pick<Resource, 'labels'>, localZone?: string): boolean {
  const zone = r.labels[ZONE_LABEL];
  return Boolean(localZone) && r.labels[ORIGIN_LABEL] === 'zone' && zone !== undefined && zone !== '' && zone !== localZone;
}

/** What a zone's global-to-zone receiver owns: global-originated resources and other zones' forwarded ones. */
export function syncedOnZone(r: Pick<Resource, 'labels'>, localZone: string): boolean {
  return r.labels[ORIGIN_LABEL] === 'global' || isRemoteOnZone(r, localZone);
}

/**
 * How a zone stores a resource received from global: origin global, hash suffix except SkipKDSHash
 * kinds. Other zones' forwarded resources keep their labels and global's (already hashed) name.
 */
export function mapOnZone(w: WireResource): WireResource {
  if (w.labels[ORIGIN_LABEL] === 'zone' && FORWARDED_KINDS.includes(w.type)) return { ...w, labels: { ...w.labels } };
  const labels: Labels = { ...w.labels, [ORIGIN_LABEL]: 'global' };
  if (SKIP_HASH.has(w.type)) return { ...w, labels };
  labels[DISPLAY_NAME_LABEL] ??= w.name;
  return { ...w, name: hashedName(w.mesh, w.name, labels), labels };
}

/** How global stores a resource received from zone `zone`: forced origin/zone labels, hashed name. */
export function mapOnGlobal(w: WireResource, zone: string): WireResource {
  const labels: Labels = { ...w.labels, [ORIGIN_LABEL]: 'zone', [ZONE_LABEL]: zone };
  labels[DISPLAY_NAME_LABEL] = w.labels[DISPLAY_NAME_LABEL] ?? w.name;
  const spec = w.type === 'Dataplane' ? pinGatewayZoneTag(w.spec, zone) : w.spec;
  return { ...w, name: hashedName(w.mesh, labels[DISPLAY_NAME_LABEL], labels), labels, spec };
}

/** Receiver-side name of a removal (the sender only knows its own name). */
export function mapKeyOnZone(k: WireKey): WireKey {
  // Forwarded kinds (never global-originated) are stored under global's name.
  return SKIP_HASH.has(k.type) || FORWARDED_KINDS.includes(k.type) ? k : { ...k, name: hashedName(k.mesh, k.name, {}) };
}

export function mapKeyOnGlobal(k: WireKey, zone: string): WireKey {
  return { ...k, name: hashedName(k.mesh, k.name, { [ZONE_LABEL]: zone }) };
}

/** A zone may not claim another zone in a gateway's `kuma.io/zone` tag. */
function pinGatewayZoneTag(spec: Record<string, unknown>, zone: string): Record<string, unknown> {
  const gw = (spec['networking'] as { gateway?: { tags?: Record<string, string> } } | undefined)?.gateway;
  if (!gw?.tags || gw.tags[ZONE_LABEL] === undefined || gw.tags[ZONE_LABEL] === zone) return spec;
  const copy = structuredClone(spec);
  (copy['networking'] as { gateway: { tags: Record<string, string> } }).gateway.tags[ZONE_LABEL] = zone;
  return copy;
}
