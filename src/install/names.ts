// Kubernetes object names built from a release, a mesh and a role. Mesh names may be up to 253
// characters and contain '_' and '.', Service and Deployment names may not: they must be DNS-1035
// labels of at most 63 characters. When the plain name does not fit, part of the mesh name is kept
// and a hash of the whole input is added, so two meshes never end up with the same name.
import { createHash } from 'node:crypto';

export const MAX_NAME = 63;
const HASH_LEN = 8;

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, HASH_LEN);
}

/** `<release>-<mesh>-<suffix>`, or `<release>-<mesh prefix>-<hash>-<suffix>` when that is not a valid ≤ 63-char name. */
export function meshObjectName(release: string, mesh: string, suffix: string): string {
  const plain = `${release}-${mesh}-${suffix}`;
  if (plain.length <= MAX_NAME && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(plain)) return plain;
  const h = hash(`${release}\u0000${mesh}\u0000${suffix}`);
  const room = MAX_NAME - release.length - suffix.length - h.length - 3;
  const meshPart = mesh.replace(/[^a-z0-9-]/g, '-').slice(0, Math.max(room, 0)).replace(/-+$/, '');
  const name = [release, meshPart, h, suffix].filter(Boolean).join('-');
  // A release name too long to leave any room: hash it all.
  return name.length <= MAX_NAME ? name : `${release.slice(0, MAX_NAME - h.length - suffix.length - 2).replace(/-+$/, '')}-${h}-${suffix}`;
}

/** A label value (≤ 63 chars, alphanumeric at both ends); undefined when the value cannot be one. */
export function labelValue(v: string): string | undefined {
  return v.length <= MAX_NAME && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v) ? v : undefined;
}
