// The one storage contract. Every backend (memory, embedded PGlite, PostgreSQL) implements it and
// passes the same contract test suite (store.contract.ts).
import type { Labels, Resource, ResourceKey } from '../api/resource.js';

export interface CreateRequest {
  type: string;
  mesh: string;
  name: string;
  labels: Labels;
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
  /** Defaults to now. Multi-zone sync passes the origin's times through. */
  creationTime?: string;
}

export interface UpdateRequest extends CreateRequest {
  /** The version the caller read. A different stored version → ConflictError. */
  version: number;
}

export interface ListOptions {
  /** Only this mesh ('' for Global kinds); all meshes when undefined. */
  mesh?: string;
  /** Exact label equality, all must match. */
  labels?: Labels;
  /** Substring of the name. */
  nameContains?: string;
}

export type ChangeKind = 'create' | 'update' | 'delete';

export interface ChangeEvent {
  kind: ChangeKind;
  type: string;
  mesh: string;
  name: string;
}

export type ChangeListener = (event: ChangeEvent) => void;

export interface ResourceStore {
  /** Creates the resource at version 1. Existing key → AlreadyExistsError. */
  create(req: CreateRequest): Promise<Resource>;
  /** Replaces labels/spec/status when `version` matches; bumps version and modificationTime. */
  update(req: UpdateRequest): Promise<Resource>;
  /** Missing → NotFoundError. With a version, a stale one → ConflictError. */
  delete(key: ResourceKey, opts?: { version?: number }): Promise<void>;
  get(key: ResourceKey): Promise<Resource | undefined>;
  /** Sorted by (mesh, name). */
  list(type: string, opts?: ListOptions): Promise<Resource[]>;
  count(type: string, opts?: ListOptions): Promise<number>;
  /** Change events after commit, from this process and (PostgreSQL) other replicas. Returns unsubscribe. */
  watch(listener: ChangeListener): () => void;
  close(): Promise<void>;
}

export class StoreError extends Error {}

export class NotFoundError extends StoreError {
  constructor(public readonly key: ResourceKey) {
    super(`resource not found: type="${key.type}" name="${key.name}" mesh="${key.mesh}"`);
    this.name = 'NotFoundError';
  }
}

export class AlreadyExistsError extends StoreError {
  constructor(public readonly key: ResourceKey) {
    super(`resource already exists: type="${key.type}" name="${key.name}" mesh="${key.mesh}"`);
    this.name = 'AlreadyExistsError';
  }
}

export class ConflictError extends StoreError {
  constructor(public readonly key: ResourceKey) {
    super(`resource conflict: type="${key.type}" name="${key.name}" mesh="${key.mesh}"`);
    this.name = 'ConflictError';
  }
}

export function matchesListOptions(r: Resource, opts: ListOptions | undefined): boolean {
  if (!opts) return true;
  if (opts.mesh !== undefined && r.mesh !== opts.mesh) return false;
  if (opts.nameContains && !r.name.includes(opts.nameContains)) return false;
  if (opts.labels) {
    for (const [k, v] of Object.entries(opts.labels)) {
      if (r.labels[k] !== v) return false;
    }
  }
  return true;
}

export function compareResources(a: Resource, b: Resource): number {
  if (a.mesh !== b.mesh) return a.mesh < b.mesh ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return 0;
}
