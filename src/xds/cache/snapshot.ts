// A snapshot is everything one proxy is told: resources by type URL, then by name.
// Versions are content hashes, so the same configuration always gets the same version and a
// regenerated but identical snapshot is recognisably "no change".
import { createHash } from 'node:crypto';
import type { AnyMessage } from '../../envoy/protos.js';

export interface CachedResource {
  name: string;
  /** Hash of the encoded resource bytes. */
  version: string;
  any: AnyMessage;
}

/** One named, packed Envoy resource, as the typed builders produce it. */
export interface NamedResource {
  name: string;
  any: AnyMessage;
}

export interface Snapshot {
  /** Hash over every resource's type, name and version. */
  version: string;
  /** typeUrl → name → resource */
  resources: Map<string, Map<string, CachedResource>>;
  /** typeUrl → hash over that type's resources; used as SotW version_info and Delta system_version_info. */
  typeVersions: Map<string, string>;
}

function shortHash(parts: Iterable<string | Uint8Array>): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(part);
    hash.update('\0');
  }
  return hash.digest('base64url').slice(0, 22);
}

export function resourceVersion(any: AnyMessage): string {
  return shortHash([any.type_url, any.value]);
}

/** A resource with its version, hashed once: it can then go into many snapshots for free. */
export function cachedResource({ name, any }: NamedResource): CachedResource {
  return { name, version: resourceVersion(any), any };
}

/**
 * Builds a snapshot; a resource named twice for one type is a bug in the caller and throws.
 * Resources that already carry a version (CachedResource) are taken as they are, not re-hashed,
 * and a type whose resources are the very objects of `previous` keeps its version and its map
 * (streams tell an unchanged type by the map's identity).
 */
export function makeSnapshot(resources: Iterable<NamedResource | CachedResource>, previous?: Snapshot): Snapshot {
  const byType = new Map<string, Map<string, CachedResource>>();
  for (const resource of resources) {
    const { name, any } = resource;
    let named = byType.get(any.type_url);
    if (!named) byType.set(any.type_url, (named = new Map()));
    if (named.has(name)) throw new Error(`duplicate ${any.type_url} resource "${name}" in snapshot`);
    named.set(name, 'version' in resource ? resource : cachedResource(resource));
  }
  const typeVersions = new Map<string, string>();
  const typeUrls = [...byType.keys()].sort();
  for (const typeUrl of typeUrls) {
    const named = byType.get(typeUrl)!;
    const before = previous?.resources.get(typeUrl);
    if (before && sameResources(before, named)) {
      byType.set(typeUrl, before);
      typeVersions.set(typeUrl, previous!.typeVersions.get(typeUrl)!);
    } else {
      typeVersions.set(typeUrl, shortHash(versionLines(named)));
    }
  }
  const version = shortHash(typeUrls.flatMap((t) => [t, typeVersions.get(t)!]));
  return { version, resources: byType, typeVersions };
}

function sameResources(a: Map<string, CachedResource>, b: Map<string, CachedResource>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, resource] of b) if (a.get(name) !== resource) return false;
  return true;
}

function versionLines(named: Map<string, CachedResource>): string[] {
  return [...named.values()].map((r) => `${r.name}=${r.version}`).sort();
}

/** Version of a type in a snapshot; a type with no resources has a fixed "empty" version. */
export function typeVersionOf(snapshot: Snapshot, typeUrl: string): string {
  return snapshot.typeVersions.get(typeUrl) ?? EMPTY_TYPE_VERSION;
}

const EMPTY_TYPE_VERSION = shortHash([]);
