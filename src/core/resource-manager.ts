// The one place resources are written: defaults, computed labels, validation, cross-resource rules
// (mesh must exist, delete protection, immutable labels), then the store. REST, CLI (via REST),
// multi-zone sync and bootstrap all write through here.
import type { Labels, Resource, ResourceKey, Violation } from '../api/resource.js';
import { ValidationError } from '../api/resource.js';
import { allDescriptors, descriptorByName, type ResourceDescriptor } from '../api/descriptor.js';
import { computeLabels, validateResource } from '../api/index.js';
import type { ListOptions, ResourceStore } from '../store/store.js';
import type { Logger } from '../observability/logger.js';
import type { CpMetrics } from '../observability/metrics.js';
import { BadRequestError, MeshNotFoundError } from './errors.js';

export interface ManagerContext {
  mode: 'standalone' | 'global' | 'zone';
  /** Zone name for zone CPs ('' otherwise). */
  zone: string;
  environment: 'universal' | 'kubernetes';
  /** Allow deleting a mesh that still has Dataplanes. */
  unsafeDelete: boolean;
}

export interface ResourceInput {
  type: string;
  mesh: string;
  name: string;
  labels: Labels;
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface UpsertResult {
  created: boolean;
  resource: Resource;
  warnings: string[];
}

export interface Page {
  total: number;
  items: Resource[];
}

/** `created` is true when the mesh did not exist before this write. */
export type MeshHook = (mesh: Resource, created: boolean) => Promise<void>;
/** Checks a Mesh against other state (e.g. provided CA secrets) before it is stored. */
export type MeshValidator = (mesh: Resource) => Promise<Violation[]>;

/** Labels that cannot change once set (Kuma's immutable computed labels). */
const IMMUTABLE_LABELS = ['kuma.io/origin', 'kuma.io/zone', 'kuma.io/display-name'];

const MAX_MESH_NAME = 63;

export class ResourceManager {
  /** Run after a mesh is created or updated (default policies, CA material, signing keys). */
  readonly meshHooks: MeshHook[] = [];
  readonly meshValidators: MeshValidator[] = [];

  constructor(
    readonly store: ResourceStore,
    readonly ctx: ManagerContext,
    private readonly logger: Logger,
    private readonly metrics?: CpMetrics,
  ) {}

  descriptor(type: string): ResourceDescriptor {
    const d = descriptorByName(type);
    if (!d) throw new BadRequestError(`invalid resource type "${type}"`);
    return d;
  }

  async get(type: string, mesh: string, name: string): Promise<Resource | undefined> {
    const d = this.descriptor(type);
    return this.timed('get', type, () => this.store.get({ type, mesh: d.scope === 'Global' ? '' : mesh, name }));
  }

  async list(type: string, opts: ListOptions = {}): Promise<Resource[]> {
    this.descriptor(type);
    return this.timed('list', type, () => this.store.list(type, opts));
  }

  async meshExists(mesh: string): Promise<boolean> {
    return (await this.store.get({ type: 'Mesh', mesh: '', name: mesh })) !== undefined;
  }

  /** Create or update (Kuma's PUT semantics: spec and labels replaced wholesale). */
  async upsert(input: ResourceInput): Promise<UpsertResult> {
    const d = this.descriptor(input.type);
    const mesh = d.scope === 'Global' ? '' : input.mesh;
    if (d.scope === 'Mesh' && !(await this.meshExists(mesh))) throw new MeshNotFoundError(mesh);

    const existing = await this.store.get({ type: d.name, mesh, name: input.name });
    const candidate = this.prepare(d, { ...input, mesh }, existing);
    const violations = [...validateResource(candidate, this.ctx), ...this.crossResourceRules(d, candidate, existing)];
    if (violations.length === 0 && d.name === 'Mesh') violations.push(...(await this.externalMeshRules(candidate)));
    if (violations.length > 0) throw new ValidationError(violations);

    const req = { type: d.name, mesh, name: input.name, labels: candidate.labels, spec: candidate.spec, status: candidate.status };
    const resource = existing
      ? await this.timed('update', d.name, () => this.store.update({ ...req, version: existing.version }))
      : await this.timed('create', d.name, () => this.store.create(req));
    if (d.name === 'Mesh') await this.runMeshHooks(resource, !existing);
    return { created: !existing, resource, warnings: [] };
  }

  /** Create only: an existing resource is an AlreadyExistsError (store). */
  async create(input: ResourceInput): Promise<Resource> {
    const d = this.descriptor(input.type);
    const mesh = d.scope === 'Global' ? '' : input.mesh;
    if (d.scope === 'Mesh' && !(await this.meshExists(mesh))) throw new MeshNotFoundError(mesh);
    const candidate = this.prepare(d, { ...input, mesh }, undefined);
    const violations = [...validateResource(candidate, this.ctx), ...this.crossResourceRules(d, candidate, undefined)];
    if (violations.length === 0 && d.name === 'Mesh') violations.push(...(await this.externalMeshRules(candidate)));
    if (violations.length > 0) throw new ValidationError(violations);
    const resource = await this.timed('create', d.name, () =>
      this.store.create({ type: d.name, mesh, name: input.name, labels: candidate.labels, spec: candidate.spec, status: candidate.status }),
    );
    if (d.name === 'Mesh') await this.runMeshHooks(resource, true);
    return resource;
  }

