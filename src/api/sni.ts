// Destination SNIs (SKEIN-SPEC §2, Kuma MADR 101): `sni.<msvc|extsvc|mzsvc>.<mesh>[.<zone>[.<namespace>]].<name>.<port>`.
// Built from the destination resource's KRI parts: zone = `kuma.io/zone`, namespace =
// `k8s.kuma.io/namespace`, name = `kuma.io/display-name` (the original name, not a synced copy's
// hashed one). The segment count tells which case it is, so an SNI can be read back.
import type { Resource } from './resource.js';
import { DISPLAY_NAME_LABEL, NAMESPACE_LABEL, ZONE_LABEL } from './well-known.js';

export type SniKind = 'msvc' | 'extsvc' | 'mzsvc';

const SNI_KIND_OF_TYPE: Record<string, SniKind> = {
  MeshService: 'msvc',
  MeshExternalService: 'extsvc',
  MeshMultiZoneService: 'mzsvc',
};

export interface SniParts {
  kind: SniKind;
  mesh: string;
  zone?: string;
  namespace?: string;
  name: string;
  /** Port name, or the port number. */
  section: string;
}

const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why these parts make no usable SNI, or undefined (Kuma `ValidateKRI`). */
export function sniProblem(p: SniParts): string | undefined {
  if (!p.mesh || !p.name || !p.section) return 'mesh, name and sectionName must be non-empty';
  const fields: [string, string | undefined][] = [['mesh', p.mesh], ['zone', p.zone], ['namespace', p.namespace], ['name', p.name], ['sectionName', p.section]];
  for (const [field, value] of fields) {
    if (!value) continue;
    if (value.includes('.')) return `${field} "${value}" does not conform to RFC 1123: must not contain dots`;
    if (value.length > 63) return `${field} "${value}" does not conform to RFC 1123: must be no more than 63 characters`;
    if (!RFC1123_LABEL.test(value)) return `${field} "${value}" does not conform to RFC 1123: must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`;
  }
  const sni = formatSni(p);
  if (sni.length > 253) return `computed SNI is ${sni.length} characters which exceeds the DNS hostname limit (253)`;
  return undefined;
}

export function formatSni(p: SniParts): string {
  // The namespace only counts with a zone (global-originated resources have neither).
  const segments = ['sni', p.kind, p.mesh, p.zone ?? '', p.zone ? (p.namespace ?? '') : '', p.name, p.section];
  return segments.filter((s) => s !== '').join('.');
}

/** The inverse of formatSni, or undefined when `sni` is not a destination SNI. */
export function parseSni(sni: string): SniParts | undefined {
  const s = sni.split('.');
  if (s[0] !== 'sni' || !['msvc', 'extsvc', 'mzsvc'].includes(s[1] ?? '')) return undefined;
  const kind = s[1] as SniKind;
  if (s.length === 5) return { kind, mesh: s[2]!, name: s[3]!, section: s[4]! };
  if (s.length === 6) return { kind, mesh: s[2]!, zone: s[3]!, name: s[4]!, section: s[5]! };
  if (s.length === 7) return { kind, mesh: s[2]!, zone: s[3]!, namespace: s[4]!, name: s[5]!, section: s[6]! };
  return undefined;
}

/** The KRI parts of a destination resource (MeshService, MeshExternalService, MeshMultiZoneService). */
export function sniParts(res: Pick<Resource, 'type' | 'mesh' | 'name' | 'labels'>, section: string | number): SniParts {
  const kind = SNI_KIND_OF_TYPE[res.type];
  if (!kind) throw new Error(`resource type not supported for SNI: ${res.type}`);
  const zone = res.labels[ZONE_LABEL] || undefined;
  const namespace = res.labels[NAMESPACE_LABEL] || undefined;
  return { kind, mesh: res.mesh, zone, namespace, name: res.labels[DISPLAY_NAME_LABEL] ?? res.name, section: String(section) };
}

/** The SNI of one port of a destination resource, or undefined when its KRI is not valid for one. */
export function destinationSni(res: Pick<Resource, 'type' | 'mesh' | 'name' | 'labels'>, section: string | number): string | undefined {
  const parts = sniParts(res, section);
  return sniProblem(parts) ? undefined : formatSni(parts);
}
