// A descriptor says everything generic code needs to know about a resource kind: where it lives in
// the REST API, how the CLI names it, how it is encoded and how it is validated.
import type { Resource, Scope, Violation } from './resource.js';

export interface ResourceDescriptor {
  /** Kind name, e.g. `Mesh`, `Dataplane`, `MeshTrafficPermission`. */
  name: string;
  scope: Scope;
  /** REST collection segment, e.g. `meshes`, `dataplanes`, `zoneingresses`. */
  path: string;
  /** Extra REST collection segments accepted as aliases (e.g. `global-secrets`). */
  altPaths?: string[];
  /** CLI singular (`skein get mesh NAME`) and plural (`skein get meshes`) arguments. */
  cliArg: string;
  cliListArg: string;
  cliAliases?: string[];
  singularDisplayName: string;
  pluralDisplayName: string;
  /** KRI short name (`m`, `dp`, ...); undefined when the kind has none. */
  shortName?: string;
  /** Not writable over the API (insights). */
  readOnly?: boolean;
  /** Only admins may read or write it (secrets). */
  adminOnly?: boolean;
  /** A targetRef policy. */
  isPolicy?: boolean;
  /**
   * Legacy (proto) kinds are flattened on the wire: spec fields sit beside type/name/mesh.
   * Plugin kinds nest them under `spec` (and `status`).
   */
  flat: boolean;
  hasStatus?: boolean;
  hasInsights?: boolean;
  /** Multi-zone: global → zone and zone → global sync directions. */
  providedByGlobal?: boolean;
  providedByZone?: boolean;
  /** JSON schema of the spec (ajv, draft-07). Unknown fields are rejected. */
  schema: Record<string, unknown>;
  /** Fills defaults into a (schema-valid) spec. Must be idempotent. */
  applyDefaults?(spec: Record<string, unknown>): Record<string, unknown>;
  /** Semantic rules beyond the schema. Field paths are relative to the resource (e.g. `networking.address`). */
  validate?(resource: Resource): Violation[];
  /** Computed read-only fields the REST API adds beside the spec (e.g. destinations' `snis`). */
  wireExtras?(resource: Resource): Record<string, unknown>;
  /** Deprecations of a valid resource, returned with a successful PUT as `warnings` (Kuma). */
  warnings?(resource: Resource): string[];
}

const byName = new Map<string, ResourceDescriptor>();
const byPath = new Map<string, ResourceDescriptor>();
const byCliArg = new Map<string, ResourceDescriptor>();

export function registerDescriptor(d: ResourceDescriptor): void {
  if (byName.has(d.name)) throw new Error(`resource type ${d.name} registered twice`);
  byName.set(d.name, d);
  for (const p of [d.path, ...(d.altPaths ?? [])]) byPath.set(p, d);
  for (const a of [d.cliArg, d.cliListArg, ...(d.cliAliases ?? [])]) byCliArg.set(a, d);
}

export function descriptorByName(name: string): ResourceDescriptor | undefined {
  return byName.get(name);
}

export function descriptorByPath(path: string): ResourceDescriptor | undefined {
  return byPath.get(path);
}

export function descriptorByCliArg(arg: string): ResourceDescriptor | undefined {
  return byCliArg.get(arg);
}

export function allDescriptors(): ResourceDescriptor[] {
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function requireDescriptor(name: string): ResourceDescriptor {
  const d = byName.get(name);
  if (!d) throw new Error(`unknown resource type ${name}`);
  return d;
}
