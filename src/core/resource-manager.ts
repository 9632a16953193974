// The one place resources are written: defaults, computed labels, validation, cross-resource rules
// (mesh must exist, delete protection, immutable labels), then the store. REST, CLI (via REST),
// multi-zone sync and bootstrap all write through here.
//
// Who writes decides which rules apply (`WriteOptions.origin`):
//   'api'    a user through the REST API: the CP-mode scoping of core/scoping.ts (405 for kinds this CP
//            does not own, origin label rules on global / federated zones) and the label rules.
//   'system' the control plane itself (default mesh, default policies, CA secrets, insights,
//            bootstrap): no scoping; the default.
//   'sync'   multi-zone sync (src/multizone) writing what another CP owns:
//              manager.upsert(resource, { origin: 'sync' })   // create or replace
//              manager.delete(type, mesh, name, { origin: 'sync' })
//            Skips the scoping, the origin/zone label consistency rules and the immutable label
//            check, does not require the mesh to exist yet (kinds may arrive in any order), does not
//            refuse to delete a mesh with Dataplanes (the owner already deleted it), and does not run
//            mesh hooks/validators (default policies, CA generation: they come from global) unless
//            `runMeshHooks: true`, and does not check a Dataplane against its Mesh's constraints (the
//            zone that owns it already did). The caller sets the labels it wants stored (`kuma.io/origin`,
//            `kuma.io/zone`, `kuma.io/display-name`); computed labels (`kuma.io/mesh`, proxy labels)
//            are still added where absent. Schema and spec validation still run (a ValidationError
//            means the peer sent something this CP cannot use).
import type { Labels, Resource, ResourceKey, Violation } from '../api/resource.js';
import { ValidationError } from '../api/resource.js';
import { allDescriptors, descriptorByName, type ResourceDescriptor } from '../api/descriptor.js';
import { computeLabels, membershipViolations, validateResource, type DataplaneSpec, type MeshSpec } from '../api/index.js';
import type { ListOptions, ResourceStore } from '../store/store.js';
import type { Logger } from '../observability/logger.js';
import type { CpMetrics } from '../observability/metrics.js';
import { BadRequestError, MeshNotFoundError, MethodNotAllowedError } from './errors.js';
import { nameLengthViolations, originViolations, writeNotAllowed, type ScopeContext } from './scoping.js';

export interface ManagerContext {
  mode: 'standalone' | 'global' | 'zone';
  /** Zone name for zone CPs ('' otherwise). */
  zone: string;
  environment: 'universal' | 'kubernetes';
  /** Allow deleting a mesh that still has Dataplanes. */
  unsafeDelete: boolean;
  /** Zone CP connected to a global CP (zone mode + global address + zone name). */
  federated?: boolean;
  /** `apiServer.readOnly`: user writes are refused. */
  apiReadOnly?: boolean;
  disableOriginLabelValidation?: boolean;
}

/** Who is writing: a user over the API, the CP itself, or multi-zone sync (see the header). */
export type WriteOrigin = 'api' | 'system' | 'sync';

export interface WriteOptions {
  /** Default 'system'. */
  origin?: WriteOrigin;
  /** 'sync' only: run mesh validators and hooks (default policies, CA) for a synced Mesh. */
  runMeshHooks?: boolean;
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
  async upsert(input: ResourceInput, opts: WriteOptions = {}): Promise<UpsertResult> {
    const origin = opts.origin ?? 'system';
    const d = this.descriptor(input.type);
    this.checkScope(d, origin);
    const mesh = d.scope === 'Global' ? '' : input.mesh;
    if (d.scope === 'Mesh' && origin !== 'sync' && !(await this.meshExists(mesh))) throw new MeshNotFoundError(mesh);

    const existing = await this.store.get({ type: d.name, mesh, name: input.name });
    const candidate = this.prepare(d, { ...input, mesh }, existing);
    const violations = this.violations(d, input, candidate, existing, origin);
    const meshRules = d.name === 'Mesh' && (origin !== 'sync' || opts.runMeshHooks);
    if (violations.length === 0 && meshRules) violations.push(...(await this.externalMeshRules(candidate)));
    if (violations.length === 0 && d.name === 'Dataplane' && origin !== 'sync') violations.push(...(await this.membershipRules(candidate)));
    if (violations.length > 0) throw new ValidationError(violations);

    const req = { type: d.name, mesh, name: input.name, labels: candidate.labels, spec: candidate.spec, status: candidate.status };
    const resource = existing
      ? await this.timed('update', d.name, () => this.store.update({ ...req, version: existing.version }))
      : await this.timed('create', d.name, () => this.store.create(req));
    if (meshRules) await this.runMeshHooks(resource, !existing);
    return { created: !existing, resource, warnings: d.warnings?.(resource) ?? [] };
  }

