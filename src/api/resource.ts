// The resource model shared by every layer: a resource is meta + spec.
// Kuma's Universal wire format flattens the spec of "legacy" kinds (Mesh, Dataplane, ...) into the
// top-level object and nests it under `spec` for "plugin" kinds (MeshService, Mesh* policies).

export type Labels = Record<string, string>;

export type Scope = 'Global' | 'Mesh';

/** A resource as the store keeps it and the core hands it around. */
export interface Resource<Spec = Record<string, unknown>> {
  type: string;
  /** '' for Global-scoped kinds. */
  mesh: string;
  name: string;
  labels: Labels;
  /** RFC 3339 with milliseconds. */
  creationTime: string;
  modificationTime: string;
  /** Opaque optimistic-concurrency token: starts at 1, +1 per update. Never shown on the REST API. */
  version: number;
  spec: Spec;
  /** Plugin kinds with a status sub-object (MeshService, ...). */
  status?: Record<string, unknown>;
}

/** Key of a resource in the store. */
export interface ResourceKey {
  type: string;
  mesh: string;
  name: string;
}

export function keyString(k: ResourceKey): string {
  return `${k.type}/${k.mesh}/${k.name}`;
}

/** One field-level problem, as Kuma's `invalid_parameters` entries. */
export interface Violation {
  field: string;
  reason: string;
}

/** Thrown for input that breaks a rule; carries every violation found, not just the first. */
export class ValidationError extends Error {
  constructor(
    public readonly violations: Violation[],
    message = 'Resource is not valid',
  ) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** Collects violations with a field-path prefix, so nested validators compose. */
export class Violations {
  readonly list: Violation[] = [];

  add(field: string, reason: string): void {
    this.list.push({ field, reason });
  }

  addAll(prefix: string, other: Violation[]): void {
    for (const v of other) {
      this.list.push({ field: joinField(prefix, v.field), reason: v.reason });
    }
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new ValidationError(this.list);
  }
}

export function joinField(prefix: string, field: string): string {
  if (!prefix) return field;
  if (!field) return prefix;
  return field.startsWith('[') ? `${prefix}${field}` : `${prefix}.${field}`;
}

export function nowRfc3339(): string {
  return new Date().toISOString();
}
