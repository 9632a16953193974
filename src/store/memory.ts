// In-process store for tests and demos. Same contract as the SQL stores; nothing survives a restart.
import { cloneJson } from './clone.js';
import { nowRfc3339, type Resource, type ResourceKey } from '../api/resource.js';
import { ChangeFeed, type StoreLogger } from './change-feed.js';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  compareResources,
  matchesListOptions,
  type ChangeListener,
  type CreateRequest,
  type ListOptions,
  type ResourceStore,
  type UpdateRequest,
} from './store.js';
import { normalizeTime } from './times.js';

export class MemoryStore implements ResourceStore {
  private readonly resources = new Map<string, Resource>();
  private readonly feed: ChangeFeed;

  constructor(opts: { logger?: StoreLogger } = {}) {
    this.feed = new ChangeFeed(opts.logger);
  }

  async create(req: CreateRequest): Promise<Resource> {
    const id = idOf(req);
    if (this.resources.has(id)) throw new AlreadyExistsError(keyOf(req));
    const now = nowRfc3339();
    const stored: Resource = {
      type: req.type,
      mesh: req.mesh,
      name: req.name,
      labels: cloneJson(req.labels),
      creationTime: req.creationTime ? normalizeTime(req.creationTime) : now,
      modificationTime: now,
      version: 1,
      spec: cloneJson(req.spec),
      ...(req.status !== undefined && { status: cloneJson(req.status) }),
    };
    this.resources.set(id, stored);
    this.feed.publish({ kind: 'create', ...keyOf(req) });
    return cloneJson(stored);
  }

  async update(req: UpdateRequest): Promise<Resource> {
    const id = idOf(req);
    const current = this.resources.get(id);
    if (!current) throw new NotFoundError(keyOf(req));
    if (current.version !== req.version) throw new ConflictError(keyOf(req));
    const stored: Resource = {
      type: req.type,
      mesh: req.mesh,
      name: req.name,
      labels: cloneJson(req.labels),
      creationTime: req.creationTime ? normalizeTime(req.creationTime) : current.creationTime,
      modificationTime: nowRfc3339(),
      version: current.version + 1,
      spec: cloneJson(req.spec),
      ...(req.status !== undefined && { status: cloneJson(req.status) }),
    };
    this.resources.set(id, stored);
    this.feed.publish({ kind: 'update', ...keyOf(req) });
    return cloneJson(stored);
  }

  async delete(key: ResourceKey, opts: { version?: number } = {}): Promise<void> {
    const id = idOf(key);
    const current = this.resources.get(id);
    if (!current) throw new NotFoundError(keyOf(key));
    if (opts.version !== undefined && current.version !== opts.version) throw new ConflictError(keyOf(key));
    this.resources.delete(id);
    this.feed.publish({ kind: 'delete', ...keyOf(key) });
  }

  async get(key: ResourceKey): Promise<Resource | undefined> {
    const found = this.resources.get(idOf(key));
    return found && cloneJson(found);
  }

  async list(type: string, opts?: ListOptions): Promise<Resource[]> {
    return this.matching(type, opts)
      .sort(compareResources)
      .map((r) => cloneJson(r));
  }

  async count(type: string, opts?: ListOptions): Promise<number> {
    return this.matching(type, opts).length;
  }

  watch(listener: ChangeListener): () => void {
    return this.feed.subscribe(listener);
  }

  async close(): Promise<void> {
    this.feed.clear();
  }

  private matching(type: string, opts: ListOptions | undefined): Resource[] {
    return [...this.resources.values()].filter((r) => r.type === type && matchesListOptions(r, opts));
  }
}

function keyOf(k: ResourceKey): ResourceKey {
  return { type: k.type, mesh: k.mesh, name: k.name };
}

/** Map key; JSON keeps it unambiguous whatever characters the parts contain. */
function idOf(k: ResourceKey): string {
  return JSON.stringify([k.type, k.mesh, k.name]);
}