  async delete(type: string, mesh: string, name: string): Promise<void> {
    const d = this.descriptor(type);
    const key: ResourceKey = { type: d.name, mesh: d.scope === 'Global' ? '' : mesh, name };
    if (d.name === 'Mesh') {
      await this.deleteMesh(name);
      return;
    }
    await this.timed('delete', d.name, () => this.store.delete(key));
  }

  /** Mesh `default` on a standalone or unfederated zone CP, unless configured not to. */
  async ensureDefaultMesh(): Promise<void> {
    if (await this.meshExists('default')) return;
    try {
      await this.create({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} });
      this.logger.info({ mesh: 'default' }, 'created default mesh');
    } catch (err) {
      // Another replica sharing the database may have created it first.
      if (!(await this.meshExists('default'))) throw err;
    }
  }

  private async deleteMesh(name: string): Promise<void> {
    const key = { type: 'Mesh', mesh: '', name };
    const mesh = await this.store.get(key);
    if (!mesh) {
      await this.store.delete(key); // raises NotFoundError with the right key
      return;
    }
    if (!this.ctx.unsafeDelete && (await this.store.count('Dataplane', { mesh: name })) > 0) {
      throw new ValidationError([{ field: 'mesh', reason: 'unable to delete mesh, there are still some dataplanes attached' }]);
    }
    // Mesh-owned resources go with the mesh (Kuma does this with owner references).
    for (const d of allDescriptors()) {
      if (d.scope !== 'Mesh') continue;
      for (const r of await this.store.list(d.name, { mesh: name })) {
        await this.store.delete({ type: r.type, mesh: r.mesh, name: r.name }).catch(() => undefined);
      }
    }
    await this.timed('delete', 'Mesh', () => this.store.delete(key));
    this.logger.info({ mesh: name }, 'deleted mesh and its resources');
  }

  private prepare(d: ResourceDescriptor, input: ResourceInput, existing: Resource | undefined): Resource {
    const spec = d.applyDefaults ? d.applyDefaults(structuredClone(input.spec ?? {})) : (input.spec ?? {});
    const now = new Date().toISOString();
    const draft: Resource = {
      type: d.name,
      mesh: input.mesh,
      name: input.name,
      labels: { ...(input.labels ?? {}) },
      spec,
      status: input.status,
      creationTime: existing?.creationTime ?? now,
      modificationTime: now,
      version: existing?.version ?? 0,
    };
    draft.labels = computeLabels(draft, this.ctx);
    return draft;
  }

  /** Rules that need the stored state (the old version of the resource). */
  private crossResourceRules(d: ResourceDescriptor, r: Resource, existing: Resource | undefined): Violation[] {
    const out: Violation[] = [];
    if (d.name === 'Mesh') {
      if (!existing && r.name.length > MAX_MESH_NAME) out.push({ field: 'name', reason: `cannot be longer than ${MAX_MESH_NAME} characters` });
      const oldBackend = mtlsBackend(existing?.spec);
      const newBackend = mtlsBackend(r.spec);
      if (oldBackend && newBackend && oldBackend !== newBackend) {
        out.push({
          field: 'mtls.enabledBackend',
          reason: 'Changing CA when mTLS is enabled is forbidden. Disable mTLS first and then change the CA',
        });
      }
    }
    if (existing) {
      for (const key of IMMUTABLE_LABELS) {
        const was = existing.labels[key];
        if (was === undefined) continue;
        const now = r.labels[key];
        if (now === undefined) out.push({ field: `labels["${key}"]`, reason: `is immutable, cannot be removed (was "${was}")` });
        else if (now !== was) out.push({ field: `labels["${key}"]`, reason: `is immutable, cannot be changed from "${was}" to "${now}"` });
      }
    }
    return out;
  }

  private async runMeshHooks(mesh: Resource, created: boolean): Promise<void> {
    for (const hook of this.meshHooks) await hook(mesh, created);
  }

  private async externalMeshRules(mesh: Resource): Promise<Violation[]> {
    const out: Violation[] = [];
    for (const validate of this.meshValidators) out.push(...(await validate(mesh)));
    return out;
  }

  private async timed<T>(operation: string, type: string, fn: () => Promise<T>): Promise<T> {
    if (!this.metrics) return fn();
    const end = this.metrics.storeLatency.startTimer({ operation, resource_type: type });
    try {
      return await fn();
    } finally {
      end();
    }
  }
}

function mtlsBackend(spec: Record<string, unknown> | undefined): string {
  const mtls = spec?.['mtls'] as { enabledBackend?: string } | undefined;
  return mtls?.enabledBackend ?? '';
}