  /** Create only: an existing resource is an AlreadyExistsError (store). */
  async create(input: ResourceInput, opts: WriteOptions = {}): Promise<Resource> {
    const origin = opts.origin ?? 'system';
    const d = this.descriptor(input.type);
    this.checkScope(d, origin);
    const mesh = d.scope === 'Global' ? '' : input.mesh;
    if (d.scope === 'Mesh' && origin !== 'sync' && !(await this.meshExists(mesh))) throw new MeshNotFoundError(mesh);
    const candidate = this.prepare(d, { ...input, mesh }, undefined);
    const violations = this.violations(d, input, candidate, undefined, origin);
    const meshRules = d.name === 'Mesh' && (origin !== 'sync' || opts.runMeshHooks);
    if (violations.length === 0 && meshRules) violations.push(...(await this.externalMeshRules(candidate)));
    if (violations.length === 0 && d.name === 'Dataplane' && origin !== 'sync') violations.push(...(await this.membershipRules(candidate)));
    if (violations.length > 0) throw new ValidationError(violations);
    const resource = await this.timed('create', d.name, () =>
      this.store.create({ type: d.name, mesh, name: input.name, labels: candidate.labels, spec: candidate.spec, status: candidate.status }),
    );
    if (meshRules) await this.runMeshHooks(resource, true);
    return resource;
  }

  /**
   * Delete (a mesh takes its resources with it). With origin 'api' the scoping applies: 405 for kinds
   * this CP does not own, and the stored origin label must be this CP's (global / federated zone).
   */
  async delete(type: string, mesh: string, name: string, opts: WriteOptions = {}): Promise<void> {
    const origin = opts.origin ?? 'system';
    const d = this.descriptor(type);
    this.checkScope(d, origin);
    const key: ResourceKey = { type: d.name, mesh: d.scope === 'Global' ? '' : mesh, name };
    if (origin === 'api') {
      const existing = await this.store.get(key);
      if (existing) {
        const violations = originViolations(existing.labels, d, this.scope(), '');
        if (violations.length > 0) throw new ValidationError(violations);
      }
    }
    if (d.name === 'Mesh') {
      await this.deleteMesh(name, origin === 'sync');
      return;
    }
    await this.timed('delete', d.name, () => this.store.delete(key));
  }

  /** The scoping context of this CP (core/scoping.ts). */
  scope(): ScopeContext {
    return {
      mode: this.ctx.mode,
      federated: this.ctx.federated,
      zone: this.ctx.zone,
      apiReadOnly: this.ctx.apiReadOnly,
      disableOriginLabelValidation: this.ctx.disableOriginLabelValidation,
    };
  }

  private checkScope(d: ResourceDescriptor, origin: WriteOrigin): void {
    if (origin !== 'api') return;
    const msg = writeNotAllowed(d, this.scope());
    if (msg) throw new MethodNotAllowedError(msg);
  }

  private violations(d: ResourceDescriptor, input: ResourceInput, candidate: Resource, existing: Resource | undefined, origin: WriteOrigin): Violation[] {
    // Origin rules look at the labels the user sent (computed labels would always pass); they apply
    // to user writes only, so the label validation below runs without them.
    const ctx = { ...this.ctx, disableOriginLabelValidation: true, synced: origin === 'sync' };
    const out: Violation[] = [];
    if (origin === 'api') {
      out.push(...nameLengthViolations(input.name, this.scope()));
      out.push(...originViolations(input.labels ?? {}, d, this.scope()));
    }
    out.push(...validateResource(candidate, ctx), ...this.crossResourceRules(d, candidate, origin === 'sync' ? undefined : existing, existing));
    return out;
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

  private async deleteMesh(name: string, force = false): Promise<void> {
    const key = { type: 'Mesh', mesh: '', name };
    const mesh = await this.store.get(key);
    if (!mesh) {
      await this.store.delete(key); // raises NotFoundError with the right key
      return;
    }
    if (!force && !this.ctx.unsafeDelete && (await this.store.count('Dataplane', { mesh: name })) > 0) {
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

  /**
   * Rules that need the stored state (the old version of the resource). `labelsWere` is the stored
   * version whose immutable labels must be kept (none for sync writes); `existing` the stored version.
   */
  private crossResourceRules(d: ResourceDescriptor, r: Resource, labelsWere: Resource | undefined, existing: Resource | undefined = labelsWere): Violation[] {
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
    if (labelsWere) {
      for (const key of IMMUTABLE_LABELS) {
        const was = labelsWere.labels[key];
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

  /**
   * The mesh's `constraints.dataplaneProxy` (api/membership.ts). Not for synced Dataplanes: their zone
   * already admitted them. On a zone CP every inbound counts as tagged `kuma.io/zone: <zone>`, as Kuma
   * tags them.
   */
  private async membershipRules(dp: Resource): Promise<Violation[]> {
    const mesh = await this.store.get({ type: 'Mesh', mesh: '', name: dp.mesh });
    if (!mesh) return [];
    const implicit: Record<string, string> = this.ctx.zone ? { 'kuma.io/zone': this.ctx.zone } : {};
    return membershipViolations(dp.mesh, mesh.spec as MeshSpec, dp.spec as DataplaneSpec, implicit);
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
